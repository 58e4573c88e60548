/**
 * kafkajs encodes a Produce request in nested encoders — record, batch body, batch, partition,
 * topic, request — each a fresh zero-filled buffer that doubles as it grows and is then copied
 * whole into the next: a 512 KiB repartition frame is copied six times and ~10× its size is
 * allocated before the request is sent. Those allocations are external memory to V8, and their
 * churn triggered nearly half of the runner's young-generation collections ("external memory
 * pressure" in --trace-gc: ~90 of ~200 over a bench:kafka run phase; ~40 of ~150 with this).
 *
 * This encoder writes the same bytes in one pass into one buffer sized up front: the sizes come
 * from kafkajs' own size functions, the bytes from kafkajs' own Encoder methods in kafkajs' order,
 * the checksum from kafkajs' CRC-32C module (native after kafkajs-crc32c.ts), and every length
 * written ahead of its content is checked against what was written — a mismatch throws (the
 * request fails, and the transaction with it) rather than sending a malformed batch. Compressed
 * batches keep kafkajs' own encoder.
 *
 * Installed like the checksum: Produce v4–v7 wrap v3's request function when they load (lazily, on
 * the first produce), so replacing v3's exports in the CommonJS module cache before then is
 * enough. kafkajs 2.2.4 is its last release, so the paths stay put.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const PRODUCE = 'kafkajs/src/protocol/requests/produce';
const V3_REQUEST = `${PRODUCE}/v3/request.js`;
/** Versions that wrap v3's function when they load: loaded before the swap, they keep kafkajs' own. */
const WRAPPERS = [4, 5, 6, 7].map((v) => `${PRODUCE}/v${v}/request.js`);
/** Marks the installed function, and keeps kafkajs' own (tests compare the two). */
const ORIGINAL = Symbol.for('tokenwatch.kafkajs.produce-v3.original');

const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;
const COMPRESSION_NONE = 0;
/** attributes int16, lastOffsetDelta int32, first/max timestamp int64, producerId int64, producerEpoch int16, firstSequence int32, record count int32. */
const BATCH_BODY_HEADER = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** partitionLeaderEpoch int32, magic int8, crc uint32. */
const BATCH_HEADER = 4 + 1 + 4;

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  writeInt8(v: number): KafkajsEncoder;
  writeInt16(v: number): KafkajsEncoder;
  writeInt32(v: number): KafkajsEncoder;
  writeUInt32(v: number): KafkajsEncoder;
  writeInt64(v: unknown): KafkajsEncoder;
  writeString(v: string | null): KafkajsEncoder;
  writeVarInt(v: number): KafkajsEncoder;
  writeVarLong(v: unknown): KafkajsEncoder;
  writeVarIntBytes(v: unknown): KafkajsEncoder;
  writeVarIntString(v: unknown): KafkajsEncoder;
}
interface KafkajsEncoderClass {
  new (initialSize?: number): KafkajsEncoder;
  sizeOfVarInt(v: number): number;
  sizeOfVarLong(v: unknown): number;
  sizeOfVarIntBytes(v: unknown): number;
}

export interface ProduceMessage {
  key?: unknown;
  value?: unknown;
  timestamp?: string | number | null;
  headers?: Record<string, unknown> | null;
}
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence?: number; messages: ProduceMessage[] }[] }[];
}
interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse: () => boolean;
  encode: () => Promise<KafkajsEncoder>;
}
type ProduceV3 = ((args: ProduceRequestArgs) => ProduceRequest) & { [ORIGINAL]?: ProduceV3 };

const lazy = <T>(load: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= load());
};
const kafkajs = lazy(() => ({
  Encoder: require('kafkajs/src/protocol/encoder.js') as KafkajsEncoderClass,
  Long: require('kafkajs/src/utils/long.js') as { fromInt(v: number): unknown },
  // required when the first request is encoded: after kafkajs-crc32c.ts installed the native one
  crc32c: require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number,
}));

/** One record as kafkajs' Record v0 would encode it. */
interface PlannedRecord {
  message: ProduceMessage;
  headers: { key: string; value: unknown }[];
  timestampDelta: number;
  sizeOfBody: number;
}
interface PlannedBatch {
  partition: number;
  firstSequence: number;
  firstTimestamp: unknown;
  maxTimestamp: unknown;
  records: PlannedRecord[];
  bodyLength: number;
}

// kafkajs' Record v0: headers flattened (an array value is one header per element)
function headersOf(headers: Record<string, unknown>): { key: string; value: unknown }[] {
  return Object.keys(headers).flatMap((key) => {
    const v = headers[key];
    return Array.isArray(v) ? v.map((value: unknown) => ({ key, value })) : [{ key, value: v }];
  });
}

function sizeOfHeaders(E: KafkajsEncoderClass, headers: { key: string; value: unknown }[]): number {
  let size = E.sizeOfVarInt(headers.length);
  for (const h of headers) {
    const keySize = Buffer.byteLength(h.key);
    const valueSize = Buffer.byteLength(h.value as string);
    size += E.sizeOfVarInt(keySize) + keySize;
    size += h.value === null ? E.sizeOfVarInt(-1) : E.sizeOfVarInt(valueSize) + valueSize;
  }
  return size;
}

// kafkajs' partitionsEncoder (produce v3) and RecordBatch v0, sizes only
function planBatch(E: KafkajsEncoderClass, partition: number, firstSequence: number | undefined, messages: ProduceMessage[]): PlannedBatch {
  const dateNow = Date.now();
  const stamps = messages
    .map((m) => m.timestamp)
    .filter((t) => t != null)
    .sort();
  const timestamps = stamps.length === 0 ? [dateNow] : stamps;
  const firstTimestamp = timestamps[0]!;
  const maxTimestamp = timestamps[timestamps.length - 1]!;
  let bodyLength = BATCH_BODY_HEADER;
  const records = messages.map((message, i): PlannedRecord => {
    const headers = headersOf(message.headers === undefined ? {} : (message.headers as Record<string, unknown>));
    const timestampDelta = ((message.timestamp || dateNow) as number) - (firstTimestamp as number);
    const sizeOfBody = 1 + E.sizeOfVarLong(timestampDelta) + E.sizeOfVarInt(i) + E.sizeOfVarIntBytes(message.key) + E.sizeOfVarIntBytes(message.value) + sizeOfHeaders(E, headers);
    bodyLength += E.sizeOfVarInt(sizeOfBody) + sizeOfBody;
    return { message, headers, timestampDelta, sizeOfBody };
  });
  return { partition, firstSequence: firstSequence === undefined ? 0 : firstSequence, firstTimestamp, maxTimestamp, records, bodyLength };
}

const mismatch = (what: string, planned: number, written: number): Error => new Error(`single-pass produce encoder: ${what} planned ${planned} bytes, wrote ${written}`);

function writeBatch(e: KafkajsEncoder, b: PlannedBatch, attributes: number, producerId: unknown, producerEpoch: number): void {
  const { Long, crc32c } = kafkajs();
  const batchLength = BATCH_HEADER + b.bodyLength;
  e.writeInt32(b.partition).writeInt32(8 + 4 + batchLength); // the record set's size: firstOffset int64 + the batch as bytes
  e.writeInt64(Long.fromInt(0)).writeInt32(batchLength);
  const batchStart = e.offset;
  e.writeInt32(0).writeInt8(MAGIC_BYTE);
  const crcAt = e.offset;
  e.writeUInt32(0);
  const bodyStart = e.offset;
  e.writeInt16(attributes)
    .writeInt32(b.records.length - 1)
    .writeInt64(b.firstTimestamp)
    .writeInt64(b.maxTimestamp)
    .writeInt64(producerId)
    .writeInt16(producerEpoch)
    .writeInt32(b.firstSequence)
    .writeInt32(b.records.length);
  b.records.forEach((r, i) => {
    e.writeVarInt(r.sizeOfBody);
    const start = e.offset;
    e.writeInt8(0).writeVarLong(r.timestampDelta).writeVarInt(i).writeVarIntBytes(r.message.key).writeVarIntBytes(r.message.value).writeVarInt(r.headers.length);
    for (const h of r.headers) e.writeVarIntString(h.key).writeVarIntBytes(h.value);
    if (e.offset - start !== r.sizeOfBody) throw mismatch('record', r.sizeOfBody, e.offset - start);
  });
  if (e.offset - batchStart !== batchLength) throw mismatch('record batch', batchLength, e.offset - batchStart);
  e.buf.writeUInt32BE(crc32c(e.buf.subarray(bodyStart, e.offset)), crcAt);
}

/** The Produce v3 request body kafkajs would encode for `args` (uncompressed), in one buffer. */
export function encodeProduceV3(args: ProduceRequestArgs): KafkajsEncoder {
  const { Encoder: E, Long } = kafkajs();
  const transactionalId = args.transactionalId === undefined ? null : args.transactionalId;
  const producerId = args.producerId === undefined ? Long.fromInt(-1) : args.producerId;
  const producerEpoch = args.producerEpoch === undefined ? 0 : args.producerEpoch;
  const attributes = transactionalId ? TRANSACTIONAL_MASK : 0;
  let size = 2 + (transactionalId == null ? 0 : Buffer.byteLength(transactionalId, 'utf8')) + 2 + 4 + 4;
  const topics = args.topicData.map(({ topic, partitions }) => {
    size += 2 + Buffer.byteLength(topic, 'utf8') + 4;
    const batches = partitions.map((p) => planBatch(E, p.partition, p.firstSequence, p.messages));
    for (const b of batches) size += 4 + 4 + 8 + 4 + BATCH_HEADER + b.bodyLength;
    return { topic, batches };
  });
  const e = new E(1);
  e.buf = Buffer.allocUnsafe(size); // every byte up to `offset` is written below; none past it is read
  e.offset = 0;
  e.writeString(transactionalId).writeInt16(args.acks).writeInt32(args.timeout).writeInt32(topics.length);
  for (const t of topics) {
    e.writeString(t.topic).writeInt32(t.batches.length);
    for (const b of t.batches) writeBatch(e, b, attributes, producerId, producerEpoch);
  }
  if (e.offset !== size) throw mismatch('request', size, e.offset);
  return e;
}

let installed: 'single-pass' | 'kafkajs' | undefined;

/**
 * Make kafkajs encode uncompressed Produce requests in one pass (idempotent). 'kafkajs' when a
 * Produce request version had loaded before this ran (it holds kafkajs' function already).
 */
export function installSinglePassProduce(): 'single-pass' | 'kafkajs' {
  if (installed) return installed;
  const path = require.resolve(V3_REQUEST);
  const cached = require.cache[path];
  if ((cached?.exports as ProduceV3 | undefined)?.[ORIGINAL]) return (installed = 'single-pass'); // another copy of this module did it
  if (WRAPPERS.some((w) => require.cache[require.resolve(w)] !== undefined)) return (installed = 'kafkajs');
  const original = require(path) as ProduceV3;
  const singlePass: ProduceV3 = (args) => {
    const request = original(args);
    if (args.compression !== undefined && args.compression !== COMPRESSION_NONE) return request;
    return { ...request, encode: async () => encodeProduceV3(args) };
  };
  singlePass[ORIGINAL] = original;
  require.cache[path]!.exports = singlePass;
  return (installed = 'single-pass');
}

/** kafkajs' own Produce v3 request function (before the swap), for comparisons. */
export function kafkajsProduceV3(): (args: ProduceRequestArgs) => ProduceRequest {
  const current = require(require.resolve(V3_REQUEST)) as ProduceV3;
  return current[ORIGINAL] ?? current;
}
