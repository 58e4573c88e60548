/**
 * Stage 1 on worker threads (`kafka.ingest_threads`): decode, validate, normalize, enrich, encode
 * and frame — about a third of the runner's CPU per record — leave the main thread, which keeps
 * the Kafka client, the transactions and stage 2. Like Kafka Streams' stream threads, each input
 * partition belongs to one thread (round-robin over the group's input partitions), so its stage-1
 * state (plausible-time window, source clocks) lives in one place and its batches are processed in
 * the order they were read; state changes are messages queued behind the batches sent before them.
 *
 * A thread that dies takes the runner with it (`onFatal`): its partitions' stage-1 state is gone
 * mid-stream, and the committed offsets and changelogs are the recovery point, as after kill -9.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { KafkaMessage } from 'kafkajs';
import { TokenwatchError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { setEnrichmentVersions } from '../enrich/provenance.js';
import { applyTally } from './ingest-tally.js';
import { deserializeError, packValues, unpackOutput, type FromThread, type IngestThreadInit, type PackedOutput, type ToThread } from './ingest-thread-protocol.js';
import type { Repartitioner, RepartitionResult } from './repartitioner.js';
import { stringPartition, type IngestMetrics, type RepartitionCounters, type RepartitionOutput } from './repartition-stage.js';

export interface IngestThreadsOptions {
  threads: number;
  init: IngestThreadInit;
  /** Every input partition (`topic/partition`) of the group, in a stable order: threads take them round-robin. */
  inputPartitions: readonly string[];
  metrics: IngestMetrics;
  counters: RepartitionCounters;
  log: Logger;
  /** A thread died or failed a request: the runner cannot go on. */
  onFatal: (error: Error) => void;
}

/** `kafka.ingest_threads` resolved: auto is one less than the cores (the main thread keeps one), at most 4. */
export function ingestThreadCount(setting: number | 'auto', cores = availableParallelism()): number {
  return setting === 'auto' ? Math.max(0, Math.min(4, cores - 1)) : setting;
}

interface Pending {
  resolve: (m: FromThread) => void;
  reject: (e: Error) => void;
}

/**
 * A worker running the thread module next to this one: compiled JavaScript, or its TypeScript
 * through tsx's loader (tests, `tsx src/...`), which a worker registers for itself.
 */
function startThread(workerData: IngestThreadInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./ingest-thread.js', import.meta.url), { workerData });
  const entry = new URL('./ingest-thread.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

class IngestThread {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  readonly ready: Promise<void>;
  exited = false;

  constructor(init: IngestThreadInit, onMessage: (m: FromThread) => void, onGone: (e: Error) => void) {
    this.worker = startThread(init);
    this.ready = new Promise((resolve, reject) => {
      const first = (m: FromThread): void => {
        if (m.op === 'ready') {
          setEnrichmentVersions(m.enrichment);
          resolve();
        } else if (m.op === 'init-failed') reject(deserializeError(m.error));
        this.worker.off('message', first);
        this.worker.on('message', onMessage);
      };
      this.worker.on('message', first);
      this.worker.once('error', (e) => reject(e));
      this.worker.once('exit', (code) => reject(new TokenwatchError('source_failed', `ingest thread exited with code ${code} while starting`)));
    });
    this.ready.catch(() => undefined);
    this.worker.on('error', (e) => onGone(e));
    this.worker.on('exit', (code) => {
      this.exited = true;
      onGone(new TokenwatchError('source_failed', `ingest thread exited with code ${code}`));
    });
  }

  request(m: ToThread & { id: number }, transfer: ArrayBuffer[]): Promise<FromThread> {
    return new Promise((resolve, reject) => {
      this.pending.set(m.id, { resolve, reject });
      this.worker.postMessage(m, transfer);
    });
  }

  post(m: ToThread): void {
    this.worker.postMessage(m);
  }
}

export class IngestThreads implements Repartitioner {
  private readonly threads: IngestThread[] = [];
  private readonly threadIndex = new Map<string, number>();
  private nextId = 1;
  private failed: Error | undefined;
  private closing = false;

  constructor(private readonly opts: IngestThreadsOptions) {
    if (opts.threads < 1) throw new TokenwatchError('config_invalid', `ingest threads: ${opts.threads} (at least 1; 0 means stage 1 on the main thread, not this class)`);
    opts.inputPartitions.forEach((id, i) => this.threadIndex.set(id, i % opts.threads));
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.opts.threads; i++) {
      const t: IngestThread = new IngestThread(this.opts.init, (m) => this.onMessage(t, m), (e) => this.gone(t, e));
      this.threads.push(t);
    }
    await Promise.all(this.threads.map((t) => t.ready));
  }

  private threadOf(input: string): IngestThread {
    const i = this.threadIndex.get(input) ?? stringPartition(input, this.threads.length);
    return this.threads[i]!;
  }

  private onMessage(t: IngestThread, m: FromThread): void {
    if (m.op === 'ready' || m.op === 'init-failed') return;
    const p = t.pending.get(m.id);
    if (!p) return;
    t.pending.delete(m.id);
    if (m.op === 'failed') {
      const e = deserializeError(m.error);
      p.reject(e);
      this.fail(e);
    } else p.resolve(m);
  }

  /** A thread's error or exit: everything it held is lost. */
  private gone(t: IngestThread, e: Error): void {
    if (this.closing) return;
    for (const p of t.pending.values()) p.reject(e);
    t.pending.clear();
    this.fail(e);
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    this.opts.log.error({ err: { message: e.message } }, 'ingest thread failed: the runner stops');
    this.opts.onFatal(e);
  }

  /** Not async: nothing of `messages` (slices of a whole fetch response) stays referenced once the batch is handed over. */
  process(topic: string, partition: number, messages: readonly KafkaMessage[], lag: number): Promise<RepartitionResult> {
    if (this.failed) return Promise.reject(this.failed);
    const { values, lengths, keyLengths } = packValues(messages);
    const offsets = messages.map((m) => m.offset);
    const id = this.nextId++;
    return this.threadOf(`${topic}/${partition}`)
      .request({ op: 'process', id, topic, partition, lag, values, lengths, keyLengths }, [values])
      .then((reply) => {
        if (reply.op !== 'processed') throw new TokenwatchError('source_failed', `ingest thread: unexpected reply ${reply.op}`);
        applyTally(reply.tally, this.opts.metrics, this.opts.counters);
        return { out: unpackOutput(reply.out, { topic, partition, offsets }), watermark: reply.watermark };
      });
  }

  owned(inputs: readonly string[], now: number): void {
    for (const [t, ids] of this.byThread(inputs, (id) => id)) t.post({ op: 'owned', inputs: ids, now });
  }

  /** Ids grouped by the thread owning their input partition (`inputOf`: the id's `topic/partition`). */
  private byThread(ids: readonly string[], inputOf: (id: string) => string): Map<IngestThread, string[]> {
    const out = new Map<IngestThread, string[]>();
    for (const id of ids) {
      const t = this.threadOf(inputOf(id));
      const list = out.get(t);
      if (list) list.push(id);
      else out.set(t, [id]);
    }
    return out;
  }

  keepOnly(owned: ReadonlySet<string>): void {
    const ids = [...owned];
    for (const t of this.threads) t.post({ op: 'keep-only', owned: ids });
  }

  resetInput(input: string, now: number): void {
    this.threadOf(input).post({ op: 'reset', input, now });
  }

  async idleMarkers(now: number, idleMs: number, skip: ReadonlySet<string>): Promise<Map<string, RepartitionOutput>> {
    if (this.failed) throw this.failed;
    const replies = await Promise.all(this.threads.map((t) => t.request({ op: 'idle', id: this.nextId++, now, idleMs, skip: [...skip] }, [])));
    const out = new Map<string, RepartitionOutput>();
    for (const r of replies) {
      if (r.op !== 'idled') throw new TokenwatchError('source_failed', `ingest thread: unexpected reply ${r.op}`);
      for (const [input, packed] of r.outputs as [string, PackedOutput][]) out.set(input, unpackOutput(packed));
    }
    return out;
  }

  notIdle(sources: readonly string[]): void {
    // a source id is `topic/partition/format`
    for (const [t, ids] of this.byThread(sources, (id) => id.slice(0, id.lastIndexOf('/')))) t.post({ op: 'not-idle', sources: ids });
  }

  busyMs(): number[] {
    return this.threads.map((t) => (t.exited ? 0 : t.worker.performance.eventLoopUtilization().active));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.threads.map((t) => (t.exited ? undefined : t.worker.terminate())));
  }
}
