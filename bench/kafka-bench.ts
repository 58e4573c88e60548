/**
 * Kafka runtime figures from one run (issue 8, item 8), on the same input topics:
 *   1. bare kafkajs consumer (eachBatch + JSON.parse of every value) in records/s, median of reps;
 *   2. `tokenwatch run` (all detectors, alerts to Kafka; ClickHouse with --store-url) in records/s,
 *      one runner in a child process; 3. their ratio;
 *   4. produce → alert p50/p99 at half the measured run rate with live event times (event time =
 *      wall clock at produce), a use-after-revocation pair injected every --inject-every s after
 *      --live-warmup-secs of background load (a fresh runner's first seconds: JIT, first transactions);
 *   5. peak RSS of the runner process and heap per live token (heap after GC, end − start, over
 *      token_replay's live keys);
 *   6. two runner processes in one group vs one.
 *
 *   npm run bench:kafka -- [--records 100000] [--partitions 6] [--concurrency 16] [--bare-reps 3]
 *     [--run-reps 2] [--two-reps 2] [--live-secs 40] [--live-warmup-secs 5] [--live-fraction 0.5 | --live-rate N] [--request-mix] [--inject-every 2] [--drain-secs 30]
 *     [--store-url URL] [--brokers 127.0.0.1:19092] [--hours 48] [--scale 1] [--flush-ms 100]
 *     [--kafka-json '{"fetch_max_bytes_per_partition":4194304}'] [--store-json '{"write_events":false}'] [--live-engine-json '{"source_idle_seconds":1}']
 *
 * Every runner phase has its own group, repartition, alert, dead-letter and changelog topics (a
 * second group reading the first one's repartition topics would count events twice); all read
 * the same input topics. Topics, groups and scratch databases are deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { createClient } from '@clickhouse/client';
import { simulate, ATTACK_NAMES, DEFAULT_START } from '../src/simulate/index.js';
import { bareConsumeRate } from './kafka-bench-bare.js';
import { groupLag } from '../src/runtime/kafka-runner.js';
import { BenchWorker, timeRunPhase, type PhaseResult } from './kafka-bench-workers.js';
import { percentile, preEncodeLive, produceLive, watchAlerts, type PreEncodedRecord } from './kafka-bench-live.js';
import { CpuWindow, localBrokerPid, localClickHousePid } from './process-cpu.js';
import { installNativeCrc32c } from '../src/runtime/kafkajs-crc32c.js';
import { installSinglePassProduce } from '../src/runtime/kafkajs-produce-encoder.js';
import { BrokerRequestMix, formatRequestMix, type RequestMix } from './broker-request-mix.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;
/** Busy share per runner thread, e.g. "main 97 %, ingest-0 55 %" (n/a when the worker had none). */
const busyText = (share: Record<string, number> | undefined): string =>
  share === undefined ? 'n/a' : Object.entries(share).map(([thread, v]) => `${thread} ${(v * 100).toFixed(0)} %`).join(', ');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      partitions: { type: 'string', default: '6' },
      concurrency: { type: 'string', default: '16' },
      'bare-reps': { type: 'string', default: '3' },
      'run-reps': { type: 'string', default: '2' },
      'two-reps': { type: 'string', default: '2' },
      'live-secs': { type: 'string', default: '40' },
      'inject-every': { type: 'string', default: '2' },
      'live-warmup-secs': { type: 'string', default: '5' },
      /** Live load as a share of the measured run rate (issue 8 asks for half). */
      'live-fraction': { type: 'string', default: '0.5' },
      /** A fixed live rate (records/s) instead of a fraction of the measured run rate: for paired comparisons. */
      'live-rate': { type: 'string' },
      /** Count the local broker's requests by API during the live load (its request logger on DEBUG: costs broker CPU). */
      'request-mix': { type: 'boolean', default: false },
      'drain-secs': { type: 'string', default: '30' },
      hours: { type: 'string', default: '48' },
      scale: { type: 'string', default: '1' },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092' },
      'store-url': { type: 'string' },
      'flush-ms': { type: 'string', default: '100' },
      /** Extra `kafka` config of every runner phase, as JSON (e.g. '{"fetch_max_bytes_per_partition":4194304}'). */
      'kafka-json': { type: 'string', default: '{}' },
      /** Extra `store` config, as JSON (e.g. '{"write_events":false}': the token-event rows' cost). */
      'store-json': { type: 'string', default: '{}' },
      /** Extra `engine` config of the live phase, as JSON (e.g. '{"source_idle_seconds":0.5}'). */
      'live-engine-json': { type: 'string', default: '{}' },
    },
  });
  const wanted = Number(values.records);
  const concurrency = Number(values.concurrency);
  const storeUrl = values['store-url'];
  const id = randomUUID().slice(0, 8);
  const p = `tw-bench-${id}`;
  const brokers = values.brokers.split(',');
  const out = (s: string): void => void process.stdout.write(s + '\n');

  const records: { topic: string; format: string; value: string }[] = [];
  const sim = simulate({ seed: 1, start: DEFAULT_START, hours: Number(values.hours), attacks: [...ATTACK_NAMES], scale: Number(values.scale) });
  for (const e of sim.events) {
    if (records.length >= wanted) break;
    records.push({ topic: `${p}.${e.format}`, format: e.format, value: JSON.stringify(e.record) });
  }
  const n = records.length; // fewer than asked when the simulation ends first (more --hours or --scale)
  const formats = [...new Set(records.map((r) => r.format))];
  const inputs = formats.map((f) => ({ topic: `${p}.${f}`, format: f }));
  const avgBytes = records.reduce((s, r) => s + r.value.length, 0) / records.length;

  const databases: string[] = [];
  const groups: string[] = [];
  /** Raw config of one runner phase: its own group and internal topics, the given inputs. */
  const phaseConfig = (tag: string, phaseInputs: typeof inputs, engine: Record<string, unknown>): { config: unknown; groupId: string; watched: string[]; alerts: string } => {
    const t = `${p}.${tag}`;
    const database = `tw_bench_${id}_${tag.replace(/\W/g, '_')}`;
    if (storeUrl) databases.push(database);
    groups.push(`${t}.group`);
    return {
      config: {
        engine,
        kafka: {
          brokers,
          group_id: `${t}.group`,
          inputs: phaseInputs,
          ...(JSON.parse(values['kafka-json']) as Record<string, unknown>),
          topics: { alerts: `${t}.alerts`, dead_letter: `${t}.dead-letter`, by_token: `${t}.by-token`, by_issuer: `${t}.by-issuer`, changelog: `${t}.changelog`, partitions: Number(values.partitions), replication_factor: 1 },
        },
        store: { ...(storeUrl && { url: storeUrl }), database, flush_interval_ms: Number(values['flush-ms']), ...(JSON.parse(values['store-json']) as Record<string, unknown>) },
        log: { level: 'warn' },
      },
      groupId: `${t}.group`,
      watched: [...phaseInputs.map((i) => i.topic), `${t}.by-token`, `${t}.by-issuer`],
      alerts: `${t}.alerts`,
    };
  };

  // The bench's own producer (input records, the live load) encodes as the runner does — native
  // CRC-32C, single-pass record batches — so the load generator takes less of the two cores. Both
  // change the produce path only: the bare consumer stays kafkajs' own.
  const producePath = `${installNativeCrc32c()} CRC-32C, ${installSinglePassProduce()} produce encoding`;
  const kafka = new Kafka({ clientId: 'tw-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const started = Date.now();
  try {
    await admin.createTopics({ topics: inputs.map((i) => ({ topic: i.topic, numPartitions: Number(values.partitions), replicationFactor: 1 })), waitForLeaders: true });
    const tp = performance.now();
    for (let i = 0; i < records.length; i += 2000) {
      const byTopic = new Map<string, { value: string }[]>();
      for (const r of records.slice(i, i + 2000)) {
        let list = byTopic.get(r.topic);
        if (!list) byTopic.set(r.topic, (list = []));
        list.push({ value: r.value });
      }
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
    const produceSecs = (performance.now() - tp) / 1000;
    out(`kafka runtime bench: ${fmt(n)} simulated records (${formats.join(', ')}; ${fmt(avgBytes)} B each on average), ${values.partitions} partitions/topic, ` +
      `store: ${storeUrl ?? 'none (alerts to Kafka only)'}; ${(await import('node:os')).availableParallelism()} cores`);
    out(`  produced in ${produceSecs.toFixed(1)} s (${fmt(n / produceSecs)} records/s; bench producer: ${producePath})`);

    // 1. bare consumer
    const brokerPid = localBrokerPid();
    // the ClickHouse server's CPU counts only when the runner writes to it
    const clickhousePid = storeUrl ? localClickHousePid() : undefined;
    /** CPU µs per input record, or n/a. */
    const perRecord = (micros: number | undefined, records: number): string => (micros === undefined || records === 0 ? 'n/a' : `${(micros / records).toFixed(0)} µs`);
    const bare: number[] = [];
    const bareCpu: { consumer: number; broker: number | undefined }[] = [];
    for (let r = 0; r < Number(values['bare-reps']); r++) {
      const g = `${p}.bare-${r}`;
      groups.push(g);
      const cpu = new CpuWindow(brokerPid);
      const res = await bareConsumeRate(kafka, g, inputs.map((i) => i.topic), n, concurrency);
      const used = cpu.stop();
      bare.push(res.recordsPerSec);
      bareCpu.push({ consumer: used.benchMicros / n, broker: used.brokerMicros === undefined ? undefined : used.brokerMicros / n });
      out(`  bare kafkajs consumer rep ${r + 1}: ${fmt(res.recordsPerSec)} records/s (${res.secs.toFixed(2)} s); CPU per record: consumer ${perRecord(used.benchMicros, n)} (join and leave included), broker ${perRecord(used.brokerMicros, n)}`);
    }

    // 2. run, one process
    const start = (config: unknown): { config: unknown; store: boolean; concurrency: number } => ({ config, store: storeUrl !== undefined, concurrency });
    const engine = { source_idle_seconds: 2 };
    const one: PhaseResult[] = [];
    const runBrokerCpu: number[] = [];
    const runClickHouseCpu: number[] = [];
    for (let r = 0; r < Number(values['run-reps']); r++) {
      const ph = phaseConfig(`run1-${r}`, inputs, engine);
      const cpu = new CpuWindow(brokerPid, clickhousePid);
      const res = await timeRunPhase(admin, ph.groupId, ph.watched, n, 1, start(ph.config));
      const { brokerMicros, clickhouseMicros } = cpu.stop();
      one.push(res);
      if (brokerMicros !== undefined) runBrokerCpu.push(brokerMicros / n);
      if (clickhouseMicros !== undefined) runClickHouseCpu.push(clickhouseMicros / n);
      const f = res.finals[0]!;
      out(`  run, 1 process, rep ${r + 1}: ${fmt(res.recordsPerSec)} records/s (${res.secs.toFixed(1)} s from the first record); ${fmt(f.stats.events_detected)} token events detected, ${f.stats.alerts} alerts, ` +
        `invalid ${f.stats.records_invalid}; CPU ${f.cpuSinceFirstRecord === undefined ? 'n/a' : (f.cpuSinceFirstRecord / n).toFixed(0)} µs per record (broker ${perRecord(brokerMicros, n)}, ClickHouse server ${perRecord(clickhouseMicros, n)}, over the phase); threads busy ${busyText(f.busyShare)}; peak RSS ${mib(f.maxRssBytes)}; heap after GC ${mib(f.heapBeforeBytes)} → ${mib(f.heapAfterBytes)}; live tokens (token_replay keys) ${fmt(f.stateKeys.token_replay ?? 0)}`);
    }

    // 6. run, two processes in one group
    const two: PhaseResult[] = [];
    for (let r = 0; r < Number(values['two-reps']); r++) {
      const ph = phaseConfig(`run2-${r}`, inputs, engine);
      const res = await timeRunPhase(admin, ph.groupId, ph.watched, n, 2, start(ph.config));
      two.push(res);
      const alerts = res.finals.reduce((s, f) => s + f.stats.alerts, 0);
      const detected = res.finals.reduce((s, f) => s + f.stats.events_detected, 0);
      out(`  run, 2 processes in one group, rep ${r + 1}: ${fmt(res.recordsPerSec)} records/s (${res.secs.toFixed(1)} s from the first record, the second member's join and rebalance included); ` +
        `${res.steadyRecordsPerSec ? fmt(res.steadyRecordsPerSec) : 'n/a'} records/s once both had partitions; ${fmt(detected)} token events detected, ${alerts} alerts; peak RSS ${res.finals.map((f) => mib(f.maxRssBytes)).join(' + ')}`);
    }

    // 4. live latency at half the measured run rate (or --live-fraction of it)
    const runRate = median(one.map((r) => r.recordsPerSec));
    const liveFraction = Number(values['live-fraction']);
    const liveRate = values['live-rate'] !== undefined ? Number(values['live-rate']) : Math.round(runRate * liveFraction);
    const share = values['live-rate'] !== undefined ? 'fixed by --live-rate' : liveFraction === 0.5 ? 'half the run rate' : `${liveFraction} × the run rate`;
    const liveSecs = Number(values['live-secs']);
    const liveInputs = inputs.map((i) => ({ topic: `${p}.live.${i.format}`, format: i.format }));
    const ctTopic = liveInputs.find((i) => i.format === 'cloudtrail')?.topic;
    if (!ctTopic) throw new Error('bench: the simulated records hold no CloudTrail, needed for the injected attack');
    await admin.createTopics({ topics: liveInputs.map((i) => ({ topic: i.topic, numPartitions: Number(values.partitions), replicationFactor: 1 })), waitForLeaders: true });
    // background only (no simulated attacks: compressed into seconds they would not be the attacks
    // they are), serialized before the runner starts (preEncodeLive: the load then costs the bench a
    // byte write per record), event times written at produce
    const liveSim = simulate({ seed: 2, start: Date.now() - 60_000, hours: Math.max(Number(values.hours), 24 * 30), attacks: [], scale: Number(values.scale) });
    const liveNeeded = Math.ceil(liveRate * (Number(values['live-warmup-secs']) + liveSecs) * 1.05) + 1_000;
    const liveRecords: PreEncodedRecord[] = [];
    for (const e of liveSim.events) {
      if (liveRecords.length >= liveNeeded) break;
      liveRecords.push(preEncodeLive(`${p}.live.${e.format}`, e.format, e.record));
    }
    if (liveRecords.length < liveNeeded) throw new Error(`bench: the live simulation holds ${liveRecords.length} records, ${liveNeeded} needed (raise --hours)`);
    const live = liveRecords[Symbol.iterator]();
    const ph = phaseConfig('live', liveInputs, JSON.parse(values['live-engine-json']) as Record<string, unknown>);
    const worker = new BenchWorker(start(ph.config));
    let lat: { all: number[]; injected: number[]; inOrder: number[]; toProduced: number[]; duringLoad: number; injectedCount: number; produced: number; secs: number; kinds: Map<string, number>; lagAtLoadEnd: number };
    let liveFinalRss = 0;
    let liveCpuPerRecord: number | undefined;
    let requestMix: RequestMix | undefined;
    let liveLoad: { brokerPerRecord: number | undefined; clickhousePerRecord: number | undefined; benchPerRecord: number; loopDelayMs: { p50: number; p99: number; max: number } | undefined; transactions: { committed: number; aborted: number; retried: number } | undefined } | undefined;
    let liveCommit: { count: number; p50: number; p99: number } | undefined;
    try {
      await worker.ready();
      for (const t0 = Date.now(); (worker.latest?.stats.assigned_partitions ?? 0) === 0; ) {
        if (Date.now() - t0 > 60_000) throw new Error('bench: live runner did not join its group in 60 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const watchGroup = `${p}.live.alert-watch`;
      groups.push(watchGroup);
      const watch = await watchAlerts(kafka, watchGroup, ph.alerts);
      const revokeLeadMs = 160_000;
      worker.mark();
      await new Promise((r) => setTimeout(r, 100)); // a stats message after the mark
      const before = worker.latest;
      const mixing = values['request-mix'] && brokerPid !== undefined ? await BrokerRequestMix.start(brokers[0]!) : undefined;
      const cpu = new CpuWindow(brokerPid, clickhousePid);
      const load = await produceLive(producer, live, ctTopic, { ratePerSec: liveRate, seconds: liveSecs, warmupSecs: Number(values['live-warmup-secs']), injectEverySecs: Number(values['inject-every']), revokeLeadMs });
      // the produce time of an injected pair an alert belongs to: its last evidence is the use (dated
      // at produce) or, when the revocation was ordered after the use and judged it on arrival
      // (token_replay's late-revocation check), the revocation (dated revokeLeadMs earlier)
      const producedAt = (a: { time: number }): number | undefined =>
        load.injected.has(a.time) ? a.time : load.injected.has(a.time + revokeLeadMs) ? a.time + revokeLeadMs : undefined;
      const loadCpu = cpu.stop();
      if (mixing) requestMix = await mixing.stop('tokenwatch');
      const lagAtLoadEnd = await groupLag(admin, ph.groupId, ph.watched);
      const after = worker.latest;
      // the live path's cost: CPU over the records the runner read while the load ran
      if (before && after && after.stats.records_in > before.stats.records_in) liveCpuPerRecord = (after.cpuMicros - before.cpuMicros) / (after.stats.records_in - before.stats.records_in);
      const transactions = before && after ? { committed: after.stats.transactions - before.stats.transactions, aborted: after.stats.transactions_aborted - before.stats.transactions_aborted, retried: after.stats.transactions_retried - before.stats.transactions_retried } : undefined;
      liveLoad = { brokerPerRecord: loadCpu.brokerMicros === undefined ? undefined : loadCpu.brokerMicros / load.produced, clickhousePerRecord: loadCpu.clickhouseMicros === undefined ? undefined : loadCpu.clickhouseMicros / load.produced, benchPerRecord: loadCpu.benchMicros / load.produced, loopDelayMs: after?.loopDelayMs, transactions };
      const drainUntil = Date.now() + Number(values['drain-secs']) * 1000;
      while (Date.now() < drainUntil && watch.arrivals.filter((a) => producedAt(a) !== undefined).length < load.injected.size) await new Promise((r) => setTimeout(r, 200));
      await watch.stop();
      const kinds = new Map<string, number>();
      for (const a of watch.arrivals) kinds.set(`${a.detector}/${a.kind}`, (kinds.get(`${a.detector}/${a.kind}`) ?? 0) + 1);
      const inj = watch.arrivals.flatMap((a) => {
        const at = producedAt(a);
        return at === undefined ? [] : [{ arrival: a.arrival, producedAt: a.producedAt, at }];
      });
      lat = {
        all: watch.arrivals.map((a) => a.arrival - (producedAt(a) ?? a.time)).sort((a, b) => a - b),
        injected: inj.map((a) => a.arrival - a.at).sort((a, b) => a - b),
        inOrder: [...inj].sort((a, b) => a.at - b.at).map((a) => a.arrival - a.at),
        toProduced: inj.map((a) => a.producedAt - a.at).sort((a, b) => a - b),
        duringLoad: inj.filter((a) => a.arrival <= load.loadEnd).length,
        injectedCount: load.injected.size,
        produced: load.produced,
        secs: load.secs,
        kinds,
        lagAtLoadEnd,
      };
    } finally {
      const final = await worker.stop().catch(() => undefined);
      liveFinalRss = final?.maxRssBytes ?? 0;
      if (final?.commitSeconds) liveCommit = final.commitSeconds;
    }
    const ms = (v: number | undefined): string => (v === undefined ? 'n/a' : fmt(v));
    out(`  live: ${fmt(lat.produced)} background records at ${fmt(lat.produced / lat.secs)} records/s for ${lat.secs.toFixed(0)} s (target ${fmt(liveRate)} = ${share}; runner CPU ${liveCpuPerRecord === undefined ? 'n/a' : liveCpuPerRecord.toFixed(0)} µs per record read meanwhile), ` +
      `${lat.injectedCount} use-after-revocation pairs injected; group lag when the load stopped ${fmt(lat.lagAtLoadEnd)} records; alerts on the topic: ${[...lat.kinds].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; live runner peak RSS ${mib(liveFinalRss)}`);
    if (liveLoad) {
      const d = liveLoad.loopDelayMs;
      out(`  live: CPU per produced record while the load ran: broker ${liveLoad.brokerPerRecord === undefined ? 'n/a' : `${liveLoad.brokerPerRecord.toFixed(0)} µs`}, ClickHouse server ${liveLoad.clickhousePerRecord === undefined ? 'n/a' : `${liveLoad.clickhousePerRecord.toFixed(0)} µs`}, bench producer and alert watcher ${liveLoad.benchPerRecord.toFixed(0)} µs; ` +
        `runner event-loop delay p50 / p99 / max ${d ? `${d.p50.toFixed(1)} / ${d.p99.toFixed(1)} / ${d.max.toFixed(0)} ms` : 'n/a'}`);
      const t = liveLoad.transactions;
      if (t) out(`  live: Kafka transactions while the load ran: ${fmt(t.committed)} committed (${fmt(t.committed / lat.secs)} a second), ${fmt(t.aborted)} aborted, ${fmt(t.retried)} retried after CONCURRENT_TRANSACTIONS`);
    }
    if (requestMix) out(`  live: broker requests a second by API (runner / broker itself / bench; ${requestMix.seconds.toFixed(0)} s, request logging on): ${formatRequestMix(requestMix).join('; ')}`);
    else if (values['request-mix']) out('  live: --request-mix needs the local broker of scripts/kafka/start.sh: not counted');
    if (liveCommit) out(`  live: ${fmt(liveCommit.count)} transaction parts committed, submit → commit p50 ≤ ${liveCommit.p50 * 1000} ms, p99 ≤ ${liveCommit.p99 * 1000} ms (histogram buckets)`);
    out(`  live: ${lat.injected.length}/${lat.injectedCount} injected attacks alerted (${lat.duringLoad} while the load ran, the rest after it stopped and the idle flush released the reorder buffer); ` +
      `produce → alert p50 ${ms(percentile(lat.injected, 0.5))} ms, p99 ${ms(percentile(lat.injected, 0.99))} ms ` +
      `(of which produce → the alert produced by stage 2, before its transaction commits: p50 ${ms(percentile(lat.toProduced, 0.5))} ms, p99 ${ms(percentile(lat.toProduced, 0.99))} ms); all ${lat.all.length} alerts p50 ${ms(percentile(lat.all, 0.5))} ms, p99 ${ms(percentile(lat.all, 0.99))} ms`);
    // where the slow ones fall: the first seconds of a fresh process (JIT, first transactions) or throughout
    out(`  live: produce → alert of each injected attack, in injection order (ms): ${lat.inOrder.map((v) => ms(v)).join(' · ')}`);

    // summary
    const bareMed = median(bare);
    const twoMed = median(two.map((r) => r.recordsPerSec));
    const twoSteady = two.map((r) => r.steadyRecordsPerSec).filter((v): v is number => v !== undefined);
    const oneSteady = one.map((r) => r.steadyRecordsPerSec ?? r.recordsPerSec);
    const peakRss = Math.max(...one.map((r) => r.finals[0]!.maxRssBytes));
    const perToken = one.map((r) => {
      const f = r.finals[0]!;
      const tokens = f.stateKeys.token_replay ?? 0;
      return tokens > 0 ? (f.heapAfterBytes - f.heapBeforeBytes) / tokens : NaN;
    });
    const reps = (xs: number[]): string => (xs.length > 1 ? ` (reps: ${xs.map(fmt).join(' · ')})` : '');
    out('');
    out(`| figure | value |`);
    out(`|---|---|`);
    out(`| bare kafkajs consumer (eachBatch + JSON.parse), ${fmt(n)} records | median **${fmt(bareMed)} records/s**${reps(bare)} |`);
    out(`| \`run\`, all detectors, alerts to Kafka${storeUrl ? ' + ClickHouse' : ''}, 1 process | median **${fmt(runRate)} records/s**${reps(one.map((r) => r.recordsPerSec))} |`);
    out(`| ratio run / bare | **${(runRate / bareMed).toFixed(2)}×** |`);
    const runCpu = one.map((r) => r.finals[0]!.cpuSinceFirstRecord).filter((v): v is number => v !== undefined).map((v) => v / n);
    const bareBroker = bareCpu.map((c) => c.broker).filter((v): v is number => v !== undefined);
    out(`| broker CPU per input record: bare / \`run\` / live phase | ${bareBroker.length > 0 ? `median ${median(bareBroker).toFixed(0)} µs` : 'n/a'} / ${runBrokerCpu.length > 0 ? `median ${median(runBrokerCpu).toFixed(0)} µs` : 'n/a'} / ${liveLoad?.brokerPerRecord === undefined ? 'n/a' : `${liveLoad.brokerPerRecord.toFixed(0)} µs`} |`);
    const busyMedian: Record<string, number> = {};
    for (const thread of Object.keys(one[0]?.finals[0]?.busyShare ?? {})) {
      const shares = one.map((r) => r.finals[0]!.busyShare?.[thread]).filter((v): v is number => v !== undefined);
      if (shares.length > 0) busyMedian[thread] = median(shares);
    }
    out(`| runner threads busy over the \`run\` phase (event-loop active time / wall time, first record to stop) | ${busyText(Object.keys(busyMedian).length > 0 ? busyMedian : undefined)} |`);
    out(`| ClickHouse server CPU per input record: \`run\` / live phase | ${runClickHouseCpu.length > 0 ? `median ${median(runClickHouseCpu).toFixed(0)} µs` : 'n/a'} / ${liveLoad?.clickhousePerRecord === undefined ? 'n/a' : `${liveLoad.clickhousePerRecord.toFixed(0)} µs`} |`);
    out(`| runner CPU per input record (all threads, GC included): \`run\` phase / live phase | ${runCpu.length > 0 ? `median **${median(runCpu).toFixed(0)} µs**` : 'n/a'} / **${liveCpuPerRecord === undefined ? 'n/a' : liveCpuPerRecord.toFixed(0)} µs** |`);
    out(`| two \`run\` processes in one group / one (${(await import('node:os')).availableParallelism()} cores) | **${(twoMed / runRate).toFixed(2)}×** (${fmt(twoMed)} records/s, the second join and rebalance included)` +
      `${twoSteady.length > 0 ? `; **${(median(twoSteady) / median(oneSteady)).toFixed(2)}×** once both had partitions` : ''} |`);
    out(`| produce → alert, live event times, ${fmt(lat.produced / lat.secs)} records/s for ${lat.secs.toFixed(0)} s (attacks after a ${values['live-warmup-secs']} s warm-up), p50 / p99 | **${ms(percentile(lat.injected, 0.5))} / ${ms(percentile(lat.injected, 0.99))} ms** over ${lat.injected.length} of ${lat.injectedCount} injected attacks (${lat.duringLoad} alerted while the load ran; group lag at load end ${fmt(lat.lagAtLoadEnd)}) |`);
    out(`| peak RSS of the runner process | **${mib(peakRss)}** |`);
    const tokens = one[0]?.finals[0]?.stateKeys.token_replay ?? 0;
    out(`| heap per live token: heap after GC, end − start, over token_replay's ${fmt(tokens)} live keys | **${fmt(median(perToken))} bytes** (fixed runtime heap included: an upper bound, meaningful only with many tokens) |`);
    out(`| peak RSS of the live-load runner (${lat.secs.toFixed(0)} s of load, warm-up included) | **${mib(liveFinalRss)}** |`);
    out(`\n  total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await producer.disconnect().catch(() => {});
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${p}.`));
    await admin.deleteTopics({ topics: mine }).catch(() => {});
    await admin.deleteGroups(groups).catch(() => {});
    await admin.disconnect();
    if (storeUrl && databases.length > 0) {
      const ch = createClient({ url: storeUrl });
      for (const db of databases) await ch.command({ query: `DROP DATABASE IF EXISTS ${db}` }).catch(() => {});
      await ch.close();
    }
  }
}

main().catch((err) => {
  process.stderr.write(`kafka bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
