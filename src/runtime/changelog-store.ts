/**
 * The changelog: detection-task checkpoints on a compacted, explicitly named topic (Kafka
 * Streams' model), keyed `${repartition topic}:${partition}`, each gzipped JSON. This module
 * owns the topic's encoding, reading and writing; the runner decides when a task checkpoints and
 * what a restored checkpoint does to the task.
 *
 * A checkpoint is usable only when its offset is the group's committed offset for its partition:
 * the state then covers exactly the events below what the group will read next. The topic is
 * read once per group generation (it is compacted, hence small) with a short-lived consumer in
 * a throwaway group, and every task created in that generation looks itself up in that read.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Admin, Kafka, Producer } from 'kafkajs';
import kafkajs from 'kafkajs';
import { TokenEvent } from '../../schemas/token-event.js';

const { CompressionTypes } = kafkajs;

/** Checkpoints larger than this (gzipped) are skipped: the changelog topic takes at most 16 MiB per message. */
export const MAX_CHECKPOINT_BYTES = 15 * 1024 * 1024;
/** A restore that takes longer starts the task empty. */
export const RESTORE_TIMEOUT_MS = 10_000;

/** A task's checkpoint on the changelog topic (gzipped JSON). */
export interface TaskCheckpoint {
  v: 1;
  topic: string;
  partition: number;
  /** Engine watermark (null: none yet). */
  watermark: number | null;
  engine: Record<string, unknown>;
  /** Next offset of the repartition partition: the state includes exactly the events below it. */
  offset: string;
  /** Ingested events still held in the reorder buffer (not in the detector state yet); re-ingested on restore. */
  pending: unknown[];
}

/** Changelog key of a task. */
export const checkpointKey = (topic: string, partition: number): string => `${topic}:${partition}`;

/** What a task finds on the changelog when it is created. */
export type CheckpointLookup =
  | { kind: 'timeout' }
  | { kind: 'none' }
  | { kind: 'stale'; offset: string; committed: string }
  | { kind: 'usable'; checkpoint: TaskCheckpoint; pending: TokenEvent[]; committed: string };

export interface ChangelogStoreOptions {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  /** kafka.topics.changelog */
  topic: string;
  /** The runtime's consumer group: whose committed offsets a checkpoint must match. */
  groupId: string;
  /** Names the throwaway restore groups of this instance. */
  instanceId: string;
}

export class ChangelogStore {
  private generation = 0;
  private load?: { generation: number; checkpoints: Promise<Map<string, Buffer>> };
  private reads = 0;

  constructor(private readonly opts: ChangelogStoreOptions) {}

  /** A new group generation: the next lookup reads the topic again. */
  newGeneration(): void {
    this.generation++;
  }

  /**
   * The task's latest checkpoint and whether it is at the group's committed offset. Throws when
   * the checkpoint is unreadable (the task then starts empty).
   */
  async lookup(topic: string, partition: number): Promise<CheckpointLookup> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), RESTORE_TIMEOUT_MS);
    });
    let found: [string, Map<string, Buffer>] | 'timeout';
    try {
      found = await Promise.race([Promise.all([this.committedOffsetOf(topic, partition), this.checkpoints()]), timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (found === 'timeout') return { kind: 'timeout' };
    const [committed, checkpoints] = found;
    const raw = checkpoints.get(checkpointKey(topic, partition));
    if (raw === undefined) return { kind: 'none' };
    const cp = JSON.parse(gunzipSync(raw).toString('utf8')) as Partial<TaskCheckpoint>;
    if (cp.v !== 1 || cp.topic !== topic || cp.partition !== partition || typeof cp.offset !== 'string' || typeof cp.engine !== 'object' || cp.engine === null || !Array.isArray(cp.pending)) {
      throw new Error('checkpoint has an unexpected shape');
    }
    if (cp.offset !== committed) return { kind: 'stale', offset: cp.offset, committed };
    const pending: TokenEvent[] = [];
    for (const p of cp.pending) {
      const r = TokenEvent.safeParse(p);
      if (!r.success) throw new Error('checkpoint holds an invalid pending event');
      pending.push(r.data);
    }
    return { kind: 'usable', checkpoint: cp as TaskCheckpoint, pending, committed };
  }

  /** Write a checkpoint (acks=all); one larger than MAX_CHECKPOINT_BYTES gzipped is not written. */
  async write(checkpoint: TaskCheckpoint): Promise<{ written: boolean; bytes: number }> {
    const value = gzipSync(JSON.stringify(checkpoint));
    if (value.length > MAX_CHECKPOINT_BYTES) return { written: false, bytes: value.length };
    await this.opts.producer.send({
      topic: this.opts.topic,
      acks: -1,
      compression: CompressionTypes.None, // gzipped already
      messages: [{ key: checkpointKey(checkpoint.topic, checkpoint.partition), value }],
    });
    return { written: true, bytes: value.length };
  }

  /** Wait for a read in progress (before the admin client disconnects). */
  async settle(): Promise<void> {
    await Promise.allSettled([this.load?.checkpoints]);
  }

  private async committedOffsetOf(topic: string, partition: number): Promise<string> {
    const res = await this.opts.admin.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] });
    return res.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset ?? '-1';
  }

  /** The latest checkpoint per key, read once per group generation. */
  private checkpoints(): Promise<Map<string, Buffer>> {
    if (this.load?.generation !== this.generation) {
      const checkpoints = this.read();
      checkpoints.catch(() => undefined); // awaited by the tasks; a failure starts them empty
      this.load = { generation: this.generation, checkpoints };
    }
    return this.load.checkpoints;
  }

  /** Read the topic from its beginning to its high watermark with a short-lived consumer (own throwaway group). */
  private async read(): Promise<Map<string, Buffer>> {
    const { admin, kafka, topic } = this.opts;
    const latest = new Map<string, Buffer>();
    const ends = new Map<number, bigint>();
    for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
    if (ends.size === 0) return latest;
    const groupId = `${this.opts.groupId}.changelog-restore.${this.opts.instanceId}.${++this.reads}`;
    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      // a checkpoint may be up to 16 MiB
      maxBytesPerPartition: 2 * MAX_CHECKPOINT_BYTES,
      maxBytes: 4 * MAX_CHECKPOINT_BYTES,
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`changelog not read within ${RESTORE_TIMEOUT_MS / 1000}s`)), RESTORE_TIMEOUT_MS);
        const left = new Set(ends.keys());
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) {
                const key = m.key?.toString('utf8');
                if (key === undefined) continue;
                if (m.value === null) latest.delete(key);
                else latest.set(key, m.value);
              }
              if (BigInt(batch.lastOffset()) + 1n >= (ends.get(batch.partition) ?? 0n)) left.delete(batch.partition);
              if (left.size === 0) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return latest;
  }
}
