/**
 * One transactional producer per stage for every partition this process owns (Kafka Streams'
 * `exactly_once_v2`, KIP-447) — the alternative to partition-outboxes.ts' producer per partition.
 * Every partition's parts share its stage's transaction loop: a live load commits one
 * transaction per stage and round instead of one per owned partition.
 *
 * Fencing moves from transactional ids to the consumer group: each transaction's offsets carry the
 * generation and member id the runner joined with (TxnOffsetCommit v3, kafkajs-kip447.ts), so a
 * member the group has moved past — a zombie, or this member's own transaction in flight across a
 * rebalance — has its offsets rejected and its transaction aborted. A part whose partition left
 * the member before its transaction was put together is dropped (`admissible`). A new owner reads
 * the committed offset with require_stable, so it waits for a previous owner's open transaction
 * to commit, abort, or time out (`transaction_timeout_ms`) instead of fencing it.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../core/logger.js';
import { fetchStableOffset, type GroupMetadata } from './kafkajs-kip447.js';
import { addOutboxTotals, TransactionalOutbox, type OutboxPart, type OutboxTotals } from './transactional-outbox.js';

export interface ProcessOutboxOptions {
  kafka: Kafka;
  /** Connected, of a client whose id ends with STABLE_FETCH_CLIENT_SUFFIX (kafkajs-kip447.ts); closed by closeAll. */
  stableOffsetsAdmin: Admin;
  groupId: string;
  /** Unique per process (`<group>.<instance>`, `.ingest` / `.detect` appended): no other process ever uses it. */
  transactionalId: string;
  transactionTimeoutMs: number;
  lingerMs: number;
  /** Least time between two transactions of stage 1 (`commit_interval_ms`). */
  commitIntervalMs: number;
  /** Whether a topic is read by stage 2 (detection tasks: alerts, changelog): their parts go to its producer, no interval. */
  detectionTopic: (topic: string) => boolean;
  /** The generation and member id of the runner's current group membership (undefined before the first join). */
  groupMetadata: () => GroupMetadata | undefined;
  logger: Logger;
}

export class ProcessOutbox {
  /**
   * Two producers, one per stage (as Kafka Streams runs one per stream thread): stage 1's parts
   * (input partitions) wait out the commit interval and carry whole fetches of repartition
   * records; stage 2's (alerts, changelog) start at once. Apart, an alert never queues behind a
   * large stage-1 transaction. Every partition's parts go to one of them, so they commit in order.
   */
  private readonly stages: { outbox: TransactionalOutbox; connecting: Promise<void> | undefined; recovering: Promise<void> | undefined }[];

  constructor(private readonly opts: ProcessOutboxOptions) {
    this.stages = (['ingest', 'detect'] as const).map((stage) => ({
      outbox: new TransactionalOutbox({
        kafka: opts.kafka,
        transactionalId: `${opts.transactionalId}.${stage}`,
        consumerGroupId: opts.groupId,
        transactionTimeoutMs: opts.transactionTimeoutMs,
        lingerMs: opts.lingerMs,
        minIntervalMs: stage === 'ingest' ? opts.commitIntervalMs : 0,
        groupMetadata: opts.groupMetadata,
        logger: opts.logger,
      }),
      connecting: undefined,
      recovering: undefined,
    }));
  }

  private stageOf(topic: string): ProcessOutbox['stages'][number] {
    return this.stages[this.opts.detectionTopic(topic) ? 1 : 0]!;
  }

  submit(topic: string, partition: number, part: OutboxPart): Promise<void> {
    const stage = this.stageOf(topic);
    return this.connect(stage).then(() => stage.outbox.submit(part));
  }

  /** Connects the producers; never a fence of anyone else (the ids are this process's own), so false. */
  async open(topic: string): Promise<boolean> {
    await this.connect(this.stageOf(topic));
    return false;
  }

  private connect(stage: ProcessOutbox['stages'][number]): Promise<void> {
    stage.connecting ??= stage.outbox.connect().catch((err: unknown) => {
      stage.connecting = undefined; // the next batch tries again
      throw err;
    });
    return stage.connecting;
  }

  /** The group's committed offset of the partition once stable: no open transaction of any member holds offsets of it. */
  async committedOffset(topic: string, partition: number): Promise<bigint | undefined> {
    const offset = await fetchStableOffset(this.opts.stableOffsetsAdmin, this.opts.groupId, topic, partition);
    return offset === undefined || Number(offset) < 0 ? undefined : BigInt(offset);
  }

  /** After a failed transaction: every lane it touched calls this; the stage's producer is replaced once. */
  recover(topic: string): Promise<void> {
    const stage = this.stageOf(topic);
    stage.recovering ??= stage.outbox.recover().finally(() => {
      stage.recovering = undefined;
    });
    return stage.recovering;
  }

  /** Nothing to close per partition: parts of partitions let go are dropped when their transaction is put together. */
  async keepOnly(): Promise<void> {}

  queueDepth(): number {
    return this.stages.reduce((n, s) => n + s.outbox.queueDepth, 0);
  }

  stats(): OutboxTotals {
    const t = { transactions: 0, aborted: 0, retried: 0, regenerated: 0 };
    for (const s of this.stages) addOutboxTotals(t, s.outbox.stats());
    return t;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.stages.map((s) => s.outbox.close()));
    await this.opts.stableOffsetsAdmin.disconnect().catch(() => undefined);
  }
}
