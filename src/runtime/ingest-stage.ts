/**
 * Stage 1 of the Kafka runtime on Kafka (input topics → repartition topics): an input batch goes
 * through the RepartitionStage (repartition-stage.ts: decode, validate, normalize, enrich, key),
 * on the main thread or an ingest thread (repartitioner.ts, ingest-threads.ts), and its
 * repartition records, dead letters and consumed offset commit in the input partition's
 * transaction (commit-pipeline.ts). Input sources gone quiet send idle watermark records, and
 * input partitions that run ahead in event time are paused until the others catch up
 * (watermark-alignment.ts).
 */
import type { EachBatchPayload } from 'kafkajs';
import type { KafkaConfig, TokenwatchConfig } from '../config/config-schema.js';
import type { Logger } from '../core/logger.js';
import { deadLetterMessage, type DeadLetter } from '../sinks/kafka-dead-letter-sink.js';
import type { RuntimeMetrics } from './metrics.js';
import { recordsFrom, type CommitPipeline } from './commit-pipeline.js';
import type { RepartitionOutput } from './repartition-stage.js';
import type { Repartitioner } from './repartitioner.js';
import type { OutboxPart } from './transactional-outbox.js';
import type { ConsumerControl } from './consumer-control.js';
import { WatermarkAlignment } from './watermark-alignment.js';

export interface IngestStageOptions {
  cfg: TokenwatchConfig;
  kcfg: KafkaConfig;
  log: Logger;
  metrics: RuntimeMetrics;
  pipeline: CommitPipeline;
  repartition: Repartitioner;
  /** Every input partition (`topic/partition`) of the group. */
  inputPartitions: readonly string[];
  counters: { events_repartitioned: number; idle_markers: number; alignment_pauses: number };
  /** Whether consumption is paused as a whole (backpressure): alignment then resumes nothing. */
  pausedForBackpressure: () => boolean;
}

export class IngestStage {
  /** Input partitions far ahead in event time wait for the others. */
  private readonly alignment: WatermarkAlignment;
  private consumer: ConsumerControl | undefined;
  /** An idle sweep is under way (its markers come back asynchronously). */
  private sweeping = false;

  constructor(private readonly opts: IngestStageOptions) {
    this.alignment = new WatermarkAlignment((opts.cfg.engine.reorder_max_delay_seconds * 1000) / 2);
  }

  /** The consumer whose input partitions alignment pauses and resumes. */
  attach(consumer: ConsumerControl): void {
    this.consumer = consumer;
  }

  /** A new assignment: forget what moved away; a revoked partition no longer holds the others back. */
  onAssignment(owned: ReadonlySet<string>): void {
    const { repartition, inputPartitions } = this.opts;
    repartition.keepOnly(owned);
    repartition.owned(inputPartitions.filter((id) => owned.has(id)), Date.now());
    for (const id of this.alignment.keepOnly(owned)) {
      const [topic, partition] = splitPartitionId(id);
      this.consumer?.resume([{ topic, partitions: [partition] }]);
    }
    this.applyAlignment();
  }

  /**
   * Input records → repartition records and dead letters, queued with the input offset on the
   * partition's transaction (commit-pipeline.ts). False: the batch was skipped unresolved.
   *
   * Returns once the batch is handed to stage 1, not once stage 1 is done with it: kafkajs goes on
   * fetching (and the main thread on detecting) while an ingest thread works. The partition's
   * batches still queue their parts in order (one thread per partition, replies in order), and the
   * pipeline holds the batch as outstanding meanwhile (`hold`): it counts against
   * `max_uncommitted_batches`, and a new generation's admission and a drain wait for it.
   */
  async ingestBatch({ batch, isStale }: EachBatchPayload): Promise<boolean> {
    const o = this.opts;
    const input = `${batch.topic}/${batch.partition}`;
    const ticket = await o.pipeline.admit(batch.topic, batch.partition, batch.messages[0]!.offset, isStale);
    if (ticket === undefined) return false;
    const messages = recordsFrom(batch.messages, ticket.from);
    if (messages.length === 0) return true; // committed by the previous owner
    const next = BigInt(batch.lastOffset()) + 1n;
    const { topic, partition } = batch; // not the batch: its messages hold kafkajs' whole fetch response
    const done = o.repartition.process(topic, partition, messages, Number(batch.offsetLag())).then(
      ({ out, watermark }) => {
        const part = this.partOf(out);
        part.offsets.push({ topic, partition, offset: next.toString() });
        // a reset while the batch was processed voids the ticket: nothing is queued (the partition is read again)
        const queued = o.pipeline.submit(ticket, part, next, () => {
          o.counters.events_repartitioned += out.events;
        });
        if (!queued) return;
        this.alignment.update(input, watermark);
        if (out.caughtUp) this.alignment.idle(input); // read to its end: it holds no other partition back
        this.applyAlignment();
      },
      // only a dead ingest thread fails here, and it stops the runner (ingest-threads.ts)
      (err: unknown) => o.log.error({ partition: input, err: { message: (err as Error).message } }, 'stage 1 failed a batch'),
    );
    o.pipeline.hold(ticket, done);
    return true;
  }

  /** A failed transaction of an input partition: its source clocks are ahead of what committed. */
  reset(topic: string, partition: number): void {
    this.opts.repartition.resetInput(`${topic}/${partition}`, Date.now());
  }

  private partOf(out: RepartitionOutput): OutboxPart {
    const { topics } = this.opts.kcfg;
    const topicMessages: OutboxPart['topicMessages'] = [];
    if (out.byToken.length > 0) topicMessages.push({ topic: topics.by_token, messages: out.byToken });
    if (out.byIssuer.length > 0) topicMessages.push({ topic: topics.by_issuer, messages: out.byIssuer });
    if (out.dead.length > 0) topicMessages.push({ topic: topics.dead_letter, messages: this.deadLetterMessages(out.dead) });
    return { topicMessages, offsets: [] };
  }

  private deadLetterMessages(dead: readonly DeadLetter[]) {
    const opts = { payload: this.opts.cfg.dead_letter.payload, maxDecompressedBytes: this.opts.cfg.limits.max_decompressed_bytes };
    return dead.map((d) => deadLetterMessage(d, opts));
  }

  /** Input sources quiet for `engine.source_idle_seconds` tell every task to stop waiting for them. */
  async sendIdleMarkers(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const o = this.opts;
      // paused on purpose (watermark-alignment.ts), or its transactions cannot take a marker now
      const skip = new Set(o.inputPartitions.filter((id) => this.alignment.isPaused(id) || !this.canSend(id)));
      const markers = await o.repartition.idleMarkers(Date.now(), o.cfg.engine.source_idle_seconds * 1000, skip);
      // per input partition: its producer is the one that wrote the source's events
      for (const [input, out] of markers) {
        const [topic, partition] = splitPartitionId(input);
        // queued in order with the partition's batches, in its transactions; a reset drops them with
        // the rest (and the source's clock)
        const ticket = o.pipeline.ticketNow(topic, partition);
        if (ticket && o.pipeline.submit(ticket, this.partOf(out), undefined, () => this.markedIdle(input))) continue;
        // the partition could not take them since the sweep began: say it again next sweep
        if (out.idled) o.repartition.notIdle(out.idled);
      }
    } finally {
      this.sweeping = false;
    }
  }

  private canSend(input: string): boolean {
    const [topic, partition] = splitPartitionId(input);
    return this.opts.pipeline.ticketNow(topic, partition) !== undefined;
  }

  private markedIdle(input: string): void {
    this.opts.counters.idle_markers++;
    this.alignment.idle(input);
    this.applyAlignment();
  }

  /** Pause the input partitions that ran ahead, resume those the others caught up with. */
  private applyAlignment(): void {
    const consumer = this.consumer;
    if (!consumer) return;
    const { pause, resume } = this.alignment.decide();
    for (const id of pause) {
      const [topic, partition] = splitPartitionId(id);
      consumer.pause([{ topic, partitions: [partition] }]);
      this.opts.counters.alignment_pauses++;
    }
    for (const id of resume) {
      const [topic, partition] = splitPartitionId(id);
      if (!this.opts.pausedForBackpressure()) consumer.resume([{ topic, partitions: [partition] }]);
    }
  }

  /** Input partitions held back for alignment (ids `topic/partition`): resuming whole topics must pause them again. */
  alignmentPaused(): string[] {
    return this.alignment.pausedIds();
  }
}

export function splitPartitionId(id: string): [string, number] {
  const i = id.lastIndexOf('/');
  return [id.slice(0, i), Number(id.slice(i + 1))];
}
