/**
 * The lane logic of the pipelined commits (commit-pipeline.ts) against a scripted outbox: the
 * order of effects, the depth bound, admission after a join, and the reset after a failed or
 * fenced transaction. Kafka itself is exercised by the runner's integration tests and the chaos
 * harness (broker killed mid-stream: failed transactions, resets, 0 lost or repeated alerts).
 */
import { describe, expect, it } from 'vitest';
import { CommitPipeline, recordsFrom, type LaneOutboxes } from '../../src/runtime/commit-pipeline.js';
import type { OutboxPart } from '../../src/runtime/transactional-outbox.js';
import { createLogger } from '../../src/core/logger.js';

interface Pending {
  part: OutboxPart;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Transactions settle only when the test says so. */
class ScriptedOutboxes implements LaneOutboxes {
  pending: Pending[] = [];
  opened = new Set<string>();
  opens = 0;
  recovers = 0;
  committed: bigint | undefined;
  submit(_topic: string, _partition: number, part: OutboxPart): Promise<void> {
    return new Promise((resolve, reject) => this.pending.push({ part, resolve, reject }));
  }
  async open(topic: string, partition: number): Promise<boolean> {
    this.opens++;
    const id = `${topic}/${partition}`;
    if (this.opened.has(id)) return false;
    this.opened.add(id);
    return true;
  }
  async committedOffset(): Promise<bigint | undefined> {
    return this.committed;
  }
  async recover(): Promise<void> {
    this.recovers++;
  }
  commitNext(): void {
    const p = this.pending.shift()!;
    const offsets = p.part.offsets;
    if (offsets.length > 0) this.committed = BigInt(offsets[offsets.length - 1]!.offset);
    p.resolve();
  }
  failNext(message = 'broker gone'): void {
    this.pending.shift()!.reject(new Error(message));
  }
}

class RecordingConsumer {
  calls: string[] = [];
  pause(tps: { topic: string; partitions?: number[] }[]): void {
    this.calls.push(`pause ${tps[0]!.topic}/${tps[0]!.partitions?.[0]}`);
  }
  resume(tps: { topic: string; partitions?: number[] }[]): void {
    this.calls.push(`resume ${tps[0]!.topic}/${tps[0]!.partitions?.[0]}`);
  }
  seek(tpo: { topic: string; partition: number; offset: string }): void {
    this.calls.push(`seek ${tpo.topic}/${tpo.partition} ${tpo.offset}`);
  }
}

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
const part = (offset: string): OutboxPart => ({ topicMessages: [], offsets: [{ topic: 't', partition: 0, offset }] });

function setup(depth = 2) {
  const outboxes = new ScriptedOutboxes();
  const consumer = new RecordingConsumer();
  const resets: string[] = [];
  const pipeline = new CommitPipeline({ outboxes, depth, fencedWaitMs: 60_000, onReset: (t, p) => resets.push(`${t}/${p}`), log: createLogger({ level: 'silent' }) });
  pipeline.attach(consumer);
  pipeline.newGeneration(new Set(['t/0']));
  return { outboxes, consumer, resets, pipeline };
}

const notStale = (): boolean => false;

describe('commit pipeline', () => {
  it('a batch queues its part and returns; effects follow each commit in order and advance the committed offset', async () => {
    const { outboxes, pipeline } = setup(4);
    outboxes.committed = 10n;
    const t1 = await pipeline.admit('t', 0, '10', notStale);
    expect(t1?.from).toBe(10n); // the group's committed offset, read after the fence
    const done: string[] = [];
    expect(pipeline.submit(t1!, part('20'), 20n, () => done.push('a'))).toBe(true);
    const t2 = await pipeline.admit('t', 0, '20', notStale);
    expect(pipeline.submit(t2!, part('30'), 30n, () => done.push('b'))).toBe(true);
    expect(done).toEqual([]);
    expect(pipeline.outstanding).toBe(2);
    outboxes.commitNext();
    await flush();
    expect(done).toEqual(['a']);
    expect(pipeline.committedOffset('t', 0)).toBe(20n);
    outboxes.commitNext();
    await flush();
    expect(done).toEqual(['a', 'b']);
    expect(pipeline.committedOffset('t', 0)).toBe(30n);
    expect(pipeline.outstanding).toBe(0);
  });

  it('admission waits while `depth` parts of the partition are uncommitted', async () => {
    const { outboxes, pipeline } = setup(2);
    const t1 = (await pipeline.admit('t', 0, '0', notStale))!;
    pipeline.submit(t1, part('1'), 1n, () => undefined);
    pipeline.submit((await pipeline.admit('t', 0, '1', notStale))!, part('2'), 2n, () => undefined);
    let admitted = false;
    const third = pipeline.admit('t', 0, '2', notStale).then((t) => {
      admitted = true;
      return t;
    });
    await flush();
    expect(admitted).toBe(false);
    outboxes.commitNext();
    expect((await third)?.from).toBe(1n);
  });

  it('skips batches of partitions not assigned here, without opening their producer', async () => {
    const { outboxes, pipeline } = setup();
    expect(await pipeline.admit('t', 1, '0', notStale)).toBeUndefined();
    expect(outboxes.opens).toBe(0);
    expect(pipeline.ticketNow('t', 1)).toBeUndefined();
  });

  it('a failed transaction resets the partition: state dropped, paused, settled, seek to the committed offset, resumed; earlier tickets void', async () => {
    const { outboxes, consumer, resets, pipeline } = setup(4);
    outboxes.committed = 5n;
    const t1 = (await pipeline.admit('t', 0, '5', notStale))!;
    pipeline.submit(t1, part('8'), 8n, () => undefined);
    const t2 = (await pipeline.admit('t', 0, '8', notStale))!;
    const late: string[] = [];
    pipeline.submit(t2, part('12'), 12n, () => late.push('committed'));
    outboxes.commitNext(); // 8 committed
    await flush();
    outboxes.failNext(); // the part up to 12 failed
    await flush();
    await flush();
    expect(resets).toEqual(['t/0']);
    expect(outboxes.recovers).toBe(1);
    expect(consumer.calls).toEqual(['pause t/0', 'seek t/0 8', 'resume t/0']);
    expect(late).toEqual([]);
    expect(pipeline.valid(t2)).toBe(false);
    expect(pipeline.submit(t2, part('12'), 12n, () => late.push('again'))).toBe(false);
    // the batch read again from 8 is admitted with a fresh ticket
    const t3 = await pipeline.admit('t', 0, '8', notStale);
    expect(t3?.from).toBe(8n);
    expect(pipeline.resets).toBe(1);
  });

  it('batches arriving while the reset runs are skipped unresolved', async () => {
    const { outboxes, pipeline } = setup(4);
    const t1 = (await pipeline.admit('t', 0, '0', notStale))!;
    pipeline.submit(t1, part('4'), 4n, () => undefined);
    let release!: () => void;
    outboxes.recover = () => new Promise<void>((r) => (release = r));
    outboxes.failNext();
    await flush();
    expect(await pipeline.admit('t', 0, '4', notStale)).toBeUndefined();
    expect(pipeline.ticketNow('t', 0)).toBeUndefined();
    release();
    await pipeline.drainAll();
    expect(await pipeline.admit('t', 0, '0', notStale)).toBeDefined();
  });

  it('a fenced lane waits for the next group join before it takes its producer back', async () => {
    const { outboxes, consumer, pipeline } = setup(4);
    const t1 = (await pipeline.admit('t', 0, '0', notStale))!;
    pipeline.submit(t1, part('3'), 3n, () => undefined);
    outboxes.failNext('outbox fenced: another producer took transactionalId "g.t.0"');
    await flush();
    await flush();
    expect(outboxes.recovers).toBe(0);
    expect(consumer.calls).toEqual(['pause t/0']);
    pipeline.newGeneration(new Set(['t/0']));
    await pipeline.drainAll();
    expect(outboxes.recovers).toBe(1);
    expect(consumer.calls).toEqual(['pause t/0', 'seek t/0 0', 'resume t/0']);
  });

  it('after a join a kept partition waits for its transactions in flight and resumes past what they committed', async () => {
    const { outboxes, pipeline } = setup(4);
    const t1 = (await pipeline.admit('t', 0, '0', notStale))!;
    pipeline.submit(t1, part('50'), 50n, () => undefined);
    pipeline.newGeneration(new Set(['t/0'])); // kafkajs re-read the group's offset: 0 (the part is in flight)
    const next = pipeline.admit('t', 0, '0', notStale);
    outboxes.commitNext();
    const t2 = await next;
    expect(t2?.from).toBe(50n); // not a fresh producer: its own commits are what it knows
    const records = [{ offset: '48' }, { offset: '49' }, { offset: '50' }, { offset: '51' }];
    expect(recordsFrom(records, t2!.from).map((m) => m.offset)).toEqual(['50', '51']);
    expect(outboxes.opens).toBe(2);
  });

  it('a submitted part stays admissible to its transaction only while its ticket holds (one producer for many partitions drops it otherwise)', async () => {
    const { outboxes, pipeline } = setup(4);
    const t1 = (await pipeline.admit('t', 0, '0', notStale))!;
    pipeline.submit(t1, part('3'), 3n, () => undefined);
    const queued = outboxes.pending[0]!.part;
    expect(queued.admissible?.()).toBe(true);
    pipeline.newGeneration(new Set(['t/0'])); // kept across the join: still the same ownership
    expect(queued.admissible?.()).toBe(true);
    pipeline.newGeneration(new Set()); // let go
    expect(queued.admissible?.()).toBe(false);
    pipeline.newGeneration(new Set(['t/0'])); // back: a new lane, the old part is not its own
    expect(queued.admissible?.()).toBe(false);
  });

  it('a partition given up in a join drops its lane: its late failures reset nothing and seek nothing', async () => {
    const { outboxes, consumer, resets, pipeline } = setup(4);
    const t1 = (await pipeline.admit('t', 0, '0', notStale))!;
    pipeline.submit(t1, part('9'), 9n, () => undefined);
    pipeline.newGeneration(new Set());
    outboxes.failNext();
    await pipeline.drainAll();
    await flush();
    expect(resets).toEqual(['t/0']); // whatever state is left for it goes
    // no seek; not left paused (kafkajs keeps a pause across rebalances, should it come back)
    expect(consumer.calls).toEqual(['pause t/0', 'resume t/0']);
  });

  it('an offset-only batch defers its offset: no transaction until the next part of the partition or a flush, which commits the highest one', async () => {
    const { outboxes, pipeline } = setup(4);
    outboxes.committed = 0n;
    const done: string[] = [];
    const defer = { deferOffsetOnly: true };
    pipeline.submit((await pipeline.admit('t', 0, '0', notStale))!, part('5'), 5n, () => done.push('a'), defer);
    pipeline.submit((await pipeline.admit('t', 0, '5', notStale))!, part('9'), 9n, () => done.push('b'), defer);
    expect(done).toEqual(['a', 'b']); // nothing to wait for: no effect but the offset
    expect(outboxes.pending).toHaveLength(0);
    expect(pipeline.committedOffset('t', 0)).toBe(0n);
    pipeline.flushDeferred();
    expect(outboxes.pending.map((p) => p.part.offsets[0]!.offset)).toEqual(['9']);
    outboxes.commitNext();
    await flush();
    expect(pipeline.committedOffset('t', 0)).toBe(9n);
    pipeline.flushDeferred();
    expect(outboxes.pending).toHaveLength(0);

    // a part with effects carries the deferred offset along: the flush then has nothing to send
    pipeline.submit((await pipeline.admit('t', 0, '9', notStale))!, part('12'), 12n, () => undefined, defer);
    const alerts: OutboxPart = { topicMessages: [{ topic: 'alerts', messages: [{ value: 'a' }] }], offsets: [{ topic: 't', partition: 0, offset: '15' }] };
    pipeline.submit((await pipeline.admit('t', 0, '12', notStale))!, alerts, 15n, () => undefined, defer);
    expect(outboxes.pending).toHaveLength(1);
    pipeline.flushDeferred();
    expect(outboxes.pending).toHaveLength(1);
    outboxes.commitNext();
    await flush();
    expect(pipeline.committedOffset('t', 0)).toBe(15n);
  });

  it('a reset forgets a deferred offset (its batches are read again); a graceful drain commits it first', async () => {
    const { outboxes, consumer, pipeline } = setup(4);
    outboxes.committed = 3n;
    const real = (await pipeline.admit('t', 0, '3', notStale))!;
    pipeline.submit(real, part('6'), 6n, () => undefined);
    pipeline.submit((await pipeline.admit('t', 0, '6', notStale))!, part('8'), 8n, () => undefined, { deferOffsetOnly: true });
    outboxes.failNext();
    await flush();
    await pipeline.drainAll();
    expect(consumer.calls).toContain('seek t/0 3');
    pipeline.flushDeferred();
    expect(outboxes.pending).toHaveLength(0);

    pipeline.submit((await pipeline.admit('t', 0, '3', notStale))!, part('8'), 8n, () => undefined, { deferOffsetOnly: true });
    const drained = pipeline.drainAll();
    expect(outboxes.pending.map((p) => p.part.offsets[0]!.offset)).toEqual(['8']);
    outboxes.commitNext();
    await drained;
    expect(pipeline.committedOffset('t', 0)).toBe(8n);
  });

  it('held work (stage 1 on a thread) counts as outstanding: against depth, and a new generation admits the partition only once it has submitted and committed', async () => {
    const { outboxes, pipeline } = setup(2);
    const finishers: (() => void)[] = [];
    const holdBatch = async (from: string, to: bigint): Promise<{ work: Promise<void> }> => {
      const t = (await pipeline.admit('t', 0, from, notStale))!;
      const work = new Promise<void>((r) => finishers.push(r)).then(() => {
        pipeline.submit(t, part(String(to)), to, () => undefined);
      });
      pipeline.hold(t, work);
      return { work }; // wrapped: an async function returning a promise would wait for it
    };
    const { work: first } = await holdBatch('0', 5n);
    const { work: second } = await holdBatch('5', 9n);
    expect(pipeline.outstanding).toBe(2);
    let third = false;
    void pipeline.admit('t', 0, '9', notStale).then(() => (third = true));
    await flush();
    expect(third).toBe(false); // two held batches fill depth 2
    // a rebalance keeps the partition: the next generation's batches wait for the held ones
    pipeline.newGeneration(new Set(['t/0']));
    let admitted: bigint | undefined | 'none' = 'none';
    void pipeline.admit('t', 0, '5', notStale).then((t) => (admitted = t?.from));
    finishers[0]!();
    finishers[1]!();
    await Promise.all([first, second]);
    await flush();
    expect(admitted).toBe('none'); // submitted, not yet committed
    outboxes.commitNext();
    await flush();
    expect(admitted).toBe('none');
    outboxes.commitNext();
    await flush();
    await flush();
    expect(admitted).toBe(9n); // the committed offset includes both held batches: nothing is processed twice
    expect(pipeline.outstanding).toBe(0);
  });
});
