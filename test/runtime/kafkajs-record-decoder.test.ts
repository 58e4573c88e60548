/**
 * The fetched-record decoder (kafkajs-record-decoder.ts) against kafkajs' own: record batches that
 * kafkajs' encoder wrote — random keys, values and headers (null, empty, binary, multi-byte,
 * repeated keys, header names Object.prototype has), negative and 8-byte timestamp deltas,
 * offsets and timestamps past 2^53, transactional, control and log-append-time batches, gzip —
 * decode to deep-equal batches and records; a cut batch fails with kafkajs' partial-message error.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { recordBatchDecoder, type KafkajsDecoder } from '../../src/runtime/kafkajs-record-decoder.js';

const require = createRequire(import.meta.url);
type Decoder = KafkajsDecoder & { canReadBytes(n: number): boolean };
const KafkaDecoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => Decoder;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(v: unknown): unknown };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer }> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: Record<string, unknown>) => unknown;
const kafkajsDecode = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: Decoder) => Promise<unknown>;
const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: number; GZIP: number } };

let seed = 2024;
const rand = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => rand(256)));
const maybeBytes = (): Buffer | null => [null, Buffer.alloc(0), bytes(1 + rand(40)), Buffer.from('ключ-✓', 'utf8')][rand(4)]!;

function headers(): Record<string, unknown> {
  const h: Record<string, unknown> = {};
  const n = rand(4);
  for (let i = 0; i < n; i++) {
    const key = ['trace', 'ключ', 'toString', 'constructor', 'x'][rand(5)]!;
    // (kafkajs' encoder cannot write a null header value)
    h[key] = rand(3) === 0 ? [bytes(3), Buffer.alloc(0), 'two'] : rand(2) === 0 ? 'ü' : bytes(rand(8));
  }
  if (rand(10) === 0) Object.assign(h, JSON.parse('{"__proto__": "own"}'));
  return h;
}

interface BatchSpec {
  firstOffset: string;
  firstTimestamp: string;
  deltas: unknown[];
  transactional: boolean;
  compression: number;
  flags: number;
}

async function encode(spec: BatchSpec): Promise<Buffer> {
  const records = spec.deltas.map((timestampDelta, offsetDelta) => Record({ offsetDelta, timestampDelta, key: maybeBytes(), value: maybeBytes(), headers: headers() }));
  const enc = await RecordBatch({
    compression: spec.compression,
    firstOffset: Long.fromValue(spec.firstOffset),
    firstTimestamp: Long.fromValue(spec.firstTimestamp),
    maxTimestamp: Long.fromValue(spec.firstTimestamp),
    lastOffsetDelta: spec.deltas.length - 1,
    transactional: spec.transactional,
    producerId: Long.fromValue(rand(2) === 0 ? -1 : 4242),
    records,
  });
  const buf = Buffer.from(enc.buffer);
  buf[22] = buf[22]! | spec.flags; // attributes' low byte: 0x08 log-append time, 0x20 control (the CRC is not checked on fetch)
  return buf;
}

/**
 * Every batch of `buf`, each record's headers as their entries in order (own properties, what
 * kafkajs' spread made): a header named `constructor` holds an array there, and the matchers' type
 * check would compare that array by identity.
 */
async function decodeAll(buf: Buffer, decode: (d: Decoder) => Promise<unknown>): Promise<unknown[]> {
  const d = new KafkaDecoder(buf);
  const out: unknown[] = [];
  while (d.canReadBytes(49)) {
    const batch = (await decode(d)) as { records: { headers: object }[] };
    out.push({
      ...batch,
      records: batch.records.map((r) => ({ ...r, headers: Object.entries(r.headers), headerProto: Object.getPrototypeOf(r.headers) as unknown })),
    });
  }
  return out;
}

describe('kafkajs record batch decoder', () => {
  const ours = recordBatchDecoder();

  it('decodes what kafkajs encodes exactly as kafkajs decodes it', async () => {
    const specs: BatchSpec[] = [];
    for (let i = 0; i < 60; i++) {
      const n = 1 + rand(30);
      specs.push({
        firstOffset: [String(rand(1_000_000)), '9007199254740985', '9223372036854775000'][rand(3)]!,
        firstTimestamp: [String(1_767_225_600_000 + rand(1_000_000)), '-1', '9007199254740990'][rand(3)]!,
        deltas: Array.from({ length: n }, () => [rand(5000), -rand(5000), 2 ** 40 + rand(1000), -(2 ** 47), Long.fromValue('1125899906842624'), Long.fromValue('-4611686018427387904')][rand(6)]),
        transactional: rand(2) === 0,
        compression: rand(4) === 0 ? Types.GZIP : Types.None,
        flags: [0, 0, 0x08, 0x20][rand(4)]!,
      });
    }
    let records = 0;
    let pastSafe = 0;
    for (const spec of specs) {
      const buf = await encode(spec);
      const want = (await decodeAll(buf, kafkajsDecode)) as { records: { offset: string; timestamp: string }[] }[];
      const got = await decodeAll(buf, ours);
      expect(got).toStrictEqual(want);
      for (const b of want) {
        records += b.records.length;
        pastSafe += b.records.filter((r) => !Number.isSafeInteger(Number(r.offset)) || !Number.isSafeInteger(Number(r.timestamp))).length;
      }
    }
    expect(records).toBeGreaterThan(500);
    expect(pastSafe).toBeGreaterThan(50); // the fallback to kafkajs' Long was exercised
  });

  it('decodes several batches in one buffer and a large record', async () => {
    const a = await encode({ firstOffset: '10', firstTimestamp: '1767225600000', deltas: [0, 1, 2], transactional: true, compression: Types.None, flags: 0 });
    const big = Buffer.from(await (await RecordBatch({ firstOffset: Long.fromValue(13), records: [Record({ key: null, value: bytes(600_000), headers: {} })] })).buffer);
    const buf = Buffer.concat([a, big]);
    expect(await decodeAll(buf, ours)).toStrictEqual(await decodeAll(buf, kafkajsDecode));
  });

  it('fails a cut batch with kafkajs’ partial message error', async () => {
    const buf = await encode({ firstOffset: '0', firstTimestamp: '1767225600000', deltas: [0, 1], transactional: false, compression: Types.None, flags: 0 });
    const cut = buf.subarray(0, buf.length - 3);
    await expect(ours(new KafkaDecoder(cut))).rejects.toMatchObject({ name: 'KafkaJSPartialMessageError' });
    await expect(kafkajsDecode(new KafkaDecoder(cut))).rejects.toMatchObject({ name: 'KafkaJSPartialMessageError' });
  });
});
