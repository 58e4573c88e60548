/**
 * The transactional outbox against the real broker: effects and offsets commit atomically,
 * group-committed across partitions; a failed transaction shows nothing to read_committed
 * readers; a second holder of the transactional id fences the first; a new outbox aborts what a
 * dead predecessor left open.
 */
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenwatchError } from '../../src/core/errors.js';
import { TransactionalOutbox, type OutboxPart } from '../../src/runtime/transactional-outbox.js';
import { BROKERS, collect, waitFor, type CollectedMessage } from './kafka-test-kit.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;
const run = `tw-outbox-${randomUUID().slice(0, 8)}`;
const IN = `${run}.in`;
const OUT = `${run}.out`;
const SMALL = `${run}.small`; // max.message.bytes 2000: an oversized record fails its transaction
const PARTITIONS = 3;

const kafka: Kafka = new KafkaClient({ clientId: run, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
const outboxes: TransactionalOutbox[] = [];
const consumers: Consumer[] = [];

function outbox(name: string, extra: { transactionalId?: string; minIntervalMs?: number } = {}): TransactionalOutbox {
  const o = new TransactionalOutbox({
    kafka,
    transactionalId: extra.transactionalId ?? `${run}.${name}`,
    consumerGroupId: `${run}.${name}.group`,
    transactionTimeoutMs: 10_000,
    lingerMs: 5,
    ...(extra.minIntervalMs !== undefined && { minIntervalMs: extra.minIntervalMs }),
  });
  outboxes.push(o);
  return o;
}

async function reader(topic: string): Promise<CollectedMessage[]> {
  const { consumer, messages } = await collect(kafka, topic, run);
  consumers.push(consumer);
  return messages;
}

async function committedOffsets(groupId: string, topic = IN): Promise<Record<number, string>> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return Object.fromEntries(t!.partitions.map((p) => [p.partition, p.offset]));
}

/**
 * The group's committed offsets once they equal `expected` (or whatever they are after 10 s):
 * offsets sent in a transaction become visible when the coordinator has written the commit
 * marker to __consumer_offsets, which happens after EndTxn returns; kafkajs' OffsetFetch does not
 * ask to wait for pending transactional offsets (KIP-447's require_stable).
 */
async function settledOffsets(groupId: string, expected: Record<number, string>): Promise<Record<number, string>> {
  const want = JSON.stringify(expected);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const got = await committedOffsets(groupId);
    if (JSON.stringify(got) === want || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const values = (msgs: readonly CollectedMessage[]) => msgs.map((m) => m.value!.toString());
const part = (topic: string, partition: number, vals: string[], offsets: OutboxPart['offsets']): OutboxPart => ({
  topicMessages: [{ topic, messages: vals.map((value) => ({ key: value, value, partition })) }],
  offsets,
});

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: IN, numPartitions: PARTITIONS, replicationFactor: 1 },
      { topic: OUT, numPartitions: PARTITIONS, replicationFactor: 1 },
      { topic: SMALL, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] },
    ],
  });
});

afterAll(async () => {
  for (const o of outboxes) await o.close().catch(() => undefined);
  for (const c of consumers) await c.disconnect().catch(() => undefined);
  await admin.deleteTopics({ topics: [IN, OUT, SMALL] }).catch(() => undefined);
  await admin.disconnect();
});

describe('transactional outbox', () => {
  it('splits a part whose messages for one partition exceed the broker\'s batch limit over several requests of one transaction', async () => {
    const o = outbox('big');
    await o.connect();
    const frames = ['a', 'b', 'c', 'd'].map((c) => c.repeat(500 * 1024)); // 2 MB for one partition: one record batch would be refused (1 MiB)
    const out = await reader(OUT);
    await o.submit({ topicMessages: [{ topic: OUT, messages: frames.map((value) => ({ value, partition: 1 })) }], offsets: [{ topic: IN, partition: 0, offset: '7' }] });
    await waitFor('big frames read', () => (out.length >= 4 ? true : undefined), 20_000);
    expect(out.map((m) => [m.value!.toString()[0], m.value!.length])).toEqual(frames.map((f) => [f[0], f.length])); // all four, in order
    expect((await settledOffsets(`${run}.big.group`, { 0: '7', 1: '-1', 2: '-1' }))[0]).toBe('7');
  });

  it('concurrent parts from several partitions: every record exactly once, highest offsets committed, group commit', async () => {
    const o = outbox('many');
    await o.connect();
    const BATCHES = 30;
    const PER_BATCH = 5;
    // one batch in flight per simulated partition, as a runner processes its partitions
    await Promise.all(
      Array.from({ length: PARTITIONS }, async (_, p) => {
        for (let b = 0; b < BATCHES; b++) {
          const vals = Array.from({ length: PER_BATCH }, (_, m) => `many-p${p}-b${b}-m${m}`);
          await o.submit(part(OUT, p, vals, [{ topic: IN, partition: p, offset: String((b + 1) * 10) }]));
        }
      }),
    );
    const s = o.stats();
    expect(s.parts).toBe(PARTITIONS * BATCHES);
    expect(s.messages).toBe(PARTITIONS * BATCHES * PER_BATCH);
    expect(s.aborted).toBe(0);
    expect(s.transactions).toBeLessThan(s.parts);
    expect(o.queueDepth).toBe(0);

    // a part without offsets, and an empty part
    await o.submit({ topicMessages: [{ topic: OUT, messages: [{ value: 'many-no-offsets', partition: 0 }] }], offsets: [] });
    await o.submit({ topicMessages: [], offsets: [] });

    const many = { 0: String(BATCHES * 10), 1: String(BATCHES * 10), 2: String(BATCHES * 10) };
    expect(await settledOffsets(`${run}.many.group`, many)).toEqual(many);
    const msgs = await reader(OUT);
    const expected = PARTITIONS * BATCHES * PER_BATCH + 1;
    await waitFor('every committed record', () => msgs.filter((m) => m.value!.toString().startsWith('many-')).length >= expected || undefined, 30_000);
    const got = values(msgs).filter((v) => v.startsWith('many-'));
    expect(got.length).toBe(expected);
    expect(new Set(got).size).toBe(expected);
  });

  it('a failed transaction rejects all its parts and halts the outbox until recover(); none of their records or offsets show; later parts commit', async () => {
    const o = outbox('fail');
    await o.connect();
    const group = `${run}.fail.group`;
    // both queued before the linger ends: one transaction; the oversized record fails it
    const good = o.submit(part(OUT, 1, ['fail-good-1', 'fail-good-2'], [{ topic: IN, partition: 1, offset: '77' }]));
    const bad = o.submit({ topicMessages: [{ topic: SMALL, messages: [{ value: 'x'.repeat(5000) }] }], offsets: [{ topic: IN, partition: 2, offset: '88' }] });
    const [goodResult, badResult] = await Promise.allSettled([good, bad]);
    expect(goodResult.status).toBe('rejected');
    expect(badResult.status).toBe('rejected');
    const err = (badResult as PromiseRejectedResult).reason as TokenwatchError;
    expect(err).toBeInstanceOf(TokenwatchError);
    expect(err.code).toBe('sink_failed');
    expect(err.cause).toBeDefined();
    expect(o.stats().aborted).toBe(1);
    expect(await committedOffsets(group)).toEqual({ 0: '-1', 1: '-1', 2: '-1' });

    // halted: a part queued behind the failed one must not commit past its records
    expect(o.isHalted).toBe(true);
    await expect(o.submit(part(OUT, 0, ['fail-halted'], [{ topic: IN, partition: 0, offset: '3' }]))).rejects.toBe(err);
    await o.recover();
    expect(o.isHalted).toBe(false);

    // a record to a topic that does not exist (auto-creation is off) fails its transaction too
    await expect(o.submit(part(`${run}.missing`, 0, ['fail-missing'], [{ topic: IN, partition: 0, offset: '5' }]))).rejects.toMatchObject({ code: 'sink_failed' });
    await o.recover();

    // the outbox works again: a sentinel on every partition commits with its offsets
    await Promise.all(
      Array.from({ length: PARTITIONS }, (_, p) => o.submit(part(OUT, p, [`fail-after-p${p}`], [{ topic: IN, partition: p, offset: String(100 + p) }]))),
    );
    expect(await settledOffsets(group, { 0: '100', 1: '101', 2: '102' })).toEqual({ 0: '100', 1: '101', 2: '102' });
    const msgs = await reader(OUT);
    await waitFor('the sentinels after the aborted transaction', () => values(msgs).filter((v) => v.startsWith('fail-after-')).length === PARTITIONS || undefined, 30_000);
    expect(values(msgs).filter((v) => v.startsWith('fail-good-') || v === 'fail-missing' || v === 'fail-halted')).toEqual([]);
  });

  it('a second outbox with the same transactionalId fences the first', async () => {
    const id = `${run}.fenced`;
    const first = outbox('fenced-a', { transactionalId: id });
    await first.connect();
    await first.submit(part(OUT, 0, ['fence-first-ok'], [{ topic: IN, partition: 0, offset: '1' }]));
    const second = outbox('fenced-b', { transactionalId: id });
    await second.connect();

    const rejected = await first.submit(part(OUT, 0, ['fence-zombie'], [{ topic: IN, partition: 0, offset: '2' }])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(rejected).toBeInstanceOf(TokenwatchError);
    expect((rejected as TokenwatchError).code).toBe('sink_failed');
    expect((rejected as Error).message).toMatch(/fenced/);
    expect((rejected as Error).cause).toBeDefined();
    // every later submit of the fenced outbox rejects with the same error
    await expect(first.submit(part(OUT, 0, ['fence-zombie-2'], []))).rejects.toBe(rejected);

    await second.submit(part(OUT, 0, ['fence-second-ok'], [{ topic: IN, partition: 0, offset: '3' }]));
    const msgs = await reader(OUT);
    await waitFor('the new holder\'s record', () => values(msgs).includes('fence-second-ok') || undefined, 30_000);
    expect(values(msgs).filter((v) => v.startsWith('fence-'))).toEqual(['fence-first-ok', 'fence-second-ok']);
  });

  it('a new outbox aborts the transaction a dead producer left open, and its parts commit', async () => {
    const id = `${run}.dangling`;
    // a long transaction timeout: only the new outbox's InitProducerId can end it within this test
    const dead = kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 120_000 });
    await dead.connect();
    const tx = await dead.transaction();
    await tx.sendBatch({ topicMessages: [{ topic: OUT, messages: [0, 1, 2].map((partition) => ({ value: 'dangling', partition })) }] });
    await dead.disconnect(); // no commit, no abort

    const o = outbox('dangling', { transactionalId: id });
    await o.connect();
    // read_committed readers stop at an open transaction: records written after it become
    // visible only once it ended, so these show that connect() alone aborted it
    const plain = kafka.producer();
    await plain.connect();
    await plain.sendBatch({ topicMessages: [{ topic: OUT, messages: [0, 1, 2].map((partition) => ({ value: 'dangling-marker', partition })) }] });
    await plain.disconnect();
    const msgs = await reader(OUT);
    await waitFor('records written after the dangling transaction', () => values(msgs).filter((v) => v === 'dangling-marker').length === PARTITIONS || undefined, 25_000);

    await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => o.submit(part(OUT, p, [`dangling-after-p${p}`], [{ topic: IN, partition: p, offset: '9' }]))));
    await waitFor('records committed after the dangling transaction', () => values(msgs).filter((v) => v.startsWith('dangling-after-')).length === PARTITIONS || undefined, 25_000);
    expect(values(msgs)).not.toContain('dangling');
    expect(await settledOffsets(`${run}.dangling.group`, { 0: '9', 1: '9', 2: '9' })).toEqual({ 0: '9', 1: '9', 2: '9' });
  });

  it('minIntervalMs: parts arriving sooner after a transaction started share the next one, not before the interval; after a quiet spell a part starts at once', async () => {
    const o = outbox('interval', { minIntervalMs: 2000 });
    await o.connect();
    const t0 = performance.now();
    await o.submit(part(OUT, 0, ['interval-1'], [{ topic: IN, partition: 0, offset: '1' }]));
    // three parts right after the first commit: one transaction, started ≥ 2 s after the first
    await Promise.all([2, 3, 4].map((n) => o.submit(part(OUT, 0, [`interval-${n}`], [{ topic: IN, partition: 0, offset: String(n) }]))));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2000);
    expect(o.stats()).toMatchObject({ transactions: 2, parts: 4 });
    // quiet for longer than the interval: the next part does not wait another interval
    await new Promise((r) => setTimeout(r, 2100));
    const t2 = performance.now();
    await o.submit(part(OUT, 0, ['interval-5'], [{ topic: IN, partition: 0, offset: '5' }]));
    expect(performance.now() - t2).toBeLessThan(2000);
    expect(o.stats()).toMatchObject({ transactions: 3, parts: 5 });
    expect(await settledOffsets(`${run}.interval.group`, { 0: '5', 1: '-1', 2: '-1' })).toEqual({ 0: '5', 1: '-1', 2: '-1' });
  }, 30_000);
});
