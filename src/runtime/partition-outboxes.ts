/**
 * One transactional outbox per owned partition (Kafka Streams' per-task producers, "EOS v1"):
 * the transactional id is `<group>.<topic>.<partition>`, so whichever instance owns a partition
 * next fences the previous owner — a member that lost the partition in a rebalance, or one killed
 * mid-transaction, whose open transaction the new owner's first use aborts at once. kafkajs sends
 * offsets without the group generation (no KIP-447), so a per-instance id could not fence a zombie
 * that still commits offsets of a partition it no longer owns.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../core/logger.js';
import { addOutboxTotals, TransactionalOutbox, type OutboxPart, type OutboxTotals } from './transactional-outbox.js';

export interface PartitionOutboxesOptions {
  kafka: Kafka;
  /** Reads the group's committed offsets (after a new producer fenced the previous owner). */
  admin: Admin;
  groupId: string;
  transactionTimeoutMs: number;
  lingerMs: number;
  /** Least time between two transactions of a partition of this topic (0: back to back); stage 1's input partitions only, so an alert never waits for it. */
  commitIntervalMs: (topic: string) => number;
  logger: Logger;
}

export class PartitionOutboxes {
  private readonly outboxes = new Map<string, Promise<TransactionalOutbox>>();
  /** The connected ones, for synchronous telemetry. */
  private readonly connected = new Map<string, TransactionalOutbox>();
  private closed: OutboxTotals = { transactions: 0, aborted: 0, retried: 0, regenerated: 0 };

  constructor(private readonly opts: PartitionOutboxesOptions) {}

  /**
   * Queue `part` for a transaction of the partition `topic/partition`'s producer; resolves once
   * it committed. Parts of one partition commit in submit order.
   */
  submit(topic: string, partition: number, part: OutboxPart): Promise<void> {
    const id = `${topic}/${partition}`;
    const outbox = this.connected.get(id);
    // synchronous when connected: a later part can never overtake an earlier one
    const committed = outbox ? outbox.submit(part) : this.outboxFor(topic, partition).then((o) => o.submit(part));
    return committed.catch((err: unknown) => {
      // fenced: another instance took the partition's transactional id. This producer is done; if
      // the group gives the partition back, a fresh one (which fences in turn) is opened
      if (this.connected.get(id)?.fenced) void this.close(id);
      throw err;
    });
  }

  /**
   * Make sure the partition has a connected producer. Returns true when one was created now: its
   * InitProducerId fenced the partition's previous owner and settled what that owner left open,
   * so the group's committed offset read after this is final.
   */
  async open(topic: string, partition: number): Promise<boolean> {
    const fresh = !this.outboxes.has(`${topic}/${partition}`);
    await this.outboxFor(topic, partition);
    return fresh;
  }

  /** The group's committed offset of a partition (next to read; undefined: none). */
  async committedOffset(topic: string, partition: number): Promise<bigint | undefined> {
    const fetched = await this.opts.admin.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] });
    const offset = fetched.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset;
    return offset === undefined || Number(offset) < 0 ? undefined : BigInt(offset);
  }

  /**
   * After a failed transaction of the partition: settle it on the broker and accept parts again
   * (transactional-outbox.ts `recover`). A fenced producer is closed and a fresh one opened.
   */
  async recover(topic: string, partition: number): Promise<void> {
    const id = `${topic}/${partition}`;
    const outbox = await this.outboxes.get(id)?.catch(() => undefined);
    if (outbox?.fenced) await this.close(id);
    const current = await this.outboxFor(topic, partition);
    await current.recover();
  }

  private outboxFor(topic: string, partition: number): Promise<TransactionalOutbox> {
    const id = `${topic}/${partition}`;
    let ready = this.outboxes.get(id);
    if (ready === undefined) {
      const o = this.opts;
      const outbox = new TransactionalOutbox({ kafka: o.kafka, transactionalId: `${o.groupId}.${topic}.${partition}`, consumerGroupId: o.groupId, transactionTimeoutMs: o.transactionTimeoutMs, lingerMs: o.lingerMs, minIntervalMs: o.commitIntervalMs(topic), logger: o.logger });
      ready = outbox.connect().then(() => {
        this.connected.set(id, outbox);
        return outbox;
      });
      this.outboxes.set(id, ready);
      ready.catch(() => this.outboxes.delete(id)); // the next batch tries again
    }
    return ready;
  }

  /** Close the producers of partitions no longer owned (ids `topic/partition`). */
  async keepOnly(owned: ReadonlySet<string>): Promise<void> {
    const gone = [...this.outboxes.keys()].filter((id) => !owned.has(id));
    await Promise.allSettled(gone.map((id) => this.close(id)));
  }

  private async close(id: string): Promise<void> {
    const ready = this.outboxes.get(id);
    this.outboxes.delete(id);
    this.connected.delete(id);
    const outbox = await ready?.catch(() => undefined);
    if (!outbox) return;
    addOutboxTotals(this.closed, outbox.stats());
    await outbox.close();
  }

  /** Parts waiting or in flight, over all partitions. */
  queueDepth(): number {
    let n = 0;
    for (const o of this.connected.values()) n += o.queueDepth;
    return n;
  }

  stats(): OutboxTotals {
    const s = { ...this.closed };
    for (const o of this.connected.values()) addOutboxTotals(s, o.stats());
    return s;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.outboxes.keys()].map((id) => this.close(id)));
  }
}
