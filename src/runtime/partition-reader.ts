/**
 * Reads one partition's offset range [from, to) with read_committed semantics: the restore path
 * of a detection task (its compacted changelog partition from the beginning to its end, and its
 * input partition from a checkpoint up to the group's committed offset).
 *
 * kafkajs has no manual `assign()`. The reader joins a throwaway group whose only member gets,
 * through a custom partition assigner, exactly the wanted partition (no other partition is ever
 * fetched, nothing to pause), seeks it to `from` before the first fetch and stops when its
 * position reaches `to`.
 *
 * End detection never waits for a later record: the position advances past every fetched offset,
 * including those of control records (transaction markers) and aborted records, which kafkajs
 * filters out of `batch.messages`. A fetch made only of such records never reaches `eachBatch`;
 * kafkajs reports it with an END_BATCH_PROCESS event whose `lastOffset` is its last offset.
 * `'end'` is the last stable offset when the read starts: the admin's ListOffsets uses
 * READ_COMMITTED, so `fetchTopicOffsets(...).high` is the LSO (the end of committed data), not
 * the high watermark — a read_committed fetch can never pass it, so reading to the high
 * watermark could hang behind an open transaction.
 *
 * kafkajs drops record-batch headers, so a fetch returning only a batch emptied by the log cleaner
 * cannot advance the position. That never ends a range: the last batch of a partition sits in its
 * active segment, which the cleaner leaves alone, and an emptied batch inside the log comes back
 * with the batches after it (as long as they fit in `maxBytesPerPartition`).
 */
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, PartitionAssigner } from 'kafkajs';
import { TokenwatchError } from '../core/errors.js';
import { withHeartbeats } from './batch-heartbeat.js';

const { AssignerProtocol } = kafkajs;

export interface PartitionRange {
  topic: string;
  partition: number;
  /** First offset to read (inclusive); 'earliest' for the partition's low watermark. */
  from: string | 'earliest';
  /**
   * Stop before this offset; 'end' = the partition's end as a read_committed reader sees it when
   * the read starts (last stable offset). An explicit offset beyond the LSO waits (up to the
   * timeout) for the open transactions below it to end.
   */
  to: string | 'end';
}

export interface ReadPartitionOptions {
  kafka: Kafka;
  admin: Admin;
  /** Prefix of the throwaway consumer group (deleted afterwards). */
  groupPrefix: string;
  timeoutMs: number;
  /** Called with the messages of the range in offset order (committed, non-control records only); may be async (backpressure). */
  onMessages: (messages: KafkaMessage[]) => void | Promise<void>;
  /** Called while waiting (the caller's consumer heartbeat); its failures are the caller's to act on. */
  heartbeat?: () => Promise<void>;
  /** Fetch size (default 4 MiB); keep it at least twice the largest record batch of the topic. */
  maxBytesPerPartition?: number;
}

export interface ReadPartitionResult {
  /** Messages passed to `onMessages`. */
  messages: number;
  /** Offset of the last message passed to `onMessages`; null when none. */
  lastOffset: string | null;
  /** The range as resolved: `from` clamped to the low watermark, `to` with 'end' resolved. */
  from: string;
  to: string;
  ms: number;
}

const CALLER_HEARTBEAT_MS = 1000;
/** Fetch long-poll: a finished read disconnects after at most one of these. */
const MAX_WAIT_MS = 250;
/** Small records: a few MiB per fetch keeps 100k records to a few dozen round trips. */
const DEFAULT_MAX_BYTES_PER_PARTITION = 4 * 1024 * 1024;
const CLEANUP_GRACE_MS = 10_000;

/** Assigns `partition` of `topic` (and nothing else) to the group's first member. */
function singlePartitionAssigner(topic: string, partition: number): PartitionAssigner {
  return () => ({
    name: 'TokenwatchSinglePartition',
    version: 0,
    async assign({ members }) {
      const [first, ...rest] = members.map((m) => m.memberId).sort();
      const none = AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: {}, userData: Buffer.alloc(0) });
      return [
        ...(first === undefined ? [] : [{ memberId: first, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { [topic]: [partition] }, userData: Buffer.alloc(0) }) }]),
        ...rest.map((memberId) => ({ memberId, memberAssignment: none })),
      ];
    },
    protocol({ topics }) {
      return { name: 'TokenwatchSinglePartition', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

function parseOffset(what: string, value: string): bigint {
  if (!/^\d+$/.test(value)) throw new TokenwatchError('source_failed', `partition reader: ${what} offset "${value}" is not a non-negative integer`);
  return BigInt(value);
}

const sourceFailed = (range: PartitionRange, message: string, cause?: unknown): TokenwatchError =>
  new TokenwatchError('source_failed', `reading ${range.topic}[${range.partition}]: ${message}`, undefined, cause === undefined ? undefined : { cause });

/** Low watermark and last stable offset of one partition; rejects on an unknown topic or partition. */
/**
 * kafkajs' admin is not safe for concurrent offset listings (fetchTopicOffsets of two topics at
 * once fails inside kafkajs: `Cannot destructure property 'partitions' of 'high.pop(...)'`), and
 * tasks restore concurrently: listings through one admin run one at a time.
 */
const adminQueues = new WeakMap<Admin, Promise<unknown>>();

function serialized<T>(admin: Admin, fn: () => Promise<T>): Promise<T> {
  const run = (adminQueues.get(admin) ?? Promise.resolve()).then(fn, fn);
  adminQueues.set(admin, run.catch(() => undefined));
  return run;
}

/** kafkajs' `fetchTopicOffsets` through the admin's queue: safe while other listings run (tests, benches, `groupLag`). */
export function topicOffsets(admin: Admin, topic: string): ReturnType<Admin['fetchTopicOffsets']> {
  return serialized(admin, () => admin.fetchTopicOffsets(topic));
}

function partitionBounds(admin: Admin, range: PartitionRange): Promise<{ low: bigint; lso: bigint }> {
  return serialized(admin, () => listBounds(admin, range));
}

async function listBounds(admin: Admin, range: PartitionRange): Promise<{ low: bigint; lso: bigint }> {
  try {
    // metadata first: fetchTopicOffsets retries an unknown topic for ~12 s before failing
    const meta = await admin.fetchTopicMetadata({ topics: [range.topic] });
    const partitions = meta.topics.find((t) => t.name === range.topic)?.partitions ?? [];
    if (!partitions.some((p) => p.partitionId === range.partition)) throw new Error(`the topic has no partition ${range.partition} (${partitions.length} partitions)`);
    const offsets = await admin.fetchTopicOffsets(range.topic);
    const p = offsets.find((o) => o.partition === range.partition);
    if (!p) throw new Error(`no offsets listed for partition ${range.partition}`);
    return { low: BigInt(p.low), lso: BigInt(p.high) };
  } catch (cause) {
    throw sourceFailed(range, `cannot list the partition's offsets: ${(cause as Error).message}`, cause);
  }
}

/** Read [from, to) of one partition; see the module comment. */
export async function readPartitionRange(range: PartitionRange, opts: ReadPartitionOptions): Promise<ReadPartitionResult> {
  const started = Date.now();
  const elapsed = (): number => Date.now() - started;
  let from = range.from === 'earliest' ? undefined : parseOffset('from', range.from);
  let to = range.to === 'end' ? undefined : parseOffset('to', range.to);
  const empty = (f: bigint, t: bigint): ReadPartitionResult => ({ messages: 0, lastOffset: null, from: f.toString(), to: t.toString(), ms: elapsed() });
  if (from !== undefined && to !== undefined && from >= to) return empty(from, to);

  let boundsTimer: NodeJS.Timeout | undefined;
  const { low, lso } = await Promise.race([
    partitionBounds(opts.admin, range),
    new Promise<never>((_, reject) => {
      boundsTimer = setTimeout(() => reject(sourceFailed(range, `offsets not listed within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    }),
  ]).finally(() => clearTimeout(boundsTimer));
  // below the low watermark the records are gone (retention, deleted records): start at the first one left
  from = from === undefined || from < low ? low : from;
  to ??= lso;
  if (from >= to) return empty(from, to);

  const groupId = `${opts.groupPrefix}.${randomUUID()}`;
  const consumer = opts.kafka.consumer({
    groupId,
    partitionAssigners: [singlePartitionAssigner(range.topic, range.partition)],
    allowAutoTopicCreation: false,
    readUncommitted: false,
    maxWaitTimeInMs: MAX_WAIT_MS,
    maxBytesPerPartition: opts.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION,
    sessionTimeout: 30_000,
    heartbeatInterval: 3000,
    // a crash fails the read (the caller retries it whole); a restart would lose the seek
    retry: { retries: 5, restartOnFailure: async () => false },
  });
  const fromOffset = from;
  const toOffset = to;
  let delivered = 0;
  let lastOffset: string | null = null;
  /** Next offset to pass on: everything below it was delivered or skipped (control/aborted/compacted). */
  let next = fromOffset;
  let finished = false;
  let callerBeat: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;

  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string, cause?: unknown): void => {
        finished = true;
        reject(sourceFailed(range, message, cause));
      };
      /** The position moved past `last` (inclusive): the range is read once it reaches `to`. */
      const advance = (last: string): void => {
        const after = BigInt(last) + 1n;
        if (after > next) next = after;
        if (!finished && next >= toOffset) {
          finished = true;
          resolve();
        }
      };
      timer = setTimeout(
        () => fail(`range [${fromOffset}, ${toOffset}) not read within ${opts.timeoutMs} ms (read up to ${next}; last stable offset was ${lso} at the start)`),
        Math.max(0, opts.timeoutMs - elapsed()), // one budget for listing the offsets and reading
      );
      if (opts.heartbeat) {
        const beat = opts.heartbeat;
        let beating = false;
        callerBeat = setInterval(() => {
          if (beating) return;
          beating = true;
          beat()
            .catch(() => undefined)
            .finally(() => {
              beating = false;
            });
        }, CALLER_HEARTBEAT_MS);
        callerBeat.unref();
      }
      // fetches made only of control records or aborted records skip eachBatch; this still sees them
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic === range.topic && payload.partition === range.partition && !finished) advance(payload.lastOffset);
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!finished) fail(`the reader's consumer crashed: ${payload.error.message}`, payload.error);
      });

      const eachBatch = async ({ batch, heartbeat }: EachBatchPayload): Promise<void> => {
        if (finished || batch.topic !== range.topic || batch.partition !== range.partition) return;
        let messages = batch.messages;
        const first = messages[0];
        const last = messages[messages.length - 1];
        // per-message offset checks only on the batches at the range's edges (or re-fetched ones)
        if (first && last && (BigInt(first.offset) < next || BigInt(last.offset) >= toOffset)) {
          messages = messages.filter((m) => {
            const o = BigInt(m.offset);
            return o >= next && o < toOffset;
          });
        }
        if (messages.length > 0) {
          try {
            // the reader's own membership survives a slow onMessages (backpressure)
            await withHeartbeats(heartbeat, 3000, async () => opts.onMessages(messages));
          } catch (cause) {
            fail(`onMessages failed: ${(cause as Error).message}`, cause);
            return;
          }
          delivered += messages.length;
          lastOffset = messages[messages.length - 1]!.offset;
        }
        advance(batch.lastOffset());
      };

      consumer
        .connect()
        .then(() => consumer.subscribe({ topics: [range.topic], fromBeginning: true }))
        .then(() => {
          if (finished) return;
          const running = consumer.run({ autoCommit: false, eachBatch });
          // run() creates the consumer group synchronously: the seek is in place before the first fetch
          consumer.seek({ topic: range.topic, partition: range.partition, offset: fromOffset.toString() });
          return running;
        })
        .catch((cause: unknown) => {
          if (!finished) fail(`cannot start the reader's consumer: ${(cause as Error).message}`, cause);
        });
    });
    return { messages: delivered, lastOffset, from: fromOffset.toString(), to: toOffset.toString(), ms: elapsed() };
  } finally {
    finished = true;
    clearTimeout(timer);
    clearInterval(callerBeat);
    // disconnecting waits for an onMessages still running (a timeout while the caller is stuck):
    // the outcome is not held back longer than CLEANUP_GRACE_MS by it, the clean-up goes on behind
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([cleanUp(consumer, opts.admin, groupId), new Promise<void>((r) => (graceTimer = setTimeout(r, CLEANUP_GRACE_MS).unref()))]);
    clearTimeout(graceTimer);
  }
}

/** Disconnect (leaves the group) and delete the throwaway group; best effort, never throws. */
async function cleanUp(consumer: Consumer, admin: Admin, groupId: string): Promise<void> {
  await consumer.disconnect().catch(() => undefined);
  // an empty group without offsets may already be gone (GROUP_ID_NOT_FOUND): nothing to delete then
  await admin.deleteGroups([groupId]).catch(() => undefined);
}
