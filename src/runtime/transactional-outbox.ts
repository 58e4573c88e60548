/**
 * The Kafka runtime's transactional outbox: every effect of consumed batches (records to any
 * topics) and the consumed offsets commit atomically in one Kafka transaction, so a crash or a
 * rebalance neither loses nor repeats an effect for read_committed readers.
 *
 * Group commit: parts submitted by concurrently processed partitions queue up; one loop takes
 * every queued part (after at most `lingerMs` since the oldest arrived) into one transaction.
 * kafkajs allows one open transaction per producer, so transactions are sequential and parts
 * arriving while one is in flight go into the next.
 *
 * kafkajs facts this relies on (2.2.x):
 * - `producer.connect()` does not register the transactional id; the first `transaction()` sends
 *   InitProducerId, which bumps the epoch (fencing an older holder of the id) and makes the
 *   coordinator abort a transaction a dead predecessor left open. `connect()` does this eagerly.
 * - After a failed transaction the producer is replaced: a failed EndTxn leaves kafkajs' state
 *   machine stuck (every later `transaction()` throws), and a failed send leaves wrong sequence
 *   numbers. The new producer's InitProducerId settles what is open on the broker (a commit that
 *   reached the coordinator completes, anything else aborts) and starts a new epoch.
 * - An idempotent producer retries sends forever by default (a record to a missing topic would
 *   hang the transaction): retries are bounded here; a failed send aborts the transaction anyway.
 */
import { performance } from 'node:perf_hooks';
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import { TokenwatchError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { withGroupMetadata, type GroupMetadata } from './kafkajs-kip447.js';

export interface OutboxPart {
  /** Records to produce (any topics; a message may name its partition). */
  topicMessages: { topic: string; messages: Message[] }[];
  /** Consumed offsets this part commits (next offset to read, as kafkajs commitOffsets wants). Empty for effects without offsets. */
  offsets: { topic: string; partition: number; offset: string }[];
  /**
   * Checked when the part's transaction is put together (with the group metadata it will carry):
   * false drops the part, rejected with `PART_NOT_OWNED` — its partition left this member since it
   * was processed (one producer for many partitions, process-outbox.ts).
   */
  admissible?: () => boolean;
}

/** What an outbox, or a set of them, reports of its transactions. */
export interface OutboxTotals {
  transactions: number;
  aborted: number;
  /** Run again after CONCURRENT_TRANSACTIONS. */
  retried: number;
  /** Run again with the next group generation after the coordinator rejected their offsets'. */
  regenerated: number;
}

/** Add `from`'s counts to `into` (a set of outboxes reports their sum). */
export function addOutboxTotals(into: OutboxTotals, from: OutboxTotals): OutboxTotals {
  into.transactions += from.transactions;
  into.aborted += from.aborted;
  into.retried += from.retried;
  into.regenerated += from.regenerated;
  return into;
}

/** Rejection of a part whose partition is no longer owned when its transaction was put together. */
export const PART_NOT_OWNED = 'partition no longer owned';

export interface TransactionalOutboxOptions {
  kafka: Kafka;
  /** The runner passes `${group_id}.${instance}`. */
  transactionalId: string;
  /** sendOffsets target. */
  consumerGroupId: string;
  /** E.g. 10_000: an instance killed mid-transaction blocks read_committed readers at most this long. */
  transactionTimeoutMs: number;
  /** Longest a part waits for its transaction to start (group commit window), e.g. 5 ms. */
  lingerMs: number;
  /**
   * Least time between the starts of two transactions (Kafka Streams' commit.interval.ms): a part
   * arriving sooner after the last start waits for the rest of it, with whatever else arrives; a
   * part after a quiet spell starts at once. 0: back to back.
   */
  minIntervalMs?: number;
  /**
   * One producer for every partition of the process (KIP-447): the consumer group's generation and
   * member id, read when a transaction is put together and sent with its offsets
   * (TxnOffsetCommit v3), so the group coordinator rejects the offsets of a member the group has
   * moved past. Undefined: offsets go without (TxnOffsetCommit v1; per-partition ids fence).
   */
  groupMetadata?: () => GroupMetadata | undefined;
  logger?: Logger;
}

interface Pending {
  part: OutboxPart;
  queuedAt: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Whether `err` or one of its causes is one of these Kafka errors (by kafkajs type, or by protocol code where kafkajs maps none). */
function kafkaErrorIn(err: unknown, types: ReadonlySet<string>, codes: ReadonlySet<number>): boolean {
  for (let e = err as { type?: string; code?: number; cause?: unknown } | undefined, depth = 0; e && depth < 8; e = e.cause as typeof e, depth++) {
    if ((e.type && types.has(e.type)) || (typeof e.code === 'number' && codes.has(e.code))) return true;
  }
  return false;
}

/** Broker errors that mean a newer producer holds the transactional id (kafkajs maps PRODUCER_FENCED, code 90, to no type). */
const isFencing = (err: unknown): boolean => kafkaErrorIn(err, new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']), new Set([47, 90]));

/**
 * CONCURRENT_TRANSACTIONS (51): the coordinator is still writing the previous transaction's
 * markers when the next one adds partitions. The Java client retries it; kafkajs does not, so the
 * outbox aborts and runs the transaction again after a short pause.
 */
const isConcurrentTransactions = (err: unknown): boolean => kafkaErrorIn(err, new Set(['CONCURRENT_TRANSACTIONS']), new Set([51]));

const CONCURRENT_RETRIES = 20;

/** Group coordinator answers to offsets sent with a generation or member id the group has moved past (KIP-447). */
const isGenerationError = (err: unknown): boolean => kafkaErrorIn(err, new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']), new Set([22, 25, 82]));

/** How long a transaction rejected for its generation waits for the runner's next one before it fails (and its partitions reset). */
const GENERATION_WAIT_MS = 2_000;

/** A transaction taking longer than this (from the start of its first attempt) is logged with its steps' times. */
const SLOW_TRANSACTION_MS = 500;

const FENCED_MESSAGE = 'outbox fenced';

/** Whether a rejection came from an outbox another producer fenced (it rejects everything from then on). */
export function isOutboxFenced(err: unknown): boolean {
  for (let e = err as { message?: string; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.message === 'string' && e.message.startsWith(FENCED_MESSAGE)) return true;
  }
  return false;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class TransactionalOutbox {
  private readonly opts: TransactionalOutboxOptions;
  private producer: Producer;
  /** The producer's transaction state or sequence numbers are unusable after a failure: replace it before the next transaction. */
  private producerBroken = false;
  private admin: Admin | undefined;
  private queue: Pending[] = [];
  private inFlight = 0;
  private fatal: TokenwatchError | undefined;
  /**
   * A transaction failed: parts queued behind it must not commit (their offsets would pass the
   * failed part's records). Everything is rejected until the owner has reset the partition and
   * calls `recover()`.
   */
  private halted: TokenwatchError | undefined;
  private closing = false;
  /** performance.now() when the last transaction started (minIntervalMs counts from it). */
  private lastStartAt = -Infinity;
  private wakeLoop: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly counters = { transactions: 0, aborted: 0, parts: 0, messages: 0, last_commit_ms: 0, retried: 0, regenerated: 0 };

  constructor(opts: TransactionalOutboxOptions) {
    this.opts = opts;
    this.producer = this.newProducer();
  }

  private newProducer(): Producer {
    const { kafka, transactionalId, transactionTimeoutMs } = this.opts;
    return kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: transactionTimeoutMs,
      // bounded so a failing send ends (and aborts) its transaction well within the transaction
      // timeout (20 ms doubling, capped: ~4.5 s in all with the default 10 s timeout). The first
      // retry is short because the usual error is CONCURRENT_TRANSACTIONS: a partition's next
      // transaction starts while the coordinator still writes the previous one's markers, a few ms
      // on a healthy broker (the Java producer retries it after 20 ms too); kafkajs' 100 ms default
      // stalled every back-to-back transaction — and with it the whole fetch round — for ~100 ms.
      retry: { retries: 8, initialRetryTime: 20, maxRetryTime: Math.max(200, Math.floor(transactionTimeoutMs / 5)) },
    });
  }

  /** Connect and register the transactional id: fences an older holder and aborts what it left open. */
  private async initProducer(): Promise<void> {
    await this.producer.connect();
    // transaction() sends InitProducerId; an abort with nothing sent makes no request
    const tx = await this.producer.transaction();
    await tx.abort();
  }

  async connect(): Promise<void> {
    await this.initProducer();
    this.loop ??= this.run();
  }

  /** Resolves when the transaction holding this part committed; rejects if it aborted or failed (then nothing of the part is visible to read_committed readers and its offsets are not committed). */
  submit(part: OutboxPart): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.halted) return Promise.reject(this.halted);
    if (this.closing) return Promise.reject(new TokenwatchError('sink_failed', 'transactional outbox is closed'));
    if (part.offsets.length === 0 && part.topicMessages.every((t) => t.messages.length === 0)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ part, queuedAt: performance.now(), resolve, reject });
      this.wakeLoop?.();
    });
  }

  /** Parts waiting or in flight. */
  /** Another producer took the transactional id: this outbox rejects everything from now on. */
  get fenced(): boolean {
    return this.fatal !== undefined;
  }

  get queueDepth(): number {
    return this.queue.length + this.inFlight;
  }

  stats(): { transactions: number; aborted: number; parts: number; messages: number; last_commit_ms: number; retried: number; regenerated: number } {
    return { ...this.counters };
  }

  /** Wait for everything submitted, then disconnect. */
  async close(): Promise<void> {
    this.closing = true;
    this.wakeLoop?.();
    await this.loop;
    // parts queued before connect() was ever called
    for (const p of this.queue.splice(0)) p.reject(new TokenwatchError('sink_failed', 'transactional outbox closed before connect'));
    await this.producer.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        if (this.closing) return;
        await new Promise<void>((wake) => (this.wakeLoop = wake));
        this.wakeLoop = undefined;
        continue;
      }
      // one timer per transaction (not per part): the oldest part waits lingerMs at most, and no
      // transaction starts sooner than minIntervalMs after the last one did
      const wait = Math.max(this.queue[0]!.queuedAt + this.opts.lingerMs, this.lastStartAt + (this.opts.minIntervalMs ?? 0)) - performance.now();
      if (wait > 0 && !this.closing) await new Promise((r) => setTimeout(r, wait));
      this.lastStartAt = performance.now();
      let batch = this.queue.splice(0);
      const refused = this.fatal ?? this.halted;
      if (refused) {
        for (const p of batch) p.reject(refused);
        continue;
      }
      // the group metadata and the parts' ownership are read in one synchronous step: a part of a
      // partition the runner let go (GROUP_JOIN) never rides a transaction of the new generation
      const meta = this.opts.groupMetadata?.();
      batch = this.admissibleOnly(batch);
      if (batch.length === 0) continue;
      this.inFlight = batch.length;
      try {
        await this.transact(batch, meta);
      } finally {
        this.inFlight = 0;
      }
    }
  }

  private admissibleOnly(batch: Pending[]): Pending[] {
    if (!batch.some((p) => p.part.admissible)) return batch;
    const kept: Pending[] = [];
    for (const p of batch) {
      if (p.part.admissible === undefined || p.part.admissible()) kept.push(p);
      else p.reject(new TokenwatchError('sink_failed', PART_NOT_OWNED));
    }
    return kept;
  }

  private async transact(batch: Pending[], meta: GroupMetadata | undefined): Promise<void> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const err = await this.attempt(batch, started, meta);
      if (err === undefined) return;
      if (meta !== undefined && isGenerationError(err)) {
        // the group moved on while the transaction was put together and sent (typically this
        // member's own rejoin: its JoinGroup completed, its GROUP_JOIN is a SyncGroup away). The
        // transaction aborted, so nothing of it is visible: the parts of partitions still owned
        // since they were processed go again with the new generation; the others are dropped —
        // instead of every partition of the transaction resetting and restoring its tasks
        const next = await this.nextGeneration(meta);
        if (next !== undefined) {
          meta = next;
          batch = this.admissibleOnly(batch);
          this.counters.regenerated++;
          if (batch.length === 0) return;
          continue;
        }
      }
      if (attempt >= CONCURRENT_RETRIES || !isConcurrentTransactions(err)) return this.failed(batch, err);
      this.counters.retried++;
      await new Promise((r) => setTimeout(r, Math.min(100, 5 * attempt)));
    }
  }

  /** The runner's group metadata once it differs from `used`, or undefined after GENERATION_WAIT_MS (a member the group dropped: its rejoin may take a session). */
  private async nextGeneration(used: GroupMetadata): Promise<GroupMetadata | undefined> {
    const deadline = performance.now() + GENERATION_WAIT_MS;
    for (;;) {
      const now = this.opts.groupMetadata?.();
      if (now !== undefined && (now.generationId !== used.generationId || now.memberId !== used.memberId)) return now;
      if (performance.now() >= deadline || this.closing) return undefined;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** One try at the batch's transaction: undefined when it was settled (committed or fenced), else the error to retry or fail with. */
  private async attempt(batch: Pending[], started: number, meta: GroupMetadata | undefined): Promise<unknown> {
    const topicMessages = mergeMessages(batch);
    const topics = mergeOffsets(batch);
    let messageCount = 0;
    for (const t of topicMessages) messageCount += t.messages.length;
    let commitSent = false;
    try {
      if (this.producerBroken) await this.replaceProducer();
      const tx = await this.producer.transaction().catch((err: unknown) => {
        // after init, transaction() makes no request: a throw means its state machine is stuck
        this.producerBroken = true;
        throw err;
      });
      try {
        // one produce request per chunk: a broker limits each partition's record batch (message.max.bytes)
        const t0 = performance.now();
        for (const chunk of produceChunks(topicMessages, MAX_BATCH_BYTES)) await tx.sendBatch({ topicMessages: chunk, acks: -1 });
        const t1 = performance.now();
        if (topics.length > 0) {
          const send = (): Promise<void> => tx.sendOffsets({ consumerGroupId: this.opts.consumerGroupId, topics });
          if (this.opts.groupMetadata === undefined) await send();
          else if (meta === undefined) throw new TokenwatchError('sink_failed', 'offsets without a group generation: not a member of the group (yet)');
          else await withGroupMetadata(this.opts.transactionalId, meta, send);
        }
        commitSent = true;
        const t2 = performance.now();
        await tx.commit();
        const t3 = performance.now();
        if (t3 - started > SLOW_TRANSACTION_MS) this.opts.logger?.warn({ transactional_id: this.opts.transactionalId, parts: batch.length, messages: messageCount, ms: { queued: Math.round(t0 - started), produce: Math.round(t1 - t0), offsets: Math.round(t2 - t1), commit: Math.round(t3 - t2) } }, 'slow transaction');
      } catch (err) {
        // abort errors are ignored: the next InitProducerId (or the transaction timeout) aborts it
        if (tx.isActive()) await tx.abort().catch(() => undefined);
        // kafkajs rolls back the sequence numbers of every partition of a failed produce request,
        // also of those the broker accepted: the next send would get OUT_OF_ORDER_SEQUENCE_NUMBER.
        // A new producer id/epoch (as the Java client bumps the epoch after an abortable error) resets them.
        // Not for CONCURRENT_TRANSACTIONS: nothing was produced, and a new epoch would fence whichever
        // other process still holds the id, which answers with a new epoch of its own (ping-pong).
        if (!isConcurrentTransactions(err)) this.producerBroken = true;
        throw err;
      }
    } catch (err) {
      if (isFencing(err)) {
        this.fence(batch, err);
        return undefined;
      }
      if (commitSent && (await this.committedDespiteError(topics).catch(() => false))) {
        this.committed(batch, messageCount, started);
        return undefined;
      }
      return err;
    }
    this.committed(batch, messageCount, started);
    return undefined;
  }

  private failed(batch: Pending[], err: unknown): void {
    let messageCount = 0;
    for (const t of mergeMessages(batch)) messageCount += t.messages.length;
    this.counters.aborted++;
    this.opts.logger?.warn({ parts: batch.length, messages: messageCount, err: messageOf(err) }, 'outbox transaction aborted');
    const failure = new TokenwatchError('sink_failed', `outbox transaction aborted: ${messageOf(err)}`, undefined, { cause: err });
    this.halted = failure;
    for (const p of [...batch, ...this.queue.splice(0)]) p.reject(failure);
  }

  /** Whether a failed transaction halted the outbox (see `recover`). */
  get isHalted(): boolean {
    return this.halted !== undefined;
  }

  /**
   * After a failed transaction: settle it on the broker (a new producer's InitProducerId completes
   * a commit that reached the coordinator and aborts anything else), then accept parts again. The
   * caller reads the committed offsets after this, and resumes from them.
   */
  async recover(): Promise<void> {
    if (this.fatal) throw this.fatal;
    if (this.producerBroken || this.halted) await this.replaceProducer();
    this.halted = undefined;
  }

  private committed(batch: Pending[], messageCount: number, started: number): void {
    this.counters.transactions++;
    this.counters.parts += batch.length;
    this.counters.messages += messageCount;
    this.counters.last_commit_ms = performance.now() - started;
    for (const p of batch) p.resolve();
  }

  private fence(batch: Pending[], err: unknown): void {
    this.counters.aborted++;
    this.fatal = new TokenwatchError(
      'sink_failed',
      `${FENCED_MESSAGE}: another producer took transactionalId "${this.opts.transactionalId}" (${messageOf(err)}); this instance must stop producing`,
      undefined,
      { cause: err },
    );
    this.opts.logger?.error({ transactional_id: this.opts.transactionalId, err: messageOf(err) }, 'outbox fenced');
    for (const p of [...batch, ...this.queue.splice(0)]) p.reject(this.fatal);
  }

  /** A fresh producer; its InitProducerId completes or aborts the transaction the old one left open. */
  private async replaceProducer(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
    this.producer = this.newProducer();
    await this.initProducer();
    this.producerBroken = false;
  }

  /**
   * EndTxn(commit) failed without an answer: the commit may have reached the coordinator. Once a
   * new producer has settled the transaction, the group's committed offsets tell which way it went
   * (they equal ours only if it committed). Without offsets the outcome stays unknown and the parts
   * reject — the runner resumes from the committed offsets, which are the truth either way.
   */
  private async committedDespiteError(topics: ReturnType<typeof mergeOffsets>): Promise<boolean> {
    if (topics.length === 0) return false;
    await this.replaceProducer();
    this.admin ??= this.opts.kafka.admin();
    await this.admin.connect();
    const fetched = await this.admin.fetchOffsets({ groupId: this.opts.consumerGroupId, topics: topics.map((t) => t.topic) });
    const committed = new Map<string, string>();
    for (const t of fetched) for (const p of t.partitions) committed.set(`${t.topic}\u0000${p.partition}`, p.offset);
    return topics.every((t) => t.partitions.every((p) => committed.get(`${t.topic}\u0000${p.partition}`) === p.offset));
  }
}

/**
 * Most bytes of record values (and keys) one produce request puts into one partition's record
 * batch: brokers reject a batch above `message.max.bytes` (1 MiB by default, record overhead
 * included). kafkajs sends all of a request's messages for a partition as one batch, so a part
 * with several 512 KiB repartition frames for one partition — a large fetch, concentrated issuers
 * — is split over several requests of the same transaction.
 */
export const MAX_BATCH_BYTES = 768 * 1024;

const messageBytes = (m: Message): number => (m.value ? (m.value as Buffer | string).length : 0) + (m.key ? (m.key as Buffer | string).length : 0) + 64;

/**
 * topicMessages split into consecutive chunks in which no partition's messages exceed `maxBytes`
 * (a message without an explicit partition counts against every partition of its topic: the
 * partitioner picks one later). A single message above the limit travels alone. Order within a
 * partition is kept: chunks are sent one after another.
 */
export function produceChunks(topicMessages: readonly { topic: string; messages: Message[] }[], maxBytes: number): { topic: string; messages: Message[] }[][] {
  const chunks: { topic: string; messages: Message[] }[][] = [];
  let current = new Map<string, Message[]>();
  /** Bytes per topic: per explicit partition, and of messages the partitioner will place. */
  let load = new Map<string, { byPartition: Map<number, number>; unplaced: number }>();
  const flush = (): void => {
    if (current.size === 0) return;
    chunks.push([...current].map(([topic, messages]) => ({ topic, messages })));
    current = new Map();
    load = new Map();
  };
  for (const { topic, messages } of topicMessages) {
    for (const m of messages) {
      const size = messageBytes(m);
      let t = load.get(topic);
      // an unplaced message may land on any partition: it counts against the fullest one
      const fullest = (): number => {
        let max = 0;
        if (t) for (const v of t.byPartition.values()) if (v > max) max = v;
        return max;
      };
      const used = t === undefined ? 0 : t.unplaced + (m.partition === undefined ? fullest() : (t.byPartition.get(m.partition) ?? 0));
      if (used > 0 && used + size > maxBytes) {
        flush();
        t = undefined;
      }
      if (!t) load.set(topic, (t = { byPartition: new Map(), unplaced: 0 }));
      if (m.partition === undefined) t.unplaced += size;
      else t.byPartition.set(m.partition, (t.byPartition.get(m.partition) ?? 0) + size);
      let list = current.get(topic);
      if (!list) current.set(topic, (list = []));
      list.push(m);
    }
  }
  flush();
  return chunks;
}

/** One entry per topic, messages in submit order. */
function mergeMessages(batch: readonly Pending[]): { topic: string; messages: Message[] }[] {
  const byTopic = new Map<string, Message[]>();
  for (const { part } of batch) {
    for (const { topic, messages } of part.topicMessages) {
      if (messages.length === 0) continue;
      const into = byTopic.get(topic);
      if (into) for (const m of messages) into.push(m);
      else byTopic.set(topic, messages.slice());
    }
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** The highest offset per partition: later batches of a partition supersede earlier ones. */
function mergeOffsets(batch: readonly Pending[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const byTopic = new Map<string, Map<number, bigint>>();
  for (const { part } of batch) {
    for (const { topic, partition, offset } of part.offsets) {
      let partitions = byTopic.get(topic);
      if (!partitions) byTopic.set(topic, (partitions = new Map()));
      const next = BigInt(offset);
      const prev = partitions.get(partition);
      if (prev === undefined || next > prev) partitions.set(partition, next);
    }
  }
  return [...byTopic].map(([topic, partitions]) => ({
    topic,
    partitions: [...partitions].map(([partition, offset]) => ({ partition, offset: offset.toString() })),
  }));
}
