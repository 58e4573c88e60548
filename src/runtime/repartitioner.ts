/**
 * Stage 1 as the ingest stage (ingest-stage.ts) drives it: the RepartitionStage on the main thread
 * (`kafka.ingest_threads: 0`) or on ingest threads (ingest-threads.ts). Processing answers
 * asynchronously either way; state changes (`owned`, `keepOnly`, `resetInput`, `notIdle`) take
 * effect in order with the batches sent before and after them.
 */
import type { KafkaMessage } from 'kafkajs';
import type { RepartitionOutput, RepartitionStage } from './repartition-stage.js';

export interface RepartitionResult {
  out: RepartitionOutput;
  /** The input partition's event time after the batch (RepartitionStage.inputWatermark). */
  watermark: number;
}

export interface Repartitioner {
  /** Ready to process (threads started, IP data loaded). */
  start(): Promise<void>;
  process(topic: string, partition: number, messages: readonly KafkaMessage[], lag: number): Promise<RepartitionResult>;
  owned(inputs: readonly string[], now: number): void;
  keepOnly(owned: ReadonlySet<string>): void;
  resetInput(input: string, now: number): void;
  /** Idle markers per input partition; inputs in `skip` send none (paused, or their transactions cannot take one now). */
  idleMarkers(now: number, idleMs: number, skip: ReadonlySet<string>): Promise<Map<string, RepartitionOutput>>;
  notIdle(sources: readonly string[]): void;
  /** Milliseconds each ingest thread has spent busy (its event loop's active time); empty on the main thread. */
  busyMs(): number[];
  close(): Promise<void>;
}

/** Stage 1 on the calling thread. */
export class InThreadRepartitioner implements Repartitioner {
  constructor(
    private readonly stage: RepartitionStage,
    private readonly load: () => void,
  ) {}

  async start(): Promise<void> {
    this.load();
  }

  async process(topic: string, partition: number, messages: readonly KafkaMessage[], lag: number): Promise<RepartitionResult> {
    const out = this.stage.process(topic, partition, messages, lag);
    return { out, watermark: this.stage.inputWatermark(`${topic}/${partition}`) };
  }

  owned(inputs: readonly string[], now: number): void {
    this.stage.owned(inputs, now);
  }

  keepOnly(owned: ReadonlySet<string>): void {
    this.stage.keepOnly(owned);
  }

  resetInput(input: string, now: number): void {
    this.stage.resetInput(input, now);
  }

  async idleMarkers(now: number, idleMs: number, skip: ReadonlySet<string>): Promise<Map<string, RepartitionOutput>> {
    return this.stage.idleMarkers(now, idleMs, (input) => skip.has(input));
  }

  notIdle(sources: readonly string[]): void {
    this.stage.notIdle(sources);
  }

  busyMs(): number[] {
    return [];
  }

  async close(): Promise<void> {}
}
