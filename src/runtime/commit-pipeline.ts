/**
 * Pipelined transactional commits per owned partition (Kafka Streams commits on an interval, not
 * per batch): a batch's effects and consumed offset are queued on its partition's transactional
 * outbox (partition-outboxes.ts) and the batch returns at once. kafkajs fetches its next round
 * while the transaction is in flight, and the outbox takes everything queued meanwhile into the
 * next one — the fetch loop no longer waits for a commit per round.
 *
 * Processing now runs ahead of what committed; exactly once still holds because:
 * - Admission: a partition's first batch after every group join waits for its own transactions
 *   in flight, then — when its producer is new, which fenced the previous owner and settled what
 *   it left open — reads the group's committed offset. kafkajs read its start offset before that
 *   fence; records below the committed offset were committed by the previous owner since, and
 *   are skipped (`Ticket.from`).
 * - Failure: a failed transaction halts the partition's outbox (nothing queued behind it may
 *   commit past its records). The lane pauses the partition, the stage drops the partition's
 *   state (`onReset`), the outbox settles the transaction on the broker, and the consumer seeks
 *   back to the committed offset read then. Batches of the partition meanwhile are skipped
 *   unresolved. Fenced by another producer: the lane waits for the group's next join (the group
 *   has moved the partition, or soon will) or two session timeouts, so two owners never take the
 *   id back and forth.
 * - At most `depth` batches per partition wait for their transaction (memory, and how much a
 *   failure re-reads).
 * - A detection batch whose only effect is its offset (no alert, dead letter or changelog record)
 *   opens no transaction: its offset rides with the partition's next one or the periodic flush
 *   (`flushDeferred`). Read again after a crash it gives nothing again — half the transactions of
 *   a live load were such offset-only commits.
 */
import type { Logger } from '../core/logger.js';
import { isOutboxFenced, type OutboxPart, type OutboxTotals } from './transactional-outbox.js';
import type { ConsumerControl } from './consumer-control.js';

/** What a lane needs of the partitions' transactional producers (partition-outboxes.ts). */
export interface LaneOutboxes {
  submit(topic: string, partition: number, part: OutboxPart): Promise<void>;
  /** True when a producer was created now (it fenced the previous owner). */
  open(topic: string, partition: number): Promise<boolean>;
  committedOffset(topic: string, partition: number): Promise<bigint | undefined>;
  recover(topic: string, partition: number): Promise<void>;
}

/** What the runner holds: the per-partition producers (partition-outboxes.ts) or one for the process (process-outbox.ts). */
export interface RunnerOutboxes extends LaneOutboxes {
  keepOnly(owned: ReadonlySet<string>): Promise<void>;
  queueDepth(): number;
  stats(): OutboxTotals;
  closeAll(): Promise<void>;
}

/** What a lane needs of the consumer. */
export type LaneConsumer = ConsumerControl;

export interface CommitPipelineOptions {
  outboxes: LaneOutboxes;
  /** Most batches of one partition processed and not yet committed (e.g. 4). */
  depth: number;
  /** A fenced lane waits at most this long for the group's next join before taking its id back. */
  fencedWaitMs: number;
  /** Drop whatever state the stage holds for the partition: it is ahead of what committed. */
  onReset: (topic: string, partition: number) => void;
  /** Wraps each part's commit (the runner times it as the `kafka_transaction` sink). */
  timeCommit?: (commit: () => Promise<void>) => Promise<void>;
  log: Logger;
}

interface Lane {
  readonly topic: string;
  readonly partition: number;
  /** The group join this lane was last admitted in (undefined: never, or re-admission needed). */
  admittedIn: number | undefined;
  admitting: Promise<void> | undefined;
  /** Next offset to process as committed — by the group before admission, by this lane since. */
  committed: bigint | undefined;
  /** Settle promises of the parts submitted, oldest first (removed once settled). */
  readonly outstanding: Promise<void>[];
  /** Bumped by every reset: tickets issued before are void. */
  epoch: number;
  resetting: Promise<void> | undefined;
  owned: boolean;
  /** Offset of batches that had no effect but their offset, not yet committed (`flushDeferred`). */
  deferred: bigint | undefined;
}

/** A batch admitted for processing: its records from `from` on are to be processed. */
export interface Ticket {
  readonly lane: Lane;
  readonly epoch: number;
  /** First offset not yet committed (undefined: the group has no committed offset, process all). */
  readonly from: bigint | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class CommitPipeline {
  private readonly lanes = new Map<string, Lane>();
  /** Partitions of the current assignment (`topic/partition`). */
  private owned: ReadonlySet<string> = new Set();
  private generation = 0;
  private consumer: LaneConsumer | undefined;
  private wakeJoin: (() => void)[] = [];
  private closed = false;
  /** Resets done (failed or fenced transactions). */
  resets = 0;

  constructor(private readonly opts: CommitPipelineOptions) {}

  /** The consumer whose partitions a reset pauses, seeks and resumes. */
  attach(consumer: LaneConsumer): void {
    this.consumer = consumer;
  }

  /** A group join: every kept lane is admitted again (kafkajs re-read its offsets); lanes of partitions gone are dropped. */
  newGeneration(owned: ReadonlySet<string>): void {
    this.generation++;
    this.owned = owned;
    for (const [id, lane] of this.lanes) {
      if (owned.has(id)) continue;
      lane.owned = false;
      this.lanes.delete(id);
    }
    for (const wake of this.wakeJoin.splice(0)) wake();
  }

  /**
   * Admit a batch of `topic/partition`: waits for the lane's admission after a join and for room
   * under `depth`. `firstOffset`: the batch's first record (where kafkajs started, if the group
   * has committed nothing yet). Undefined: skip the batch without resolving it (its partition is
   * being reset and a seek is pending, kafkajs marked it stale, or it is not assigned here — a
   * batch fetched before a rebalance must not open a producer that fences the new owner).
   */
  async admit(topic: string, partition: number, firstOffset: string, isStale: () => boolean): Promise<Ticket | undefined> {
    const lane = this.laneFor(topic, partition);
    for (;;) {
      if (lane === undefined || lane.resetting || isStale() || !lane.owned) return undefined;
      if (lane.admittedIn !== this.generation) {
        await (lane.admitting ??= this.admitLane(lane, firstOffset));
        continue;
      }
      const oldest = lane.outstanding[0];
      if (oldest !== undefined && lane.outstanding.length >= this.opts.depth) {
        await oldest;
        continue;
      }
      return { lane, epoch: lane.epoch, from: lane.committed };
    }
  }

  /** Whether a ticket still holds: no reset since it was issued. Check after any await, before processing. */
  valid(t: Ticket): boolean {
    return t.epoch === t.lane.epoch && t.lane.resetting === undefined && t.lane.owned;
  }

  /**
   * Queue a batch's part. `next`: the offset the part commits for its own partition. `onCommitted`
   * runs once its transaction committed. Returns false (nothing queued) for a void ticket. A
   * failed transaction never reaches the caller: the lane resets the partition.
   */
  submit(t: Ticket, part: OutboxPart, next: bigint | undefined, onCommitted: () => void, opts: { deferOffsetOnly?: boolean } = {}): boolean {
    if (!this.valid(t)) return false;
    const { lane } = t;
    if (opts.deferOffsetOnly && next !== undefined && part.topicMessages.every((m) => m.messages.length === 0)) {
      // nothing but an offset: read again after a crash, such a batch gives nothing again (the
      // task's state at the committed offset is restored exactly), so its offset can wait for
      // the next transaction of the partition or the next flush — a transaction fewer per batch
      if (lane.deferred === undefined || next > lane.deferred) lane.deferred = next;
      onCommitted();
      return true;
    }
    if (next !== undefined && lane.deferred !== undefined && next >= lane.deferred) lane.deferred = undefined;
    // one producer for many partitions: a part of a partition let go before its transaction is put together is dropped
    part.admissible = () => this.valid(t);
    const commit = (): Promise<void> => this.opts.outboxes.submit(lane.topic, lane.partition, part);
    const settled = (this.opts.timeCommit ? this.opts.timeCommit(commit) : commit()).then(
      () => {
        if (next !== undefined && (lane.committed === undefined || next > lane.committed)) lane.committed = next;
        try {
          onCommitted();
        } catch (err) {
          this.opts.log.error({ err: { message: (err as Error).message }, partition: `${lane.topic}/${lane.partition}` }, 'after-commit handler failed');
        }
      },
      (err: unknown) => this.failed(lane, t.epoch, err),
    );
    lane.outstanding.push(settled);
    void settled.then(() => {
      const i = lane.outstanding.indexOf(settled);
      if (i >= 0) lane.outstanding.splice(i, 1);
    });
    return true;
  }

  /**
   * Work of a ticket whose part is not submitted yet (stage 1 on an ingest thread; `work` submits
   * it, or finds the ticket void, and never rejects): it counts as outstanding until done — against
   * `depth`, and for a new generation's admission (whose committed offset must include it) and a drain.
   */
  hold(t: Ticket, work: Promise<void>): void {
    const { lane } = t;
    lane.outstanding.push(work);
    void work.then(() => {
      const i = lane.outstanding.indexOf(work);
      if (i >= 0) lane.outstanding.splice(i, 1);
    });
  }

  /** Wait until every part of the ticket's partition submitted so far has settled; false if a reset voided the ticket meanwhile. */
  async drained(t: Ticket): Promise<boolean> {
    await untilSettled(t.lane);
    return this.valid(t);
  }

  /** The committed offset of a partition, as this lane knows it. */
  committedOffset(topic: string, partition: number): bigint | undefined {
    return this.lanes.get(`${topic}/${partition}`)?.committed;
  }

  /** Whether everything of the partition processed so far has committed (admitted in this generation, nothing outstanding, no reset). */
  settledLane(topic: string, partition: number): boolean {
    const lane = this.lanes.get(`${topic}/${partition}`);
    return lane !== undefined && lane.owned && lane.admittedIn === this.generation && lane.outstanding.length === 0 && lane.resetting === undefined;
  }

  /** An offset committed outside a transaction (past trailing transaction markers). */
  noteCommitted(topic: string, partition: number, offset: bigint): void {
    const lane = this.lanes.get(`${topic}/${partition}`);
    if (lane && (lane.committed === undefined || offset > lane.committed)) lane.committed = offset;
    if (lane?.deferred !== undefined && lane.deferred <= offset) lane.deferred = undefined;
  }

  /**
   * A ticket for work outside a batch (idle watermark records): only for a lane admitted in this
   * generation, not resetting and with room; undefined otherwise (try again later).
   */
  ticketNow(topic: string, partition: number): Ticket | undefined {
    const lane = this.laneFor(topic, partition);
    if (lane === undefined || !lane.owned || lane.resetting || lane.outstanding.length >= this.opts.depth) return undefined;
    if (lane.admittedIn !== this.generation) {
      // a partition that never had a batch still speaks (idle watermark records): admit it now
      lane.admitting ??= this.admitLane(lane, undefined);
      lane.admitting.catch(() => undefined);
      return undefined;
    }
    return { lane, epoch: lane.epoch, from: lane.committed };
  }

  /** Parts of all lanes not yet settled. */
  get outstanding(): number {
    let n = 0;
    for (const l of this.lanes.values()) n += l.outstanding.length;
    return n;
  }

  /** Commit the deferred offsets (offset-only batches) of every lane that can take a part now. */
  flushDeferred(): void {
    for (const lane of this.lanes.values()) {
      if (lane.deferred === undefined || !lane.owned || lane.resetting || lane.admittedIn !== this.generation) continue;
      const next = lane.deferred;
      if (lane.committed !== undefined && next <= lane.committed) {
        lane.deferred = undefined;
        continue;
      }
      const part: OutboxPart = { topicMessages: [], offsets: [{ topic: lane.topic, partition: lane.partition, offset: next.toString() }] };
      this.submit({ lane, epoch: lane.epoch, from: lane.committed }, part, next, () => undefined);
    }
  }

  /** Wait for every part submitted so far (deferred offsets flushed first), and for resets under way (graceful stop). */
  async drainAll(): Promise<void> {
    this.flushDeferred();
    for (;;) {
      const pending: Promise<unknown>[] = [];
      for (const l of this.lanes.values()) {
        pending.push(...l.outstanding);
        if (l.resetting) pending.push(l.resetting);
      }
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  close(): void {
    this.closed = true;
    for (const wake of this.wakeJoin.splice(0)) wake();
  }

  private laneFor(topic: string, partition: number): Lane | undefined {
    const id = `${topic}/${partition}`;
    let lane = this.lanes.get(id);
    if (lane === undefined) {
      if (!this.owned.has(id)) return undefined;
      lane = { topic, partition, admittedIn: undefined, admitting: undefined, committed: undefined, outstanding: [], epoch: 0, resetting: undefined, owned: true, deferred: undefined };
      this.lanes.set(id, lane);
    }
    return lane;
  }

  private async admitLane(lane: Lane, firstOffset: string | undefined): Promise<void> {
    const generation = this.generation;
    try {
      await untilSettled(lane);
      const fresh = await this.opts.outboxes.open(lane.topic, lane.partition);
      // nothing committed yet: the group starts where kafkajs began (from_beginning or the end)
      if (fresh || lane.committed === undefined) {
        lane.committed = (await this.opts.outboxes.committedOffset(lane.topic, lane.partition)) ?? (firstOffset === undefined ? undefined : BigInt(firstOffset));
      }
      lane.admittedIn = generation;
    } finally {
      lane.admitting = undefined;
    }
  }

  private failed(lane: Lane, epoch: number, err: unknown): void {
    if (epoch !== lane.epoch || lane.resetting) return; // this failure's reset is under way, or done
    lane.epoch++;
    lane.deferred = undefined; // re-read from the committed offset anyway
    this.resets++;
    const { topic, partition } = lane;
    const fenced = isOutboxFenced(err);
    if (lane.owned) this.opts.log.warn({ partition: `${topic}/${partition}`, fenced, err: { message: (err as Error).message?.slice(0, 300) } }, 'transaction failed: resetting the partition to its committed offset');
    else this.opts.log.info({ partition: `${topic}/${partition}`, err: { message: (err as Error).message?.slice(0, 300) } }, 'transaction part of a partition let go dropped: its next owner reads from the committed offset');
    this.consumer?.pause([{ topic, partitions: [partition] }]);
    this.opts.onReset(topic, partition);
    lane.resetting = this.reset(lane, fenced).finally(() => {
      lane.resetting = undefined;
    });
  }

  private async reset(lane: Lane, fenced: boolean): Promise<void> {
    const { topic, partition } = lane;
    if (fenced) {
      const joined = new Promise<void>((wake) => this.wakeJoin.push(wake));
      await Promise.race([joined, sleep(this.opts.fencedWaitMs)]);
    }
    try {
      for (let attempt = 0; lane.owned && !this.closed; attempt++) {
        try {
          await this.opts.outboxes.recover(topic, partition);
          lane.committed = (await this.opts.outboxes.committedOffset(topic, partition)) ?? lane.committed;
          // committed is known from admission on (the group's offset, or where kafkajs began)
          this.consumer?.seek({ topic, partition, offset: (lane.committed ?? 0n).toString() });
          return;
        } catch (err) {
          this.opts.log.warn({ partition: `${topic}/${partition}`, attempt, err: { message: (err as Error).message?.slice(0, 300) } }, 'partition reset failed; retrying');
          await sleep(Math.min(5_000, 100 * 2 ** attempt));
        }
      }
    } finally {
      // also when the partition went away meanwhile: kafkajs keeps a pause across rebalances
      this.consumer?.resume([{ topic, partitions: [partition] }]);
    }
  }
}


/** The records of a batch at or after `from` (those below were committed by a previous owner). */
export function recordsFrom<M extends { offset: string }>(messages: readonly M[], from: bigint | undefined): readonly M[] {
  if (from === undefined || messages.length === 0 || BigInt(messages[0]!.offset) >= from) return messages;
  return messages.filter((m) => BigInt(m.offset) >= from);
}

/** Until every part of the lane submitted so far (and any submitted meanwhile) has settled. */
async function untilSettled(lane: Lane): Promise<void> {
  while (lane.outstanding.length > 0) await Promise.all([...lane.outstanding]);
}
