/**
 * Integration: reading one partition's offset range [from, to) read_committed (real local Kafka,
 * scripts/services.sh up). Covers plain and transactional partitions (commit and abort markers at
 * the end), empty partitions and ranges, and an unknown topic. (Speed: the restore figures of
 * `npm run chaos`, never a timed test.)
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient, KafkaMessage, Producer } from 'kafkajs';
import { readPartitionRange, type PartitionRange, type ReadPartitionOptions, type ReadPartitionResult } from '../../src/runtime/partition-reader.js';
import { BROKERS, waitFor } from './kafka-test-kit.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
const RUN = randomUUID().slice(0, 8);
const PREFIX = `tw-pr-${RUN}`;
const GROUP_PREFIX = `${PREFIX}.reader`;
const PLAIN = `${PREFIX}-plain`; // 4 partitions, PER_PARTITION records on each
const TXN = `${PREFIX}-txn`; // p0 ends with a commit marker, p1 with an abort marker, p2 empty
const PER_PARTITION = 20;

const kafka = new Kafka({ clientId: PREFIX, brokers: BROKERS, logLevel: logLevel.NOTHING });
/**
 * The real client, counting the consumers it creates (an empty range must create none) and
 * recording which partitions they were assigned and fetched batches of.
 */
let consumersCreated = 0;
const assigned: Record<string, number[]>[] = [];
const batchesOf = new Set<string>();
const countingKafka = new Proxy(kafka, {
  get(target, prop, receiver) {
    if (prop === 'consumer') {
      return (...args: Parameters<KafkaClient['consumer']>) => {
        consumersCreated++;
        const consumer = target.consumer(...args);
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => assigned.push(payload.memberAssignment));
        consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => batchesOf.add(`${payload.topic}[${payload.partition}]`));
        return consumer;
      };
    }
    return Reflect.get(target, prop, receiver) as unknown;
  },
});
let admin: Admin;
let producer: Producer;
const topics: string[] = [];

async function read(range: PartitionRange, opts: Partial<ReadPartitionOptions> = {}): Promise<{ result: ReadPartitionResult; messages: KafkaMessage[] }> {
  const messages: KafkaMessage[] = [];
  const result = await readPartitionRange(range, {
    kafka: countingKafka,
    admin,
    groupPrefix: GROUP_PREFIX,
    timeoutMs: 30_000,
    onMessages: async (batch) => {
      messages.push(...batch);
      await new Promise((r) => setImmediate(r)); // an async consumer, as the restore is
    },
    ...opts,
  });
  return { result, messages };
}
const values = (ms: readonly KafkaMessage[]): string[] => ms.map((m) => m.value!.toString());
const offsets = (ms: readonly KafkaMessage[]): number[] => ms.map((m) => Number(m.offset));
const range = (from: number, to: number, f: (i: number) => string): string[] => Array.from({ length: to - from }, (_, k) => f(from + k));

async function createTopic(topic: string, numPartitions: number): Promise<void> {
  topics.push(topic);
  await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await createTopic(PLAIN, 4);
  await createTopic(TXN, 3);
  for (let p = 0; p < 4; p++) {
    await producer.send({ topic: PLAIN, acks: -1, messages: range(0, PER_PARTITION, (i) => `p${p}-${i}`).map((value) => ({ key: value, value, partition: p })) });
  }

  const tx = kafka.producer({ transactionalId: `${PREFIX}-tx`, idempotent: true, maxInFlightRequests: 1 });
  await tx.connect();
  const transaction = async (partition: number, vals: string[], outcome: 'commit' | 'abort'): Promise<void> => {
    const t = await tx.transaction();
    await t.send({ topic: TXN, acks: -1, messages: vals.map((value) => ({ value, partition })) });
    await (outcome === 'commit' ? t.commit() : t.abort());
  };
  // p0: a0-a2 @0-2, commit @3; x0-x1 @4-5, abort @6; a3-a4 @7-8, commit @9 → LSO 10
  await transaction(0, ['a0', 'a1', 'a2'], 'commit');
  await transaction(0, ['x0', 'x1'], 'abort');
  await transaction(0, ['a3', 'a4'], 'commit');
  // p1: b0-b1 @0-1, commit @2; y0 @3, abort @4 → LSO 5
  await transaction(1, ['b0', 'b1'], 'commit');
  await transaction(1, ['y0'], 'abort');
  await tx.disconnect();
  // commit() returns before the markers are written to the partitions: wait until both are stable
  await waitFor('transaction markers written', async () => {
    const o = await admin.fetchTopicOffsets(TXN);
    return o.find((p) => p.partition === 0)?.high === '10' && o.find((p) => p.partition === 1)?.high === '5';
  });
});

afterAll(async () => {
  await producer?.disconnect().catch(() => {});
  if (admin) {
    await admin.deleteTopics({ topics }).catch(() => {});
    await admin.disconnect();
  }
});

describe('readPartitionRange', () => {
  it('reads exactly [from, to) of one partition, in order, and fetches nothing of the others', async () => {
    assigned.length = 0;
    batchesOf.clear();
    const { result, messages } = await read({ topic: PLAIN, partition: 2, from: '5', to: '15' });
    expect(assigned).toEqual([{ [PLAIN]: [2] }]);
    expect([...batchesOf]).toEqual([`${PLAIN}[2]`]);
    expect(values(messages)).toEqual(range(5, 15, (i) => `p2-${i}`));
    expect(offsets(messages)).toEqual(range(5, 15, (i) => String(i)).map(Number));
    expect(result).toMatchObject({ messages: 10, lastOffset: '14', from: '5', to: '15' });
  });

  it("reads 'earliest'..'end'", async () => {
    const { result, messages } = await read({ topic: PLAIN, partition: 2, from: 'earliest', to: 'end' });
    expect(values(messages)).toEqual(range(0, PER_PARTITION, (i) => `p2-${i}`));
    expect(result).toMatchObject({ messages: PER_PARTITION, from: '0', to: String(PER_PARTITION) });
  });

  it('reads a range starting mid-partition, and the same range twice gives the same result', async () => {
    const first = await read({ topic: PLAIN, partition: 1, from: '12', to: 'end' });
    const second = await read({ topic: PLAIN, partition: 1, from: '12', to: 'end' });
    expect(values(first.messages)).toEqual(range(12, PER_PARTITION, (i) => `p1-${i}`));
    expect(values(second.messages)).toEqual(values(first.messages));
    expect(offsets(second.messages)).toEqual(offsets(first.messages));
  });

  it('resolves an empty range at once without creating a consumer', async () => {
    const before = consumersCreated;
    expect((await read({ topic: PLAIN, partition: 0, from: '7', to: '7' })).result.messages).toBe(0);
    expect((await read({ topic: PLAIN, partition: 0, from: '9', to: '3' })).result.messages).toBe(0);
    // from at the end of the partition
    expect((await read({ topic: PLAIN, partition: 0, from: String(PER_PARTITION), to: 'end' })).result.messages).toBe(0);
    expect(consumersCreated).toBe(before);
  });

  it('reads an empty partition as empty', async () => {
    const before = consumersCreated;
    const { result, messages } = await read({ topic: TXN, partition: 2, from: 'earliest', to: 'end' });
    expect(messages).toEqual([]);
    expect(result).toMatchObject({ messages: 0, lastOffset: null, from: '0', to: '0' });
    expect(consumersCreated).toBe(before);
  });

  it('reads only committed records and ends on a trailing commit marker', async () => {
    const { result, messages } = await read({ topic: TXN, partition: 0, from: 'earliest', to: 'end' });
    expect(values(messages)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(offsets(messages)).toEqual([0, 1, 2, 7, 8]);
    expect(result).toMatchObject({ messages: 5, lastOffset: '8', to: '10' });
    // a `to` on the commit marker, and just after it
    expect(values((await read({ topic: TXN, partition: 0, from: '0', to: '3' })).messages)).toEqual(['a0', 'a1', 'a2']);
    expect(values((await read({ topic: TXN, partition: 0, from: '0', to: '4' })).messages)).toEqual(['a0', 'a1', 'a2']);
  });

  it('ends on a range made only of a control record (a fetch kafkajs never passes to eachBatch)', async () => {
    const before = consumersCreated;
    expect((await read({ topic: TXN, partition: 0, from: '9', to: 'end' })).messages).toEqual([]);
    expect((await read({ topic: TXN, partition: 1, from: '4', to: 'end' })).messages).toEqual([]);
    expect(consumersCreated).toBe(before + 2);
  });

  it('ends on a trailing abort marker', async () => {
    const { result, messages } = await read({ topic: TXN, partition: 1, from: 'earliest', to: 'end' });
    expect(values(messages)).toEqual(['b0', 'b1']);
    expect(result).toMatchObject({ messages: 2, to: '5' });
  });

  it('ends on a range made only of an aborted transaction and its marker', async () => {
    const before = consumersCreated;
    const { result, messages } = await read({ topic: TXN, partition: 0, from: '4', to: '7' });
    expect(messages).toEqual([]);
    expect(result.messages).toBe(0);
    expect(consumersCreated).toBe(before + 1);
    // and from inside the aborted transaction on
    expect(values((await read({ topic: TXN, partition: 0, from: '5', to: 'end' })).messages)).toEqual(['a3', 'a4']);
  });

  it('rejects an unknown topic or partition with source_failed', async () => {
    await expect(read({ topic: `${PREFIX}-missing`, partition: 0, from: 'earliest', to: 'end' })).rejects.toMatchObject({ name: 'TokenwatchError', code: 'source_failed' });
    await expect(read({ topic: PLAIN, partition: 9, from: '0', to: '5' })).rejects.toMatchObject({ code: 'source_failed' });
  });

  it('rejects with source_failed on timeout, heartbeating the caller while it waits', async () => {
    let beats = 0;
    const reading = read(
      { topic: PLAIN, partition: 0, from: '0', to: String(PER_PARTITION + 5) }, // beyond the end: never reached
      {
        timeoutMs: 2500,
        heartbeat: async () => {
          beats++;
        },
      },
    );
    await expect(reading).rejects.toMatchObject({ code: 'source_failed', message: expect.stringContaining('not read within 2500 ms') });
    expect(beats).toBeGreaterThan(0);
  });

  it('rejects with source_failed when onMessages throws, and passes nothing after it', async () => {
    let calls = 0;
    const failing = read(
      { topic: PLAIN, partition: 3, from: 'earliest', to: 'end' },
      {
        maxBytesPerPartition: 64, // one small record batch per fetch: several onMessages calls would follow
        onMessages: () => {
          calls++;
          throw new Error('sink full');
        },
      },
    );
    await expect(failing).rejects.toMatchObject({ code: 'source_failed', cause: { message: 'sink full' } });
    expect(calls).toBe(1);
  });

  it('leaves no throwaway group behind', async () => {
    const { groups } = await admin.listGroups();
    expect(groups.filter((g) => g.groupId.startsWith(GROUP_PREFIX))).toEqual([]);
  });
});
