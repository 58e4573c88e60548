/**
 * Child process of `npm run bench:kafka`: runs one Kafka runtime instance (what `tokenwatch run`
 * runs) so its memory is its own and two of them can share the 2 cores like two deployments.
 *
 * IPC protocol (process.send / 'message'):
 *   parent → { type: 'start', config, store, concurrency }   raw config (parsed here)
 *   child  → { type: 'started' }, then { type: 'stats', ... } every 60 ms
 *   parent → { type: 'mark' }   restarts the event-loop delay histogram (the live load begins)
 *   parent → { type: 'stop' }
 *   child  → { type: 'final', ... } (heap after GC, live tokens, peak RSS), stops its runner, exits
 * Started with --expose-gc so heap figures are taken after a full collection.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/core/logger.js';
import { startKafkaRunner, type KafkaRunner, type RunnerStats } from '../src/runtime/kafka-runner.js';
import { peakRssBytes } from './process-cpu.js';

export interface WorkerStart {
  type: 'start';
  config: unknown;
  store: boolean;
  concurrency: number;
}

export interface WorkerStats {
  type: 'stats';
  stats: RunnerStats;
  /** Wall time (epoch ms) the runner was first seen with records read (polled every 20 ms). */
  firstRecordAt?: number;
  rssBytes: number;
  maxRssBytes: number;
  /** CPU time of the process so far (user + system, µs): all threads, GC included. */
  cpuMicros: number;
  /** Event-loop delay since the start or the last 'mark' (ms): how long ready work waited for the thread. */
  loopDelayMs: { p50: number; p99: number; max: number };
}

export interface WorkerFinal {
  type: 'final';
  stats: RunnerStats;
  /** Heap used after a full GC, before the runner started and after it processed everything. */
  heapBeforeBytes: number;
  heapAfterBytes: number;
  /** Live state keys per detector (token_replay holds one per live token). */
  stateKeys: Record<string, number>;
  maxRssBytes: number;
  /** CPU µs of the process from its first record to the stop (before the final GC). */
  cpuSinceFirstRecord?: number;
  /** Busy share of each runner thread (main, ingest-N) from the first record to the stop: event-loop active time over wall time. */
  busyShare?: Record<string, number>;
  /** Submit → commit of transaction parts (the runner's kafka_transaction sink histogram): median and p99 bucket bounds, seconds. */
  commitSeconds?: { count: number; p50: number; p99: number };
}

export type WorkerMessage = { type: 'started' } | { type: 'failed'; error: string } | WorkerStats | WorkerFinal;

const gc = (globalThis as { gc?: () => void }).gc;
const send = (m: WorkerMessage): void => void process.send?.(m);
const maxRss = (): number => peakRssBytes(); // not resourceUsage().maxRSS: process-cpu.ts

let runner: KafkaRunner | undefined;
let ticker: NodeJS.Timeout | undefined;
let heapBefore = 0;
let firstRecordAt: number | undefined;
let cpuAtFirstRecord: number | undefined;
let busyAtFirstRecord: Record<string, number> | undefined;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const loopDelayMs = (): WorkerStats['loopDelayMs'] => ({ p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 });
const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * TW_BENCH_SURVIVOR_PROF=dir: a sampling heap profile of the main thread that drops what young
 * collections freed — the allocation sites of objects that outlived a scavenge (the ones that
 * make scavenges copy and old-generation collections sweep). Written at stop, one file per runner.
 * TW_BENCH_ALLOC_PROF=dir: the same profile keeping everything allocated (where the garbage comes from).
 */
const allocDir = process.env.TW_BENCH_ALLOC_PROF;
const survivorDir = process.env.TW_BENCH_SURVIVOR_PROF ?? allocDir;
let survivorSession: Session | undefined;

async function start(m: WorkerStart): Promise<void> {
  if (survivorDir) {
    survivorSession = new Session();
    survivorSession.connect();
    await survivorSession.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: allocDir !== undefined });
  }
  const config = parseConfig(m.config);
  gc?.();
  heapBefore = process.memoryUsage().heapUsed;
  runner = await startKafkaRunner({
    config,
    logger: createLogger({ level: 'warn' }),
    http: false,
    ...(m.store ? {} : { store: false as const }),
    partitionsConsumedConcurrently: m.concurrency,
  });
  send({ type: 'started' });
  let ticks = 0;
  ticker = setInterval(() => {
    if (!runner) return;
    const stats = runner.stats();
    if (firstRecordAt === undefined && stats.records_in > 0) {
      firstRecordAt = Date.now();
      cpuAtFirstRecord = cpuMicros();
      busyAtFirstRecord = runner.threadBusyMs();
    }
    if (ticks++ % 3 === 0) send({ type: 'stats', stats, ...(firstRecordAt !== undefined && { firstRecordAt }), rssBytes: process.memoryUsage().rss, maxRssBytes: maxRss(), cpuMicros: cpuMicros(), loopDelayMs: loopDelayMs() });
  }, 20);
}

async function stop(): Promise<void> {
  if (ticker) clearInterval(ticker);
  if (!runner) process.exit(0);
  const cpuSinceFirstRecord = cpuAtFirstRecord === undefined ? undefined : cpuMicros() - cpuAtFirstRecord;
  const busyShare = busySince(runner);
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  const stateKeys: Record<string, number> = {};
  for (const v of (await runner.metrics.stateKeys.get()).values) {
    const d = String(v.labels.detector);
    stateKeys[d] = (stateKeys[d] ?? 0) + v.value;
  }
  if (survivorSession) {
    const { profile } = await survivorSession.post('HeapProfiler.stopSampling');
    writeFileSync(`${survivorDir}/${allocDir !== undefined ? 'allocations' : 'survivors'}.${process.pid}.heapprofile`, JSON.stringify(profile));
  }
  send({ type: 'final', stats: runner.stats(), heapBeforeBytes: heapBefore, heapAfterBytes: heapAfter, stateKeys, maxRssBytes: maxRss(), ...(cpuSinceFirstRecord !== undefined && { cpuSinceFirstRecord }), ...(busyShare && { busyShare }), commitSeconds: await commitQuantiles(runner) });
  await runner.stop();
  process.exit(0);
}

/** Each thread's busy time since the first record over the wall time since then. */
function busySince(r: KafkaRunner): Record<string, number> | undefined {
  if (busyAtFirstRecord === undefined || firstRecordAt === undefined) return undefined;
  const wallMs = Date.now() - firstRecordAt;
  if (wallMs <= 0) return undefined;
  const out: Record<string, number> = {};
  for (const [thread, ms] of Object.entries(r.threadBusyMs())) out[thread] = (ms - (busyAtFirstRecord[thread] ?? 0)) / wallMs;
  return out;
}

/** Upper bucket bounds holding the median and the 99th percentile of the kafka_transaction latencies. */
async function commitQuantiles(r: KafkaRunner): Promise<WorkerFinal['commitSeconds']> {
  const values = (await r.metrics.sinkLatency.get()).values.filter((v) => v.labels.sink === 'kafka_transaction' && v.metricName?.endsWith('_bucket'));
  const buckets = values.map((v) => ({ le: Number((v.labels as Record<string, string | number>).le), n: v.value })).sort((a, b) => a.le - b.le);
  const count = buckets.at(-1)?.n ?? 0;
  if (count === 0) return undefined;
  const at = (q: number): number => buckets.find((b) => b.n >= q * count)?.le ?? Infinity;
  return { count, p50: at(0.5), p99: at(0.99) };
}

process.on('message', (m: WorkerStart | { type: 'stop' } | { type: 'mark' }) => {
  if (m.type === 'mark') {
    loopDelay.reset();
    return;
  }
  const run = m.type === 'start' ? start(m) : stop();
  run.catch((err: unknown) => {
    send({ type: 'failed', error: (err as Error).stack ?? String(err) });
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
