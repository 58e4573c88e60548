/**
 * Stage 1 on ingest threads (ingest-threads.ts) against stage 1 on the calling thread: the same
 * batches give byte-identical frames, the same dead letters, counters and watermarks, whatever
 * thread a partition lands on; state changes apply in order with the batches; idle markers that
 * could not be sent are said again; a thread that dies stops the runner.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { createLogger } from '../../src/core/logger.js';
import { IngestThreads, ingestThreadCount } from '../../src/runtime/ingest-threads.js';
import { createMetrics } from '../../src/runtime/metrics.js';
import { InThreadRepartitioner, type Repartitioner } from '../../src/runtime/repartitioner.js';
import { RepartitionStage, repartitionOptionsFor, type RepartitionCounters, type RepartitionOutput } from '../../src/runtime/repartition-stage.js';
import { simulate, DEFAULT_START } from '../../src/simulate/index.js';

const KEY = 'k'.repeat(32);
const INPUTS = [
  { topic: 'in.kong', format: 'kong' as const },
  { topic: 'in.okta', format: 'okta' as const },
  { topic: 'in.mixed', format: 'auto' as const },
];
const PARTITIONS = { byToken: 3, byIssuer: 2 };
const INPUT_PARTITIONS = INPUTS.flatMap((i) => [0, 1].map((p) => `${i.topic}/${p}`));

function configWith(idleSeconds: number) {
  return parseConfig({
    engine: { source_idle_seconds: idleSeconds },
    kafka: { brokers: ['127.0.0.1:1'], group_id: 'g', inputs: INPUTS },
  });
}

const zero = (): RepartitionCounters => ({ records_in: 0, records_invalid: 0, records_skipped: 0, events_implausible: 0 });

function inThread(idleSeconds: number) {
  const cfg = configWith(idleSeconds);
  const counters = zero();
  const metrics = createMetrics();
  const opts = repartitionOptionsFor(cfg, { ctx: { fingerprint: createFingerprinter({ key: KEY }) }, formats: new Map(INPUTS.map((i) => [i.topic, i.format])), metrics, counters });
  return { r: new InThreadRepartitioner(new RepartitionStage({ ...opts, partitions: PARTITIONS }), () => opts.enrich?.load()) as Repartitioner, counters, metrics };
}

const pools: IngestThreads[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function onThreads(idleSeconds: number, threads: number) {
  const cfg = configWith(idleSeconds);
  const counters = zero();
  const metrics = createMetrics();
  const fatal: Error[] = [];
  const pool = new IngestThreads({
    threads,
    init: { config: cfg, hmacKey: KEY, formats: INPUTS.map((i) => [i.topic, i.format]), partitions: PARTITIONS },
    inputPartitions: INPUT_PARTITIONS,
    metrics,
    counters,
    log: createLogger({ level: 'silent' }),
    onFatal: (e) => fatal.push(e),
  });
  pools.push(pool);
  return { r: pool as Repartitioner, pool, counters, metrics, fatal };
}

// simulated vendor records per format, and records that must become dead letters
const byFormat = new Map<string, unknown[]>();
for (const e of simulate({ seed: 11, start: DEFAULT_START, hours: 2, attacks: [] }).events) {
  const list = byFormat.get(e.format) ?? [];
  if (list.length < 60) list.push(e.record);
  byFormat.set(e.format, list);
}

const msg = (value: Buffer | null, offset: number): KafkaMessage => ({ key: Buffer.from(`key-${offset}`), value, offset: String(offset), timestamp: '0', attributes: 0, headers: {} }) as KafkaMessage;

function batchOf(records: unknown[], from: number, bad: boolean): KafkaMessage[] {
  const out = records.map((r, i) => msg(Buffer.from(JSON.stringify(r)), from + i));
  if (bad) {
    out.splice(3, 0, msg(Buffer.from('{"not json'), from + 1000));
    out.splice(7, 0, msg(Buffer.from(JSON.stringify({ hello: 'world' })), from + 1001));
    out.push(msg(null, from + 1002));
  }
  return out;
}

/** The batches of the scenario: per input partition two batches, the second one reading it to its end. */
function scenario(): { topic: string; partition: number; messages: KafkaMessage[]; lag: number }[] {
  const kong = byFormat.get('kong')!;
  const okta = byFormat.get('okta')!;
  const mixed = [...(byFormat.get('cloudtrail') ?? []).slice(0, 20), ...kong.slice(40, 50)];
  const out = [];
  for (const [topic, records] of [['in.kong', kong], ['in.okta', okta], ['in.mixed', mixed]] as const) {
    for (const partition of [0, 1]) {
      const half = records.slice(partition * 10, partition * 10 + 30);
      out.push({ topic, partition, messages: batchOf(half.slice(0, 15), 0, partition === 0), lag: 15 });
      out.push({ topic, partition, messages: batchOf(half.slice(15), 15, false), lag: 0 });
    }
  }
  return out;
}

/** An output with its frame bytes and dead letters in comparable form. */
function comparable(o: RepartitionOutput) {
  return {
    byToken: o.byToken.map((m) => [m.partition, (m.value as Buffer).toString('base64')]),
    byIssuer: o.byIssuer.map((m) => [m.partition, (m.value as Buffer).toString('base64')]),
    dead: o.dead.map((d) => ({ offset: d.offset, key: d.key?.toString(), value: d.value?.toString() ?? null, topic: d.topic, partition: d.partition, format: d.format, code: d.error.code, message: d.error.message })),
    events: o.events,
    caughtUp: o.caughtUp ?? false,
  };
}

async function run(r: Repartitioner, owned = INPUT_PARTITIONS) {
  await r.start();
  r.keepOnly(new Set(owned));
  r.owned(owned, 1_000);
  const outs = [];
  // all batches handed over before any answer is awaited, as the runner does
  const pending = scenario().map((b) => r.process(b.topic, b.partition, b.messages, b.lag));
  for (const p of pending) {
    const { out, watermark } = await p;
    outs.push({ ...comparable(out), watermark });
  }
  return outs;
}

describe('stage 1 on ingest threads', () => {
  it('gives byte-identical frames, the same dead letters, watermarks and counters as stage 1 on the main thread', async () => {
    const local = inThread(0);
    const expected = await run(local.r);
    expect(expected.some((o) => o.dead.length > 0)).toBe(true);
    expect(expected.filter((o) => o.caughtUp).length).toBe(INPUT_PARTITIONS.length);
    expect(local.counters.records_invalid).toBeGreaterThan(0);
    for (const threads of [1, 2]) {
      const t = onThreads(0, threads);
      expect(await run(t.r)).toEqual(expected);
      expect(t.counters).toEqual(local.counters);
      // the Prometheus series the main thread exports: the thread's tallies added to them
      expect(await t.metrics.registry.getSingleMetricAsString('tokenwatch_events_invalid_total')).toBe(await local.metrics.registry.getSingleMetricAsString('tokenwatch_events_invalid_total'));
      expect(await t.metrics.registry.getSingleMetricAsString('tokenwatch_events_in_total')).toBe(await local.metrics.registry.getSingleMetricAsString('tokenwatch_events_in_total'));
      expect(t.fatal).toEqual([]);
      // each thread's busy time: one figure per thread, and the threads did the batches' work
      const busy = t.r.busyMs();
      expect(busy).toHaveLength(threads);
      expect(busy.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    }
    expect(local.r.busyMs()).toEqual([]);
  });

  it('a reset sent after a batch applies after it, before the next: the partition starts over as on the main thread', async () => {
    const [first, second] = scenario().filter((b) => b.topic === 'in.kong' && b.partition === 1);
    const results: unknown[] = [];
    for (const r of [inThread(0).r, onThreads(0, 2).r]) {
      await r.start();
      r.owned(INPUT_PARTITIONS, 1_000);
      const a = r.process('in.kong', 1, first!.messages, 15);
      r.resetInput('in.kong/1', 2_000);
      const b = r.process('in.kong', 1, first!.messages, 15); // read again from the committed offset
      const c = r.process('in.kong', 1, second!.messages, 0);
      results.push([await a, await b, await c].map(({ out, watermark }) => ({ ...comparable(out), watermark })));
    }
    const [local, threaded] = results as ReturnType<typeof comparable>[][];
    expect(threaded).toEqual(local);
    // after the reset the same batch gives the same output again: its clock started over
    expect(local![1]).toEqual(local![0]);
  });

  it('idle markers: skipped inputs send none; markers that could not be sent are said again (notIdle), others only once', async () => {
    for (const r of [inThread(1).r, onThreads(1, 2).r]) {
      await r.start();
      r.owned(INPUT_PARTITIONS, 1_000);
      const batches = scenario().filter((b) => b.lag === 0 && b.partition === 0);
      for (const b of batches) await r.process(b.topic, b.partition, b.messages, 0);
      const later = Date.now() + 5_000;
      const first = await r.idleMarkers(later, 1_000, new Set(['in.okta/0']));
      expect([...first.keys()].sort()).toEqual(INPUT_PARTITIONS.filter((id) => id !== 'in.okta/0').sort());
      const kong = first.get('in.kong/0')!;
      expect(kong.idled).toContain('in.kong/0/kong');
      expect(kong.idled).toContain('in.kong/0/-'); // the partition's placeholder source (owned, RepartitionStage.owned)
      expect(kong.byToken.length).toBe(PARTITIONS.byToken * kong.idled!.length); // every task partition hears each source
      // sent: not again; the skipped one now comes
      const second = await r.idleMarkers(later, 1_000, new Set());
      expect([...second.keys()]).toEqual(['in.okta/0']);
      // kong's markers "could not be sent": said again at the next sweep
      r.notIdle(kong.idled!);
      const third = await r.idleMarkers(later, 1_000, new Set());
      expect([...third.keys()]).toEqual(['in.kong/0']);
      await r.close();
    }
  });

  it('a thread that dies fails its pending batches and stops the runner (onFatal); later batches fail at once', async () => {
    const t = onThreads(0, 2);
    await t.r.start();
    t.r.owned(INPUT_PARTITIONS, 1_000);
    const b = scenario()[0]!;
    const pending = Promise.allSettled([t.r.process(b.topic, b.partition, b.messages, b.lag)]);
    // the threads are killed from outside (an OOM, a native crash): the batch may have been answered just before
    const threads = (t.pool as unknown as { threads: { worker: { terminate(): Promise<number> } }[] }).threads;
    await Promise.all(threads.map((th) => th.worker.terminate()));
    const [settled] = await pending;
    if (settled!.status === 'rejected') expect(String(settled!.reason)).toMatch(/ingest thread exited/);
    expect(t.fatal.length).toBe(1);
    expect(t.fatal[0]!.message).toMatch(/ingest thread exited/);
    await expect(t.r.process(b.topic, b.partition, b.messages, b.lag)).rejects.toThrow(/ingest thread exited/);
  });

  it('kafka.ingest_threads auto: one less than the cores, at most 4; 0 on one core', () => {
    expect([1, 2, 3, 8, 64].map((c) => ingestThreadCount('auto', c))).toEqual([0, 1, 2, 4, 4]);
    expect(ingestThreadCount(0, 8)).toBe(0);
    expect(ingestThreadCount(3, 2)).toBe(3);
  });
});
