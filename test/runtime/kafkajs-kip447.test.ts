/**
 * KIP-447 requests added to kafkajs (src/runtime/kafkajs-kip447.ts) against the real broker:
 * TxnOffsetCommit v3 commits with the member's generation and is rejected with a stale one (the
 * whole transaction then aborts: nothing reaches read_committed readers); OffsetFetch v7
 * (require_stable) waits out an open transaction's offsets where kafkajs' own fetch returns the
 * old offset.
 */
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStableOffset, installKip447, STABLE_FETCH_CLIENT_SUFFIX, withGroupMetadata, type GroupMetadata } from '../../src/runtime/kafkajs-kip447.js';
import { BROKERS, collect, liveGroupMember, waitFor, type CollectedMessage } from './kafka-test-kit.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;
const run = `tw-kip447-${randomUUID().slice(0, 8)}`;
const IN = `${run}.in`;
const OUT = `${run}.out`;
const GROUP = `${run}.group`;

const kafka: Kafka = new KafkaClient({ clientId: run, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
/** Stable fetches go through a client whose id carries the suffix: only its brokers send OffsetFetch v7. */
let stableAdmin: Admin;
let member: Consumer;
let meta: GroupMetadata;
const producers: Producer[] = [];
const consumers: Consumer[] = [];

async function producer(id: string): Promise<Producer> {
  const p = kafka.producer({ transactionalId: `${run}.${id}`, idempotent: true, maxInFlightRequests: 1 });
  producers.push(p);
  await p.connect();
  return p;
}

const offsetOf = (fetched: Awaited<ReturnType<Admin['fetchOffsets']>>, partition = 0): string => fetched.find((t) => t.topic === IN)!.partitions.find((p) => p.partition === partition)!.offset;

beforeAll(async () => {
  installKip447();
  admin = kafka.admin();
  await admin.connect();
  stableAdmin = new KafkaClient({ clientId: `${run}${STABLE_FETCH_CLIENT_SUFFIX}`, brokers: BROKERS, logLevel: logLevel.NOTHING }).admin();
  await stableAdmin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [IN, OUT].map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })) });
  // a live member of GROUP, so the coordinator has a generation to check offsets against
  ({ consumer: member, meta } = await liveGroupMember(kafka, GROUP, IN));
  expect(meta.generationId).toBeGreaterThan(0);
}, 60_000);

afterAll(async () => {
  for (const c of consumers) await c.disconnect().catch(() => undefined);
  await member?.disconnect().catch(() => undefined);
  for (const p of producers) await p.disconnect().catch(() => undefined);
  await admin?.deleteTopics({ topics: [IN, OUT] }).catch(() => undefined);
  await admin?.disconnect();
  await stableAdmin?.disconnect();
});

describe('TxnOffsetCommit v3', () => {
  let out: CollectedMessage[];
  beforeAll(async () => {
    const r = await collect(kafka, OUT, run);
    consumers.push(r.consumer);
    out = r.messages;
  });

  it('commits offsets with the member\'s generation', async () => {
    const p = await producer('current');
    const tx = await p.transaction();
    await tx.send({ topic: OUT, messages: [{ value: 'current' }] });
    await withGroupMetadata(`${run}.current`, meta, () => tx.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 0, offset: '5' }] }] }));
    await tx.commit();
    expect(await fetchStableOffset(stableAdmin, GROUP, IN, 0)).toBe('5');
    await waitFor('the committed record', () => out.some((m) => m.value?.toString() === 'current'));
  });

  it('rejects a stale generation, and the transaction aborts with nothing visible', async () => {
    const p = await producer('stale');
    const tx = await p.transaction();
    await tx.send({ topic: OUT, messages: [{ value: 'stale' }] });
    const sent = withGroupMetadata(`${run}.stale`, { ...meta, generationId: meta.generationId - 1 }, () => tx.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 0, offset: '9' }] }] }));
    await expect(sent).rejects.toMatchObject({ type: 'ILLEGAL_GENERATION' });
    await tx.abort();
    // a later record of another transaction is seen, the aborted one never
    const after = await producer('after');
    const tx2 = await after.transaction();
    await tx2.send({ topic: OUT, messages: [{ value: 'after-stale' }] });
    await tx2.commit();
    await waitFor('the later record', () => out.some((m) => m.value?.toString() === 'after-stale'));
    expect(out.map((m) => m.value?.toString())).not.toContain('stale');
    expect(await fetchStableOffset(stableAdmin, GROUP, IN, 0)).toBe('5');
  });

  it('rejects a member id the group does not know', async () => {
    const p = await producer('unknown');
    const tx = await p.transaction();
    const sent = withGroupMetadata(`${run}.unknown`, { ...meta, memberId: `${meta.memberId}-gone` }, () => tx.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 0, offset: '11' }] }] }));
    await expect(sent).rejects.toMatchObject({ type: 'UNKNOWN_MEMBER_ID' });
    await tx.abort();
  });
});

describe('OffsetFetch v7 (require_stable)', () => {
  it('waits for an open transaction\'s offsets where the plain fetch answers the old offset', async () => {
    const p = await producer('pending');
    const tx = await p.transaction();
    await withGroupMetadata(`${run}.pending`, meta, () => tx.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 0, offset: '7' }] }] }));
    // the transaction is open: kafkajs' own OffsetFetch (v4) ignores its pending offsets
    expect(offsetOf(await admin.fetchOffsets({ groupId: GROUP, topics: [IN] }))).toBe('5');
    let settled: string | undefined;
    const stable = fetchStableOffset(stableAdmin, GROUP, IN, 0).then((o) => (settled = o));
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBeUndefined();
    await tx.commit();
    await stable;
    expect(settled).toBe('7');
  });

  it('asks only about its own partition: an open transaction holding another partition\'s offsets does not hold it', async () => {
    const p = await producer('other');
    const tx = await p.transaction();
    await withGroupMetadata(`${run}.other`, meta, () => tx.sendOffsets({ consumerGroupId: GROUP, topics: [{ topic: IN, partitions: [{ partition: 1, offset: '4' }] }] }));
    expect(await fetchStableOffset(stableAdmin, GROUP, IN, 0)).toBe('7');
    let settled: string | undefined;
    const stable = fetchStableOffset(stableAdmin, GROUP, IN, 1).then((o) => (settled = o));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBeUndefined(); // partition 1's offsets are the open transaction's
    // meanwhile another client's fetch of the group (a consumer resolving its offsets) is kafkajs' own: every partition, no require_stable
    const plain = await admin.fetchOffsets({ groupId: GROUP, topics: [IN] });
    expect(plain.find((t) => t.topic === IN)!.partitions.map((q) => [q.partition, q.offset]).sort()).toEqual([[0, '7'], [1, '-1']]);
    await tx.commit();
    await stable;
    expect(settled).toBe('4');
  });
});
