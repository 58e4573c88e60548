/**
 * One detection task of the Kafka runtime (Kafka Streams' task): the DetectionEngine, token
 * inventory and input-source watermarks of one partition of a repartition topic. It applies the
 * partition's records in offset order — token events into the engine, watermark records into its
 * WatermarkTracker — and releases what every input source has passed. No I/O: the runner
 * decides where its output goes (and mutes it while a restored task replays).
 */
import type { KafkaMessage } from 'kafkajs';
import type { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { TokenwatchError } from '../core/errors.js';
import type { InventoryRecord } from '../inventory/inventory-record.js';
import type { TokenInventory } from '../inventory/token-inventory.js';
import type { DetectionEngine } from '../pipeline/detection-engine.js';
import { WatermarkTracker } from '../pipeline/watermark-tracker.js';
import type { DeadLetter } from '../sinks/kafka-dead-letter-sink.js';
import { peekRecord, type PeekedRecord } from './token-event-peek.js';
import { frameRanges } from './repartition-frame.js';
import type { TaskRole } from './task-state-store.js';

/** What applying records produced. */
export interface TaskOutput {
  alerts: Alert[];
  /** Token events to store (by_token tasks, own-key copies only). */
  events: TokenEvent[];
  inventory: InventoryRecord[];
  dead: DeadLetter[];
  /** Token events applied (watermark records not counted). */
  detected: number;
}

export const emptyOutput = (): TaskOutput => ({ alerts: [], events: [], inventory: [], dead: [], detected: 0 });

export class DetectionTask {
  readonly id: string;
  readonly sources = new WatermarkTracker();
  /** Wall time of the last checkpoint (or of the task's creation). */
  lastCheckpointAt = Date.now();
  /** ClickHouse writes not yet acknowledged (awaited before a checkpoint). */
  readonly pendingStore = new Set<Promise<void>>();
  /** Serializes batches with other work on the task. */
  private lock: Promise<void> = Promise.resolve();

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly role: TaskRole,
    readonly engine: DetectionEngine,
    readonly inventory: TokenInventory | undefined,
    /** Store token events (store configured with write_events). */
    private readonly storeEvents: boolean,
  ) {
    this.id = `${topic}/${partition}`;
  }

  /** Apply records of the partition in offset order; then release what every source has passed. */
  apply(messages: readonly KafkaMessage[], out: TaskOutput): void {
    for (const m of messages) this.applyOne(m, out);
    const released = this.engine.releaseTo(this.sources.watermark);
    if (released.length > 0) out.alerts.push(...released);
    if (this.inventory) {
      const dirty = this.inventory.drainDirty();
      if (dirty.length > 0) out.inventory.push(...dirty);
    }
  }

  private applyOne(m: KafkaMessage, out: TaskOutput): void {
    if (m.value === null) {
      out.dead.push(this.deadLetter(m, new TokenwatchError('invalid_token_event', 'empty message value on a repartition topic')));
      return;
    }
    // The frame's own copy: held events point into it (kafkajs' value is a view of a whole fetch
    // response, which they would otherwise keep alive until their release).
    const frame = Buffer.allocUnsafeSlow(m.value.length);
    m.value.copy(frame);
    const records: PeekedRecord[] = [];
    try {
      // our own records, validated at the edge: checked whole, not re-validated; each event is
      // decoded when the engine releases it (deferred-event.ts)
      const at = frameRanges(frame);
      for (let i = 0; i < at.length; i += 2) records.push(peekRecord(frame, at[i]!, at[i + 1]!));
    } catch (err) {
      const e = err instanceof TokenwatchError ? err : new TokenwatchError('invalid_token_event', `repartition record does not decode: ${(err as Error).message.slice(0, 200)}`, undefined, { cause: err });
      out.dead.push(this.deadLetter(m, e));
      return;
    }
    for (const r of records) this.applyRecord(r, out);
  }

  private applyRecord(r: PeekedRecord, out: TaskOutput): void {
    if (r.kind === 'watermark') {
      this.sources.update(r.source, r.watermark, r.idle);
      return;
    }
    this.sources.noteSource(r.source);
    out.detected++;
    // A stored event is decoded for its row now and again at its release: held decoded until then,
    // it would outlive young collections and be copied and promoted (stop 22: measured).
    if (this.storeEvents && this.role === 'by_token' && r.route !== 'parent') out.events.push(r.event.decode());
    const alerts = this.engine.ingest(r.event, r.order, r.source);
    if (alerts.length > 0) out.alerts.push(...alerts);
  }

  private deadLetter(m: KafkaMessage, error: TokenwatchError): DeadLetter {
    return { value: m.value, key: m.key, topic: this.topic, partition: this.partition, offset: m.offset, format: 'token_event', error };
  }

  /** Run `fn` after everything queued on this task. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
