/**
 * kafkajs decodes each fetched record through its Long class — a BigInt and a Long object made,
 * shifted and added for every byte of the timestamp delta's varlong, the batch's first offset and
 * timestamp parsed from strings again for every record — and wraps each record in a Decoder over
 * a slice of it. For the runner that is every input record and every repartition frame (in the
 * runner's main-thread heap profile, kafkajs' record decoding and Long arithmetic made a tenth of
 * what it allocated). This decoder gives the same batch and record objects — same keys in the
 * same order, offsets and timestamps as the same decimal strings, keys, values and header values
 * as views of the same bytes, headers folded the same way — with plain numbers wherever the
 * values are safe integers, and kafkajs' own Long arithmetic where they are not.
 *
 * It replaces kafkajs' `recordBatch/v0/decoder.js` in the CommonJS module cache before kafkajs
 * loads it (lazily: the Fetch v4+ response decoder requires it on the first fetch), as
 * kafkajs-crc32c.ts does for the checksum; kafkajs 2.2.4 is its last release, so the path stays
 * put. Compressed batches are decompressed by kafkajs' own codecs, then decoded here.
 */
import { createRequire, Module } from 'node:module';

const require = createRequire(import.meta.url);

const KAFKAJS_BATCH_DECODER = 'kafkajs/src/protocol/recordBatch/v0/decoder.js';

/** kafkajs' Decoder (protocol/decoder.js), as far as this module uses it. */
export interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readVarLong(): unknown;
  readAll(): Buffer;
  slice(size: number): KafkajsDecoder;
  forward(size: number): void;
}
type DecoderClass = new (buffer: Buffer) => KafkajsDecoder;
interface LongClass {
  fromValue(v: unknown): { add(x: unknown): { toString(): string } };
}

const TIMESTAMP_TYPE_FLAG_MASK = 0x8;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;

export interface RecordContext {
  firstOffset: string;
  firstTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  timestampType: number;
  magicByte?: number;
}

export interface DecodedRecord {
  magicByte: number | undefined;
  attributes: number;
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
  isControlRecord: boolean;
  batchContext: RecordContext;
}

/** The batch decoder, built on kafkajs' own Decoder, Long, codecs and errors. */
export function recordBatchDecoder(): (fetchDecoder: KafkajsDecoder) => Promise<RecordContext & { records: DecodedRecord[] }> {
  const Decoder = require('kafkajs/src/protocol/decoder.js') as DecoderClass;
  const Long = require('kafkajs/src/utils/long.js') as LongClass;
  const { KafkaJSPartialMessageError } = require('kafkajs/src/errors.js') as { KafkaJSPartialMessageError: new (m: string) => Error };
  const { lookupCodecByAttributes } = require('kafkajs/src/protocol/message/compression/index.js') as {
    lookupCodecByAttributes: (attributes: number) => { decompress(b: Buffer): Promise<Buffer> } | null;
  };
  const TimestampTypes = require('kafkajs/src/protocol/timestampTypes.js') as { LOG_APPEND_TIME: number; CREATE_TIME: number };

  return async (fetchDecoder) => {
    const firstOffset = fetchDecoder.readInt64().toString();
    const length = fetchDecoder.readInt32();
    const decoder = fetchDecoder.slice(length);
    fetchDecoder.forward(length);
    const remainingBytes = Buffer.byteLength(decoder.buffer);
    if (remainingBytes < length) {
      throw new KafkaJSPartialMessageError(`Tried to decode a partial record batch: remainingBytes(${remainingBytes}) < recordBatchLength(${length})`);
    }
    const partitionLeaderEpoch = decoder.readInt32();
    const magicByte = decoder.readInt8(); // read by the Fetch decoder already; kafkajs gives it to every record
    decoder.readInt32(); // CRC: not checked (kafkajs does not either)
    const attributes = decoder.readInt16();
    const lastOffsetDelta = decoder.readInt32();
    const firstTimestamp = decoder.readInt64().toString();
    const maxTimestamp = decoder.readInt64().toString();
    const producerId = decoder.readInt64().toString();
    const producerEpoch = decoder.readInt16();
    const firstSequence = decoder.readInt32();
    const inTransaction = (attributes & TRANSACTIONAL_FLAG_MASK) > 0;
    const isControlBatch = (attributes & CONTROL_FLAG_MASK) > 0;
    const timestampType = (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? TimestampTypes.LOG_APPEND_TIME : TimestampTypes.CREATE_TIME;
    const codec = lookupCodecByAttributes(attributes);
    const recordContext: RecordContext = {
      firstOffset, firstTimestamp, partitionLeaderEpoch, inTransaction, isControlBatch, lastOffsetDelta,
      producerId, producerEpoch, firstSequence, maxTimestamp, timestampType,
    };
    const ctx: RecordContext = { ...recordContext, magicByte };
    let records: DecodedRecord[];
    if (!codec) {
      const count = decoder.readInt32();
      records = count === -1 ? [] : readRecords(decoder.buffer, decoder.offset, count, ctx);
    } else {
      const count = decoder.readInt32();
      if (count <= 0) records = [];
      else {
        const decompressed = await codec.decompress(decoder.readAll());
        records = readRecords(decompressed, 0, count, ctx);
      }
    }
    return { ...recordContext, records };
  };

  /** `count` records from `at` in `b`, as kafkajs' record decoder (record/v0/decoder.js) makes them. */
  function readRecords(b: Buffer, at: number, count: number, ctx: RecordContext): DecodedRecord[] {
    const baseOffset = Number(ctx.firstOffset);
    const baseTime = Number(ctx.firstTimestamp);
    const appendTime = ctx.timestampType === TimestampTypes.LOG_APPEND_TIME && ctx.maxTimestamp;
    const out = new Array<DecodedRecord>(count);
    let p = at;
    const varint = (): number => {
      let result = 0;
      let i = 0;
      let byte: number;
      do {
        byte = b[p++]!;
        result += (byte & 0x7f) << i;
        i += 7;
      } while (byte >= 0x80);
      return (result >>> 1) ^ -(result & 1);
    };
    const bytes = (): Buffer | null => {
      const n = varint();
      if (n === -1) return null;
      const v = b.subarray(p, p + n);
      p += n;
      return v;
    };
    for (let r = 0; r < count; r++) {
      const len = varint();
      const end = p + len;
      const attributes = b.readInt8(p++);
      // the timestamp delta, a varlong: up to 7 bytes (49 bits) exact as a number
      const deltaStart = p;
      let n = 0;
      let mul = 1;
      let k = 0;
      let byte: number;
      do {
        byte = b[p++]!;
        n += (byte & 0x7f) * mul;
        mul *= 128;
        k++;
      } while (byte >= 0x80 && k < 7);
      const short = byte < 0x80;
      if (!short) p = skipVarLong(b, deltaStart); // kafkajs' reader (which throws past 9 bytes)
      let timestamp: string;
      if (appendTime) timestamp = ctx.maxTimestamp;
      else if (short && Number.isSafeInteger(baseTime)) {
        const t = baseTime + (n % 2 === 0 ? n / 2 : -(n + 1) / 2); // zigzag
        timestamp = Number.isSafeInteger(t) ? String(t) : longSum(ctx.firstTimestamp, b, deltaStart);
      } else timestamp = longSum(ctx.firstTimestamp, b, deltaStart);
      const offsetDelta = varint();
      const o = baseOffset + offsetDelta;
      const offset = Number.isSafeInteger(baseOffset) && Number.isSafeInteger(o) ? String(o) : Long.fromValue(ctx.firstOffset).add(offsetDelta).toString();
      const key = bytes();
      const value = bytes();
      const headers: DecodedRecord['headers'] = {};
      const headerCount = varint();
      for (let h = 0; h < headerCount; h++) {
        const keyLength = varint();
        let hk: string | null = null;
        if (keyLength !== -1) {
          hk = b.toString('utf8', p, p + keyLength);
          p += keyLength;
        }
        const hv = bytes();
        foldHeader(headers, String(hk), hv);
      }
      out[r] = { magicByte: ctx.magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: ctx.isControlBatch, batchContext: ctx };
      p = end;
    }
    return out;
  }

  /** firstTimestamp + the varlong at `at`, by kafkajs' own Decoder and Long (values past 2^53). */
  function longSum(first: string, b: Buffer, at: number): string {
    const d = new Decoder(b);
    d.offset = at;
    return Long.fromValue(first).add(d.readVarLong()).toString();
  }

  function skipVarLong(b: Buffer, at: number): number {
    const d = new Decoder(b);
    d.offset = at;
    d.readVarLong();
    return d.offset;
  }
}

/**
 * kafkajs' fold (`{ ...obj, [key]: … }`): one value as is, a repeated key as an array in arrival
 * order, always an own property — and, as there, the lookup sees inherited members (a header
 * named `toString` folds with Object.prototype's function): the same object, oddities included.
 */
function foldHeader(headers: DecodedRecord['headers'], key: string, value: Buffer | null): void {
  const prev = (headers as Record<string, unknown>)[key] as DecodedRecord['headers'][string] | undefined;
  const next = prev === undefined ? value : Array.isArray(prev) ? prev.concat([value]) : [prev, value];
  Object.defineProperty(headers, key, { value: next, writable: true, enumerable: true, configurable: true });
}

let installed: 'tokenwatch' | 'kafkajs' | undefined;

/**
 * Make kafkajs decode fetched record batches with this module (idempotent). 'kafkajs' when kafkajs
 * had loaded its own decoder before this ran (nothing changed then).
 */
export function installRecordDecoder(): 'tokenwatch' | 'kafkajs' {
  if (installed) return installed;
  const path = require.resolve(KAFKAJS_BATCH_DECODER);
  if (require.cache[path] !== undefined) return (installed = 'kafkajs');
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = recordBatchDecoder();
  require.cache[path] = m;
  return (installed = 'tokenwatch');
}
