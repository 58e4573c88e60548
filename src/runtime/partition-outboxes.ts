/**
 * One transactional outbox per owned partition (Kafka Streams' per-task producers, "EOS v1"):
 * the transactional id is `<group>.<topic>.<partition>`, so whichever instance owns a partition
 * next fences the previous owner — a member that lost the partition in a rebalance, or one killed
 * mid-transaction, whose open transaction the new owner's first use aborts at once. kafkajs sends
 * offsets without the group generation (no KIP-447), so a per-instance id could not fence a zombie
 * that still commits offsets of a partition it no longer owns.
 */
import type { Kafka } from 'kafkajs';
import type { Logger } from '../core/logger.js';
import { TransactionalOutbox, type OutboxPart } from './transactional-outbox.js';

export interface PartitionOutboxesOptions {
  kafka: Kafka;
  groupId: string;
  transactionTimeoutMs: number;
  lingerMs: number;
  logger: Logger;
}

export class PartitionOutboxes {
  private readonly outboxes = new Map<string, Promise<TransactionalOutbox>>();
  /** The connected ones, for synchronous telemetry. */
  private readonly connected = new Map<string, TransactionalOutbox>();
  private closed = { transactions: 0, aborted: 0 };

  constructor(private readonly opts: PartitionOutboxesOptions) {}

  /** Commit `part` in a transaction of the partition `topic/partition`'s producer. */
  async submit(topic: string, partition: number, part: OutboxPart): Promise<void> {
    const outbox = await this.outboxFor(topic, partition);
    try {
      await outbox.submit(part);
    } catch (err) {
      // fenced: another instance took the partition's transactional id. This producer is done; if
      // the group gives the partition back, the next batch starts a fresh one (which fences in turn)
      if (outbox.fenced) void this.close(`${topic}/${partition}`);
      throw err;
    }
  }

  private outboxFor(topic: string, partition: number): Promise<TransactionalOutbox> {
    const id = `${topic}/${partition}`;
    let ready = this.outboxes.get(id);
    if (ready === undefined) {
      const o = this.opts;
      const outbox = new TransactionalOutbox({ kafka: o.kafka, transactionalId: `${o.groupId}.${topic}.${partition}`, consumerGroupId: o.groupId, transactionTimeoutMs: o.transactionTimeoutMs, lingerMs: o.lingerMs, logger: o.logger });
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
    const s = outbox.stats();
    this.closed.transactions += s.transactions;
    this.closed.aborted += s.aborted;
    await outbox.close();
  }

  /** Parts waiting or in flight, over all partitions. */
  queueDepth(): number {
    let n = 0;
    for (const o of this.connected.values()) n += o.queueDepth;
    return n;
  }

  stats(): { transactions: number; aborted: number } {
    const s = { ...this.closed };
    for (const o of this.connected.values()) {
      const t = o.stats();
      s.transactions += t.transactions;
      s.aborted += t.aborted;
    }
    return s;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.outboxes.keys()].map((id) => this.close(id)));
  }
}
