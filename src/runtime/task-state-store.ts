/**
 * A detection task's state store and its changelog (Kafka Streams' model, with incremental
 * checkpoints): the compacted topic `kafka.topics.changelog` holds, per task, the latest value of
 * every state key the engine reported changed (detection-engine.ts StateEntry: detector keys,
 * suppression windows, events held for ordering, the engine clock), plus the task's input
 * sources' watermarks and the offset its state covers.
 *
 * A checkpoint writes only the keys changed since the previous one — a key touched by a thousand
 * events is written once — in the same Kafka transaction as the batch's effects and offsets
 * (transactional-outbox.ts), so a read_committed restore never sees half a checkpoint. Between
 * checkpoints, effects and offsets commit with every transaction of the partition
 * (commit-pipeline.ts); a restored task therefore replays its repartition partition from the
 * checkpoint's offset to where it resumes, with effects muted
 * (they were committed already): same events, same order, same state.
 *
 * Message key: `<role>/<partition>/<state key>`; changelog partition: the task's partition modulo
 * the changelog's partition count (created with as many partitions as the repartition topics).
 * Value: JSON (gzip for values above 1 KiB, marked by the gzip magic bytes); null = tombstone.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Message } from 'kafkajs';
import type { StateEntry } from '../pipeline/detection-engine.js';

/** State key of the offset the task's checkpointed state covers (the next offset to process). */
export const OFFSET_KEY = '~offset';
/** State key of the task's input sources' watermarks (watermark-tracker.ts snapshot). */
export const SOURCES_KEY = '~sources';

const GZIP_ABOVE = 1024;

export type TaskRole = 'by_token' | 'by_issuer';

export function changelogKeyPrefix(role: TaskRole, partition: number): string {
  return `${role}/${partition}/`;
}

export function changelogPartition(partition: number, changelogPartitions: number): number {
  return partition % Math.max(1, changelogPartitions);
}

function encodeValue(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  return json.length > GZIP_ABOVE ? gzipSync(json, { level: 1 }) : json;
}

function decodeValue(buf: Buffer): unknown {
  const raw = buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf;
  return JSON.parse(raw.toString('utf8'));
}

/** The changelog records of one checkpoint: changed entries, the sources' watermarks, and the covered offset last. */
export function checkpointMessages(opts: {
  role: TaskRole;
  partition: number;
  changelogPartitions: number;
  entries: readonly StateEntry[];
  sources: unknown;
  offset: string;
}): { messages: Message[]; bytes: number } {
  const prefix = changelogKeyPrefix(opts.role, opts.partition);
  const partition = changelogPartition(opts.partition, opts.changelogPartitions);
  const messages: Message[] = [];
  let bytes = 0;
  const push = (key: string, value: unknown): void => {
    const v = value === undefined ? null : encodeValue(value);
    bytes += v?.length ?? 0;
    messages.push({ key: prefix + key, value: v, partition });
  };
  for (const e of opts.entries) push(e.key, e.value);
  push(SOURCES_KEY, opts.sources);
  push(OFFSET_KEY, opts.offset);
  return { messages, bytes };
}

/** What a restore found for one task: its state entries, sources and covered offset (none: start empty, replay from the earliest offset). */
export interface RestoredTaskState {
  entries: Map<string, unknown>;
  sources?: Record<string, { watermark: number; idle: boolean }>;
  offset?: string;
  /** Changelog records read (all tasks sharing the partition). */
  records: number;
}

/** Latest value per changelog key, from records in offset order (null = tombstone). */
export function foldChangelog(latest: Map<string, Buffer>, key: Buffer | null, value: Buffer | null): void {
  const k = key?.toString('utf8');
  if (k === undefined) return;
  if (value === null) latest.delete(k);
  else latest.set(k, value);
}

/** One task's state from a folded changelog partition (other tasks sharing the partition are skipped). */
export function taskStateFrom(latest: ReadonlyMap<string, Buffer>, role: TaskRole, partition: number): RestoredTaskState {
  const prefix = changelogKeyPrefix(role, partition);
  const entries = new Map<string, unknown>();
  let sources: RestoredTaskState['sources'];
  let offset: string | undefined;
  for (const [k, v] of latest) {
    if (!k.startsWith(prefix)) continue;
    const key = k.slice(prefix.length);
    const value = decodeValue(v);
    if (key === OFFSET_KEY) offset = value as string;
    else if (key === SOURCES_KEY) sources = value as RestoredTaskState['sources'];
    else entries.set(key, value);
  }
  return { entries, ...(sources && { sources }), ...(offset !== undefined && { offset }), records: latest.size };
}
