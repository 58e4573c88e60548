/**
 * The per-process outbox (kafka.exactly_once per_process) against the real broker: both stages'
 * parts commit with the member's generation; a part whose partition left the member is dropped
 * from its round and nothing of it shows; a member the group has moved past (stale generation) has
 * its transaction aborted — records invisible, offsets unmoved — and commits again once it holds
 * the current generation; a transaction put together just before the runner's next generation
 * goes again with it.
 */
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { installKip447, STABLE_FETCH_CLIENT_SUFFIX, type GroupMetadata } from '../../src/runtime/kafkajs-kip447.js';
import { ProcessOutbox } from '../../src/runtime/process-outbox.js';
import { PART_NOT_OWNED, type OutboxPart } from '../../src/runtime/transactional-outbox.js';
import { BROKERS, collect, liveGroupMember, waitFor, type CollectedMessage } from './kafka-test-kit.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;
const run = `tw-pout-${randomUUID().slice(0, 8)}`;
const IN = `${run}.in`; // stage 1's input
const TASKS = `${run}.by-token`; // stage 2's input
const OUT = `${run}.out`;
const GROUP = `${run}.group`;

const kafka: Kafka = new KafkaClient({ clientId: run, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
let member: Consumer;
let reader: Consumer;
let out: CollectedMessage[];
let current: GroupMetadata;
let meta: GroupMetadata | undefined;
let outbox: ProcessOutbox;

const part = (value: string, topic: string, offset: string, partition = 0): OutboxPart => ({
  topicMessages: [{ topic: OUT, messages: [{ value, partition: 0 }] }],
  offsets: [{ topic, partition, offset }],
});
const seen = (v: string): boolean => out.some((m) => m.value?.toString() === v);

beforeAll(async () => {
  installKip447();
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [IN, TASKS, OUT].map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })) });
  ({ consumer: member, meta: current } = await liveGroupMember(kafka, GROUP, IN));
  meta = current;
  ({ consumer: reader, messages: out } = await collect(kafka, OUT, run));
  const stableOffsetsAdmin = new KafkaClient({ clientId: `${run}${STABLE_FETCH_CLIENT_SUFFIX}`, brokers: BROKERS, logLevel: logLevel.NOTHING }).admin();
  await stableOffsetsAdmin.connect();
  outbox = new ProcessOutbox({
    kafka, stableOffsetsAdmin, groupId: GROUP, transactionalId: `${run}.p`, transactionTimeoutMs: 10_000, lingerMs: 5, commitIntervalMs: 50,
    detectionTopic: (topic) => topic === TASKS, groupMetadata: () => meta, logger: createLogger({ level: 'silent' }),
  });
}, 60_000);

afterAll(async () => {
  await outbox?.closeAll();
  await reader?.disconnect().catch(() => undefined);
  await member?.disconnect().catch(() => undefined);
  await admin?.deleteTopics({ topics: [IN, TASKS, OUT] }).catch(() => undefined);
  await admin?.disconnect();
});

describe('process outbox (KIP-447)', () => {
  it('commits both stages\' parts with the member\'s generation, one producer per stage', async () => {
    await Promise.all([outbox.submit(IN, 0, part('ingest-1', IN, '3')), outbox.submit(TASKS, 1, part('detect-1', TASKS, '4', 1))]);
    expect(await outbox.committedOffset(IN, 0)).toBe(3n);
    expect(await outbox.committedOffset(TASKS, 1)).toBe(4n);
    expect(outbox.stats()).toMatchObject({ transactions: 2, aborted: 0 });
    await waitFor('both records', () => seen('ingest-1') && seen('detect-1'));
  });

  it('drops a part whose partition left the member before its round; the rest of the round commits', async () => {
    const gone = { ...part('not-owned', IN, '9', 1), admissible: () => false };
    const kept = outbox.submit(IN, 0, part('owned', IN, '6'));
    const dropped = outbox.submit(IN, 1, gone);
    await expect(dropped).rejects.toThrow(PART_NOT_OWNED);
    await kept;
    expect(await outbox.committedOffset(IN, 0)).toBe(6n);
    expect(await outbox.committedOffset(IN, 1)).toBeUndefined();
    await waitFor('the owned record', () => seen('owned'));
    expect(seen('not-owned')).toBe(false);
  });

  it('a transaction rejected for its generation goes again once the runner holds the next one: nothing of the first try shows, the owned parts commit once, the others are dropped', async () => {
    meta = { ...current, generationId: current.generationId - 1 }; // put together just before the runner's GROUP_JOIN
    let owned = true;
    const kept = outbox.submit(TASKS, 1, part('regen-kept', TASKS, '12', 1));
    const dropped = outbox.submit(TASKS, 0, { ...part('regen-gone', TASKS, '13'), admissible: () => owned }).then(() => 'committed', (err: Error) => err.message);
    setTimeout(() => {
      owned = false; // the join let partition 0 go
      meta = current;
    }, 300);
    await kept;
    expect(await dropped).toBe(PART_NOT_OWNED);
    expect(await outbox.committedOffset(TASKS, 1)).toBe(12n);
    expect(outbox.stats()).toMatchObject({ aborted: 0, regenerated: 1 });
    await waitFor('the kept record', () => seen('regen-kept'));
    expect(out.filter((m) => m.value?.toString() === 'regen-kept')).toHaveLength(1);
    expect(seen('regen-gone')).toBe(false);
  });

  it('a member the group has moved past is fenced by its generation: its transaction aborts, then it commits again with the current one', async () => {
    meta = { ...current, generationId: current.generationId - 1 };
    await expect(outbox.submit(TASKS, 0, part('zombie', TASKS, '8'))).rejects.toThrow(/ILLEGAL_GENERATION|generation/i);
    // the failed round halted the stage until the owner reset its partitions and recovered
    await expect(outbox.submit(TASKS, 0, part('while-halted', TASKS, '8'))).rejects.toThrow(/aborted/);
    meta = current;
    await outbox.recover(TASKS);
    await outbox.submit(TASKS, 0, part('after', TASKS, '2'));
    expect(await outbox.committedOffset(TASKS, 0)).toBe(2n);
    await waitFor('the record after recovery', () => seen('after'));
    expect(seen('zombie')).toBe(false);
    expect(seen('while-halted')).toBe(false);
    expect(outbox.stats().aborted).toBe(1);
  });
});
