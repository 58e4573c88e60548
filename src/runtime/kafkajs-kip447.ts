/**
 * KIP-447 ("exactly-once v2": transactional producers per process, not per partition) for kafkajs
 * 2.2.x, which only speaks TxnOffsetCommit v0–v1 and OffsetFetch v1–v4. Two requests are added,
 * each sent only when asked for (by transactional id, by the stable-fetch client's id), so every
 * other kafkajs call is untouched:
 * - TxnOffsetCommit v3 carries the consumer group's generation and member id: the group
 *   coordinator rejects the offsets (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID) of a member that lost
 *   its partitions in a rebalance, so its whole transaction aborts — the fencing that per-partition
 *   transactional ids gave before (`withGroupMetadata`).
 * - OffsetFetch v7 with require_stable: the coordinator answers UNSTABLE_OFFSET_COMMIT while a
 *   transaction holding offsets of the partition is open, so a new owner never starts from an
 *   offset a previous owner's pending transaction is about to move (`fetchStableOffset`).
 * The group generation comes from the SyncGroup request kafkajs sends (its GROUP_JOIN event has
 * none): `syncedGeneration(memberId)`.
 *
 * Both requests are flexible versions (KIP-482): compact strings and arrays, tagged fields, request
 * header v2 and response header v1. kafkajs writes header v1; the header's empty tagged-field byte
 * is the first byte of the body here, and the response's is read first (as kafkajs' own
 * ListPartitionReassignments does). Wire formats: https://kafka.apache.org/protocol.
 */
import { createRequire } from 'node:module';
import type { Admin } from 'kafkajs';

const require = createRequire(import.meta.url);

/** kafkajs internals used here (CommonJS, stable: kafkajs 2.2.4 is its last release). */
interface KafkaEncoder {
  writeInt16(v: number): KafkaEncoder;
  writeInt32(v: number): KafkaEncoder;
  writeInt64(v: string | number): KafkaEncoder;
  writeBoolean(v: boolean): KafkaEncoder;
  writeUVarIntString(v: string | null): KafkaEncoder;
  writeUVarIntArray(v: KafkaEncoder[]): KafkaEncoder;
  writeUVarIntBytes(v?: Buffer): KafkaEncoder;
}
interface KafkaDecoder {
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readUVarIntString(): string | null;
  readUVarIntArray<T>(reader: (d: KafkaDecoder) => T): T[] | null;
  readTaggedFields(): void;
}
type ProtocolRequest = { request: { apiKey: number; apiVersion: number; apiName: string; encode: () => Promise<KafkaEncoder> }; response: { decode: (raw: Buffer) => Promise<unknown>; parse: (data: never) => Promise<unknown> } };
interface BrokerInternals {
  connectionPool: { clientId?: string };
  versions: Record<number, { minVersion: number; maxVersion: number } | undefined>;
  [key: symbol]: (r: ProtocolRequest) => Promise<unknown>;
}

const Broker = require('kafkajs/src/broker/index.js') as { prototype: Record<string | symbol, unknown> };
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkaEncoder;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (raw: Buffer) => KafkaDecoder;
const { failure, createErrorFromCode } = require('kafkajs/src/protocol/error.js') as { failure: (code: number) => boolean; createErrorFromCode: (code: number) => Error };
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as { TxnOffsetCommit: number; OffsetFetch: number };

/** What a TxnOffsetCommit v3 carries of the consumer group (Java's ConsumerGroupMetadata). */
export interface GroupMetadata {
  generationId: number;
  memberId: string;
}

/**
 * Explicit maps rather than AsyncLocalStorage: an ALS in use turns on promise hooks for every
 * promise of the process (~2 % of a live runner's CPU, measured).
 * transactionalId → the group metadata its transaction in flight sends (one at a time per id).
 */
const groupMetadata = new Map<string, GroupMetadata>();
/**
 * groupId → the partitions (`topic\0partition` → fetches asking) that stable fetches in flight
 * ask for. While any is, the group's OffsetFetch asks require_stable for those partitions only:
 * the coordinator answers UNSTABLE_OFFSET_COMMIT for any partition asked about with offsets in an
 * open transaction — and this process's own producers keep one open for its other partitions most
 * of the time.
 */
const stableFetches = new Map<string, Map<string, number>>();
/**
 * The client id suffix of the Kafka client whose admin makes stable fetches: only its brokers send
 * them, so a consumer of the same group resolving its offsets meanwhile (another runner in the
 * process, a restart in-process) is never answered with require_stable or a filtered partition list.
 */
export const STABLE_FETCH_CLIENT_SUFFIX = '.stable-offsets';
const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
/** memberId → generation of its last successful SyncGroup. */
const generations = new Map<string, number>();

type TxnOffsetTopics = { topic: string; partitions: { partition: number; offset: string }[] }[];

function txnOffsetCommitV3(a: { transactionalId: string; groupId: string; producerId: string | number; producerEpoch: number; topics: TxnOffsetTopics } & GroupMetadata): ProtocolRequest {
  return {
    request: {
      apiKey: apiKeys.TxnOffsetCommit,
      apiVersion: 3,
      apiName: 'TxnOffsetCommit',
      encode: async () =>
        new Encoder()
          .writeUVarIntBytes() // request header v2: no tagged fields
          .writeUVarIntString(a.transactionalId)
          .writeUVarIntString(a.groupId)
          .writeInt64(a.producerId)
          .writeInt16(a.producerEpoch)
          .writeInt32(a.generationId)
          .writeUVarIntString(a.memberId)
          .writeUVarIntString(null) // group_instance_id: no static membership
          .writeUVarIntArray(
            a.topics.map((t) =>
              new Encoder()
                .writeUVarIntString(t.topic)
                .writeUVarIntArray(t.partitions.map((p) => new Encoder().writeInt32(p.partition).writeInt64(p.offset).writeInt32(-1).writeUVarIntString(null).writeUVarIntBytes()))
                .writeUVarIntBytes(),
            ),
          )
          .writeUVarIntBytes(),
    },
    response: {
      decode: async (raw: Buffer) => {
        const d = new Decoder(raw);
        d.readTaggedFields(); // response header v1
        const throttleTime = d.readInt32();
        const topics = d.readUVarIntArray((td) => {
          const topic = td.readUVarIntString();
          const partitions = td.readUVarIntArray((pd) => {
            const p = { partition: pd.readInt32(), errorCode: pd.readInt16() };
            pd.readTaggedFields();
            return p;
          });
          td.readTaggedFields();
          return { topic, partitions: partitions ?? [] };
        });
        return { throttleTime: 0, clientSideThrottleTime: throttleTime, topics: topics ?? [] };
      },
      parse: async (data: { topics: { partitions: { errorCode: number }[] }[] }) => {
        for (const t of data.topics) for (const p of t.partitions) if (failure(p.errorCode)) throw createErrorFromCode(p.errorCode);
        return data;
      },
    } as ProtocolRequest['response'],
  };
}

function offsetFetchV7(a: { groupId: string; topics: { topic: string; partitions: { partition: number }[] }[] }): ProtocolRequest {
  return {
    request: {
      apiKey: apiKeys.OffsetFetch,
      apiVersion: 7,
      apiName: 'OffsetFetch',
      encode: async () =>
        new Encoder()
          .writeUVarIntBytes() // request header v2
          .writeUVarIntString(a.groupId)
          .writeUVarIntArray(a.topics.map((t) => new Encoder().writeUVarIntString(t.topic).writeUVarIntArray(t.partitions.map((p) => new Encoder().writeInt32(p.partition))).writeUVarIntBytes()))
          .writeBoolean(true) // require_stable
          .writeUVarIntBytes(),
    },
    response: {
      decode: async (raw: Buffer) => {
        const d = new Decoder(raw);
        d.readTaggedFields();
        const throttleTime = d.readInt32();
        const responses = d.readUVarIntArray((td) => {
          const topic = td.readUVarIntString();
          const partitions = td.readUVarIntArray((pd) => {
            const partition = pd.readInt32();
            const offset = pd.readInt64().toString();
            pd.readInt32(); // committed_leader_epoch
            const metadata = pd.readUVarIntString();
            const errorCode = pd.readInt16();
            pd.readTaggedFields();
            return { partition, offset, metadata, errorCode };
          });
          td.readTaggedFields();
          return { topic, partitions: partitions ?? [] };
        });
        const errorCode = d.readInt16();
        d.readTaggedFields();
        return { throttleTime: 0, clientSideThrottleTime: throttleTime, responses: responses ?? [], errorCode };
      },
      parse: async (data: { errorCode: number; responses: { partitions: { errorCode: number }[] }[] }) => {
        if (failure(data.errorCode)) throw createErrorFromCode(data.errorCode);
        for (const t of data.responses) for (const p of t.partitions) if (failure(p.errorCode)) throw createErrorFromCode(p.errorCode);
        return data;
      },
    } as ProtocolRequest['response'],
  };
}

let installed = false;

/** Patch kafkajs' Broker once per process (idempotent). Outside the two contexts nothing changes. */
export function installKip447(): void {
  if (installed) return;
  installed = true;
  const proto = Broker.prototype;
  const sendRequest = Object.getOwnPropertySymbols(proto).find((s) => s.description === 'private:Broker:sendRequest');
  if (sendRequest === undefined) throw new Error('kafkajs internals changed: Broker has no sendRequest symbol (KIP-447 support needs kafkajs 2.2.x)');
  const need = (broker: BrokerInternals, apiKey: number, version: number, name: string): void => {
    const v = broker.versions[apiKey];
    if (v === undefined || v.maxVersion < version) throw new Error(`the broker does not support ${name} v${version} (KIP-447, Kafka ≥ 2.5): kafka.exactly_once per_process cannot fence; use per_partition`);
  };

  const txnOffsetCommit = proto.txnOffsetCommit as (this: BrokerInternals, a: Parameters<typeof txnOffsetCommitV3>[0]) => Promise<unknown>;
  proto.txnOffsetCommit = function (this: BrokerInternals, a: Parameters<typeof txnOffsetCommitV3>[0]) {
    const meta = groupMetadata.get(a.transactionalId);
    if (meta === undefined) return txnOffsetCommit.call(this, a);
    need(this, apiKeys.TxnOffsetCommit, 3, 'TxnOffsetCommit');
    return this[sendRequest]!(txnOffsetCommitV3({ ...a, ...meta }));
  };

  const offsetFetch = proto.offsetFetch as (this: BrokerInternals, a: Parameters<typeof offsetFetchV7>[0]) => Promise<unknown>;
  proto.offsetFetch = function (this: BrokerInternals, a: Parameters<typeof offsetFetchV7>[0]) {
    const wanted = this.connectionPool.clientId?.endsWith(STABLE_FETCH_CLIENT_SUFFIX) ? stableFetches.get(a.groupId) : undefined;
    if (wanted === undefined) return offsetFetch.call(this, a);
    need(this, apiKeys.OffsetFetch, 7, 'OffsetFetch');
    const topics = a.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.filter((p) => wanted.has(partitionKey(t.topic, p.partition))) })).filter((t) => t.partitions.length > 0);
    return this[sendRequest]!(offsetFetchV7({ groupId: a.groupId, topics }));
  };

  const syncGroup = proto.syncGroup as (this: BrokerInternals, a: { generationId: number; memberId: string }) => Promise<unknown>;
  proto.syncGroup = async function (this: BrokerInternals, a: { generationId: number; memberId: string }) {
    const res = await syncGroup.call(this, a);
    generations.set(a.memberId, a.generationId);
    if (generations.size > 64) generations.delete(generations.keys().next().value!); // members of long-gone joins
    return res;
  };
}

/** Run `fn` (kafkajs' sendOffsets of `transactionalId`'s producer) so its TxnOffsetCommit is v3 with this group metadata. */
export async function withGroupMetadata<T>(transactionalId: string, meta: GroupMetadata, fn: () => Promise<T>): Promise<T> {
  groupMetadata.set(transactionalId, meta);
  try {
    return await fn();
  } finally {
    groupMetadata.delete(transactionalId);
  }
}

/** The generation of `memberId`'s last successful SyncGroup in this process (kafkajs' GROUP_JOIN follows it). */
export function syncedGeneration(memberId: string): number | undefined {
  return generations.get(memberId);
}

/** UNSTABLE_OFFSET_COMMIT (88): a transaction holding offsets of the partition is still open. */
export function isUnstableOffsetCommit(err: unknown): boolean {
  const e = err as { type?: string; code?: number } | undefined;
  return e?.type === 'UNSTABLE_OFFSET_COMMIT' || e?.code === 88;
}

/**
 * The group's committed offset of one partition once no open transaction holds offsets of it
 * (OffsetFetch v7, require_stable): retried while the coordinator answers UNSTABLE_OFFSET_COMMIT
 * — until the open transaction commits, aborts, or times out (transaction_timeout_ms). Undefined:
 * the group has committed none. `admin` must belong to a client whose id ends with
 * STABLE_FETCH_CLIENT_SUFFIX (otherwise its fetch is kafkajs' own, not stable).
 */
export async function fetchStableOffset(admin: Admin, groupId: string, topic: string, partition: number): Promise<string | undefined> {
  const key = partitionKey(topic, partition);
  for (let attempt = 0; ; attempt++) {
    let wanted = stableFetches.get(groupId);
    if (wanted === undefined) stableFetches.set(groupId, (wanted = new Map()));
    wanted.set(key, (wanted.get(key) ?? 0) + 1);
    try {
      const fetched = await admin.fetchOffsets({ groupId, topics: [topic] });
      return fetched.find((t) => t.topic === topic)?.partitions.find((p) => p.partition === partition)?.offset;
    } catch (err) {
      if (!isUnstableOffsetCommit(err)) throw err;
    } finally {
      const n = wanted.get(key)! - 1;
      if (n > 0) wanted.set(key, n);
      else wanted.delete(key);
      if (wanted.size === 0) stableFetches.delete(groupId);
    }
    // 20 ms doubling to 500 ms: a transaction completing now is seen at once, a dead owner's
    // (open until transaction_timeout_ms) without a request storm
    await new Promise((r) => setTimeout(r, Math.min(500, 20 * 2 ** Math.min(attempt, 5))));
  }
}
