/**
 * Kafka runtime throughput: produce N simulated vendor records (CloudTrail, Okta, Kong with all
 * attacks) to fresh input topics, then run the runtime in-process until the consumer group has
 * committed everything on the input and repartition topics; print records/s and token events/s.
 *
 *   npm run bench:kafka -- [--records 20000] [--instances 1] [--partitions 6] [--store-url URL]
 *                          [--brokers 127.0.0.1:19092] [--hours 8] [--scale 0.3] [--concurrency 6] [--flush-ms 100]
 *
 * Without --store-url, alerts go to Kafka only (no ClickHouse); with it, alerts, inventory and
 * events are written to a scratch database that is dropped afterwards. Topics and the consumer
 * group are deleted afterwards too.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { createClient } from '@clickhouse/client';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/core/logger.js';
import { groupLag, startKafkaRunner, type KafkaRunner } from '../src/runtime/kafka-runner.js';
import { ensureTopics } from '../src/runtime/topics.js';
import { simulate, ATTACK_NAMES, DEFAULT_START } from '../src/simulate/index.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '20000' },
      instances: { type: 'string', default: '1' },
      partitions: { type: 'string', default: '6' },
      concurrency: { type: 'string', default: '6' },
      hours: { type: 'string', default: '8' },
      scale: { type: 'string', default: '0.3' },
      brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092' },
      'store-url': { type: 'string' },
      'flush-ms': { type: 'string', default: '100' },
    },
  });
  const n = Number(values.records);
  const instances = Number(values.instances);
  const id = randomUUID().slice(0, 8);
  const p = `tw-bench-${id}`;
  const brokers = values.brokers.split(',');

  const records: { topic: string; value: string }[] = [];
  const sim = simulate({ seed: 1, start: DEFAULT_START, hours: Number(values.hours), attacks: [...ATTACK_NAMES], scale: Number(values.scale) });
  for (const e of sim.events) {
    if (records.length >= n) break;
    records.push({ topic: `${p}.${e.format}`, value: JSON.stringify(e.record) });
  }
  const formats = [...new Set(records.map((r) => r.topic.slice(p.length + 1)))];
  const config = parseConfig({
    engine: { idle_flush_seconds: 2 },
    kafka: {
      brokers,
      group_id: `${p}.group`,
      inputs: formats.map((f) => ({ topic: `${p}.${f}`, format: f })),
      topics: {
        alerts: `${p}.alerts`,
        dead_letter: `${p}.dead-letter`,
        by_token: `${p}.by-token`,
        by_issuer: `${p}.by-issuer`,
        partitions: Number(values.partitions),
        replication_factor: 1,
      },
    },
    store: { ...(values['store-url'] && { url: values['store-url'] }), database: `tw_bench_${id}`, flush_interval_ms: Number(values['flush-ms']) },
    log: { level: 'warn' },
  });
  const k = config.kafka!;
  const kafka = new Kafka({ clientId: 'tw-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const runners: KafkaRunner[] = [];
  const allTopics = [...k.inputs.map((i) => i.topic), k.topics.alerts, k.topics.dead_letter, k.topics.by_token, k.topics.by_issuer];
  try {
    await ensureTopics(admin, k);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const tp = performance.now();
    for (let i = 0; i < records.length; i += 2000) {
      const chunk = records.slice(i, i + 2000);
      const byTopic = new Map<string, { value: string }[]>();
      for (const r of chunk) byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), { value: r.value }]);
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
    await producer.disconnect();
    const produceSecs = (performance.now() - tp) / 1000;

    const log = createLogger({ level: 'warn' });
    const t0 = performance.now();
    for (let i = 0; i < instances; i++) {
      runners.push(await startKafkaRunner({ config, logger: log, http: false, ...(values['store-url'] ? {} : { store: false as const }), partitionsConsumedConcurrently: Number(values.concurrency) }));
    }
    const watched = [...k.inputs.map((i) => i.topic), k.topics.by_token, k.topics.by_issuer];
    let tFirst: number | undefined;
    for (;;) {
      const recordsIn = runners.reduce((s, r) => s + r.stats().records_in, 0);
      if (tFirst === undefined && recordsIn > 0) tFirst = performance.now();
      if (recordsIn >= records.length && (await groupLag(admin, k.group_id, watched)) === 0) break;
      if (performance.now() - t0 > 600_000) throw new Error('bench: not done after 10 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
    const tEnd = performance.now();
    const stats = runners.map((r) => r.stats());
    const sum = (f: (s: (typeof stats)[number]) => number): number => stats.reduce((a, s) => a + f(s), 0);
    const secs = (tEnd - (tFirst ?? t0)) / 1000;
    const lines = [
      `kafka runtime bench: ${records.length} records (${formats.join(', ')}), ${instances} instance(s), ${k.topics.partitions} partitions/topic, store: ${values['store-url'] ?? 'none (alerts to Kafka only)'}`,
      `  produced in ${produceSecs.toFixed(1)} s (${Math.round(records.length / produceSecs)} records/s)`,
      `  consumed + detected + committed in ${secs.toFixed(1)} s from the first batch (${((tEnd - t0) / 1000).toFixed(1)} s including start and group join)`,
      `  ${Math.round(records.length / secs)} records/s in; ${sum((s) => s.events_detected)} repartitioned token events detected (${Math.round(sum((s) => s.events_detected) / secs)} events/s); invalid ${sum((s) => s.records_invalid)}; alerts ${sum((s) => s.alerts)}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    for (const r of runners) await r.stop();
    await admin.deleteTopics({ topics: allTopics }).catch(() => {});
    await admin.deleteGroups([k.group_id]).catch(() => {});
    await admin.disconnect();
    if (values['store-url']) {
      const ch = createClient({ url: values['store-url'] });
      await ch.command({ query: `DROP DATABASE IF EXISTS ${config.store.database}` }).catch(() => {});
      await ch.close();
    }
  }
}

main().catch((err) => {
  process.stderr.write(`kafka bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
