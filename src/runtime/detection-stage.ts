/**
 * Stage 2 of the Kafka runtime on Kafka (repartition topics → alerts): the detection tasks of the
 * owned repartition partitions (detection-task.ts), created on a partition's first batch and
 * restored from the changelog first (task-restorer.ts). A batch's alerts, dead letters and — every
 * checkpoint interval — its task's changed state keys commit with its offset in the partition's
 * transaction (partition-outboxes.ts); ClickHouse rows follow the commit (idempotent).
 *
 * A task whose transaction or store write failed is dropped: its state is ahead of what
 * committed, and its next batch restores it from the changelog.
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { Alert } from '../../schemas/alert.js';
import type { KafkaConfig, TokenwatchConfig } from '../config/config-schema.js';
import { detectorSet } from '../config/load-config.js';
import { TokenwatchError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { exceptionFilterFor } from '../exceptions/exception-file.js';
import type { EngineObserver } from '../pipeline/detection-engine.js';
import { DetectionEngine } from '../pipeline/detection-engine.js';
import { TokenInventory } from '../inventory/token-inventory.js';
import type { ClickHouseSink } from '../sinks/clickhouse-sink.js';
import { alertMessages } from '../sinks/kafka-alert-sink.js';
import { deadLetterMessage, type DeadLetter } from '../sinks/kafka-dead-letter-sink.js';
import { DetectionTask, emptyOutput, type TaskOutput } from './detection-task.js';
import type { RuntimeMetrics } from './metrics.js';
import type { LaneOutboxes } from './commit-pipeline.js';
import { recordsFrom, type CommitPipeline } from './commit-pipeline.js';
import { checkpointMessages, type TaskRole } from './task-state-store.js';
import type { TaskRestorer } from './task-restorer.js';
import type { OutboxPart } from './transactional-outbox.js';

export interface DetectionStageOptions {
  cfg: TokenwatchConfig;
  kcfg: KafkaConfig;
  log: Logger;
  metrics: RuntimeMetrics;
  outbox: Pick<LaneOutboxes, 'submit'>;
  pipeline: CommitPipeline;
  restorer: TaskRestorer;
  store: ClickHouseSink | undefined;
  changelogPartitions: number;
  /** Every input partition (`topic/partition`): each task waits to hear from all of them. */
  inputPartitions: readonly string[];
  /** Sees released events and suppressed repeats of every task (the incident builder). */
  observer: EngineObserver | undefined;
  counters: { events_detected: number; tasks_restored: number; records_replayed: number };
  /** Alerts committed on the topic. */
  published: (alerts: readonly Alert[]) => void;
}

export class DetectionStage {
  readonly tasks = new Map<string, DetectionTask>();
  /** The last ClickHouse failure (cleared by the next success): readiness turns red meanwhile. */
  storeError: Error | undefined;

  constructor(private readonly opts: DetectionStageOptions) {}

  /** Forget the tasks of partitions no longer owned; returns how many were dropped. */
  keepOnly(owned: ReadonlySet<string>): number {
    let dropped = 0;
    for (const id of [...this.tasks.keys()]) {
      if (owned.has(id)) continue;
      this.tasks.delete(id);
      dropped++;
    }
    return dropped;
  }

  /**
   * Apply a batch to its partition's task and queue its alerts, dead letters and offset (and, every
   * checkpoint interval, the task's changed state keys) on the partition's transaction
   * (commit-pipeline.ts); alerts are published and ClickHouse rows written once it committed.
   * False: the batch was skipped unresolved (a reset is under way, or the task was dropped).
   */
  async detectBatch({ batch, heartbeat, isStale }: EachBatchPayload, role: TaskRole): Promise<boolean> {
    const o = this.opts;
    const ticket = await o.pipeline.admit(batch.topic, batch.partition, batch.messages[0]!.offset, isStale);
    if (ticket === undefined) return false;
    const messages = recordsFrom(batch.messages, ticket.from);
    if (messages.length === 0) return true; // committed by the previous owner
    // a new task's state covers everything before the batch (what committed, and what this
    // instance's transactions in flight will commit — or else the partition is reset)
    const task = await this.taskFor(batch.topic, batch.partition, role, messages[0]!.offset, heartbeat);
    return task.exclusive(async () => {
      if (this.tasks.get(task.id) !== task) return false; // dropped meanwhile: the batch is fetched again
      const checkpoint = Date.now() - task.lastCheckpointAt >= o.kcfg.checkpoint_interval_seconds * 1000;
      // a checkpoint names an offset: everything before it committed, its rows stored
      if (checkpoint && !(await o.pipeline.drained(ticket))) return false;
      if (!o.pipeline.valid(ticket) || this.tasks.get(task.id) !== task) return false;
      const out = emptyOutput();
      task.apply(messages, out);
      o.counters.events_detected += out.detected;
      const next = BigInt(batch.lastOffset()) + 1n;
      const part: OutboxPart = { topicMessages: [], offsets: [{ topic: batch.topic, partition: batch.partition, offset: next.toString() }] };
      if (out.alerts.length > 0) part.topicMessages.push({ topic: o.kcfg.topics.alerts, messages: out.alerts.flatMap((a) => alertMessages(a, o.cfg.alerts.format)) });
      if (out.dead.length > 0) {
        part.topicMessages.push({ topic: o.kcfg.topics.dead_letter, messages: this.deadLetterMessages(out.dead) });
        for (const d of out.dead) o.metrics.countInvalid(batch.topic, d.error.code);
      }
      if (checkpoint) {
        // every row up to the checkpoint is stored before the checkpoint can make a restore skip it
        // (a failure drops the task; its restore re-derives the rows)
        try {
          await this.storeRows(task, out, true);
        } catch {
          return false;
        }
        this.addCheckpoint(part, task, next.toString());
        task.lastCheckpointAt = Date.now();
      }
      // a batch without alerts, dead letters or checkpoint defers its offset (commit-pipeline.ts)
      o.pipeline.submit(
        ticket,
        part,
        next,
        () => {
          if (checkpoint) o.metrics.countCheckpoint('written');
          else void this.storeRows(task, out, false);
          o.published(out.alerts);
        },
        { deferOffsetOnly: true },
      );
      return true;
    });
  }

  /** A failed transaction of the partition: its task is ahead of what committed (restored with its next batch). */
  reset(topic: string, partition: number): void {
    const task = this.tasks.get(`${topic}/${partition}`);
    if (task) this.dropTask(task, new Error('transaction failed'));
  }

  deadLetterMessages(dead: readonly DeadLetter[]) {
    const opts = { payload: this.opts.cfg.dead_letter.payload, maxDecompressedBytes: this.opts.cfg.limits.max_decompressed_bytes };
    return dead.map((d) => deadLetterMessage(d, opts));
  }

  private addCheckpoint(part: OutboxPart, task: DetectionTask, offset: string): void {
    const { messages } = checkpointMessages({ role: task.role, partition: task.partition, changelogPartitions: this.opts.changelogPartitions, entries: task.engine.drainStateChanges(), sources: task.sources.snapshot(), offset });
    part.topicMessages.push({ topic: this.opts.kcfg.topics.changelog, messages });
  }

  /**
   * ClickHouse rows of a task's output (idempotent: a retry or a replay writes the same keys).
   * Awaited before a checkpoint; otherwise in the background — if they fail for good, the task is
   * dropped and its restore (from the previous checkpoint) re-derives them.
   */
  private async storeRows(task: DetectionTask, out: TaskOutput, awaitAll: boolean): Promise<void> {
    const store = this.opts.store;
    if (!store) return;
    const writes: Promise<unknown>[] = [];
    if (out.alerts.length > 0) writes.push(store.write('alerts', out.alerts));
    if (out.inventory.length > 0) writes.push(store.write('inventory', out.inventory));
    if (out.events.length > 0) writes.push(store.write('events', out.events));
    const all = Promise.all(writes).then(() => undefined);
    task.pendingStore.add(all);
    try {
      if (awaitAll) await this.opts.metrics.timeSink('clickhouse', () => Promise.all([...task.pendingStore]));
      else await all;
      this.storeError = undefined;
    } catch (err) {
      this.storeError = err as Error;
      this.dropTask(task, err as Error);
      if (awaitAll) throw err;
    } finally {
      task.pendingStore.delete(all);
    }
  }

  private dropTask(task: DetectionTask, err: Error): void {
    if (this.tasks.get(task.id) !== task) return;
    this.tasks.delete(task.id);
    this.opts.log.warn({ err: { message: err.message.slice(0, 300) }, task: task.id }, 'task dropped: it is restored from its changelog with its next batch');
  }

  /** The task of a partition; a new one is restored from the changelog and replayed up to `resumeAt` first. */
  private async taskFor(topic: string, partition: number, role: TaskRole, resumeAt: string, heartbeat: () => Promise<void>): Promise<DetectionTask> {
    const o = this.opts;
    const id = `${topic}/${partition}`;
    const existing = this.tasks.get(id);
    if (existing) return existing;
    const task = this.newTask(topic, partition, role);
    const started = performance.now();
    const restored = await o.restorer.restore(task, resumeAt, {
      heartbeat,
      // replayed effects were committed already: only ClickHouse rows are written again (idempotent)
      onReplayed: (out) => void this.storeRows(task, out, false),
    });
    o.counters.tasks_restored++;
    o.counters.records_replayed += restored.replayed;
    o.metrics.countCheckpoint(restored.fromChangelog ? 'restored' : 'empty');
    o.metrics.restoreSeconds.observe({ role }, (performance.now() - started) / 1000);
    o.metrics.restoreReplayed.inc({ role }, restored.replayed);
    o.log.info({ task: id, from_changelog: restored.fromChangelog, state_entries: restored.entries, replayed: restored.replayed, ms: Math.round(performance.now() - started) }, 'task restored');
    this.tasks.set(id, task);
    return task;
  }

  private newTask(topic: string, partition: number, role: TaskRole): DetectionTask {
    const { cfg, store, inputPartitions, observer } = this.opts;
    return newDetectionTask(cfg, topic, partition, role, { storeEvents: store !== undefined && cfg.store.write_events, inputPartitions, observer });
  }

  /** Checkpoint every task (graceful stop, after the pipeline drained): its changed keys and offset, in one transaction each. */
  async checkpointAll(): Promise<void> {
    for (const task of [...this.tasks.values()]) {
      if (!this.opts.pipeline.settledLane(task.topic, task.partition)) continue;
      const offset = this.opts.pipeline.committedOffset(task.topic, task.partition);
      if (offset === undefined) continue;
      await task.exclusive(async () => {
        await this.storeRows(task, emptyOutput(), true);
        const part: OutboxPart = { topicMessages: [], offsets: [] };
        this.addCheckpoint(part, task, offset.toString());
        await this.opts.outbox.submit(task.topic, task.partition, part);
        this.opts.metrics.countCheckpoint('written');
      });
    }
  }

  /** A batch of only transaction markers: kafkajs resolves it but, without auto-commit, nobody commits past it. */
  async commitPastMarkers(consumer: Consumer, topic: string, partition: number, offset: bigint): Promise<void> {
    const { pipeline } = this.opts;
    const task = this.tasks.get(`${topic}/${partition}`);
    if (!task) return;
    // inside the task's lock no batch of the partition queues work; only with none in flight can a
    // plain offset commit not race a transaction's (and move the offset back)
    await task.exclusive(async () => {
      if (!pipeline.settledLane(topic, partition) || (pipeline.committedOffset(topic, partition) ?? -1n) >= offset || this.tasks.get(task.id) !== task) return;
      try {
        await consumer.commitOffsets([{ topic, partition, offset: offset.toString() }]);
        pipeline.noteCommitted(topic, partition, offset);
      } catch {
        // the next transaction of the partition commits past them anyway
      }
    });
  }

  /** Live state keys per detector over every task. */
  stateKeys(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.tasks.values()) {
      for (const [d, n] of Object.entries(t.engine.stats().state_keys)) out[d] = (out[d] ?? 0) + n;
    }
    return out;
  }
}

/**
 * A detection task as the runner builds it: the engine with the role's detectors, released by the
 * input sources' watermarks only, and (by_token) the token inventory. Also used by bench/stage-cost.ts.
 */
export function newDetectionTask(
  cfg: TokenwatchConfig,
  topic: string,
  partition: number,
  role: TaskRole,
  opts: { storeEvents: boolean; inputPartitions: readonly string[]; observer?: EngineObserver | undefined },
): DetectionTask {
  const e = cfg.engine;
  const inventory = role === 'by_token' ? new TokenInventory({ maxTokens: cfg.inventory.max_tokens, maxSetSize: cfg.inventory.max_set_size }) : undefined;
  const engine = new DetectionEngine({
    detectors: detectorSet(cfg),
    keyBy: [role === 'by_token' ? 'token' : 'issuer'],
    // released by the input sources' watermarks only: a cap on the newest event seen would depend on
    // how the input partitions' records interleaved here, and give other alerts on another run
    reorder: { maxDelayMs: Infinity, maxBuffered: e.reorder_max_buffered },
    suppressWindowMs: e.suppress_window_minutes * 60_000,
    maxSuppressKeys: e.max_suppress_keys,
    maxRecentEventIds: e.max_recent_event_ids,
    advanceEveryMs: 60_000,
    ...(inventory && { inventory }),
    observer: opts.observer,
    alertFilter: exceptionFilterFor(cfg),
  });
  const task = new DetectionTask(topic, partition, role, engine, inventory, opts.storeEvents);
  for (const input of opts.inputPartitions) task.sources.expect(input);
  return task;
}
