import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeProduceV3, installSinglePassProduce, kafkajsProduceV3, type ProduceMessage, type ProduceRequestArgs } from '../../src/runtime/kafkajs-produce-encoder.js';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long.js') as { fromInt(v: number): unknown; fromString(s: string): unknown };

/** The request body kafkajs' own encoder gives for `args`. */
async function kafkajsBytes(args: ProduceRequestArgs): Promise<Buffer> {
  const enc = (await kafkajsProduceV3()(args).encode()) as unknown as { buffer: Buffer };
  return enc.buffer;
}
const ours = (args: ProduceRequestArgs): Buffer => (encodeProduceV3(args) as unknown as { buffer: Buffer }).buffer;

/** A pseudo-random message: keys and values null, strings (multi-byte too) or buffers; headers of every shape kafkajs takes. */
function message(i: number, rnd: () => number): ProduceMessage {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const m: ProduceMessage = {
    key: pick([null, undefined, `k${i}`, 'ключ-é', randomBytes(Math.floor(rnd() * 40))]),
    value: pick([null, `v${i}`.repeat(Math.floor(rnd() * 50)), 'ünïcødé ✓', randomBytes(Math.floor(rnd() * 3000))]),
  };
  if (rnd() < 0.5) m.headers = pick([{}, { a: 'x' }, { trace: Buffer.from('abc'), multi: ['1', '22', 'ß'] }, { 'h-é': randomBytes(5) }]);
  if (rnd() < 0.3) m.timestamp = String(1_700_000_000_000 + Math.floor(rnd() * 10_000));
  return m;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('single-pass produce encoder', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the bytes kafkajs writes, over random requests (keys, values, headers, timestamps, topics, partitions)', async () => {
    vi.useFakeTimers({ now: 1_764_000_000_000 }); // messages without a timestamp take Date.now() in both
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = seeded(seed);
      const topics = 1 + Math.floor(rnd() * 3);
      const args: ProduceRequestArgs = {
        acks: seed % 2 === 0 ? -1 : 1,
        timeout: 30_000,
        transactionalId: seed % 3 === 0 ? null : `tw-tx-${seed}`,
        producerId: Long.fromString(String(4_000 + seed)),
        producerEpoch: seed % 5,
        compression: 0,
        topicData: Array.from({ length: topics }, (_, t) => ({
          topic: `topic-${t}-é`,
          partitions: Array.from({ length: 1 + Math.floor(rnd() * 4) }, (_, p) => ({
            partition: p,
            ...(seed % 4 === 0 && { firstSequence: seed * 7 }),
            messages: Array.from({ length: Math.floor(rnd() * 12) }, (_, i) => message(i, rnd)),
          })),
        })),
      };
      const expected = await kafkajsBytes(args);
      expect(ours(args).equals(expected), `seed ${seed}`).toBe(true);
    }
  });

  it('takes kafkajs\' defaults: no transactional id, producer id or epoch, and a 512 KiB record', async () => {
    vi.useFakeTimers({ now: 1_764_000_000_000 });
    const args: ProduceRequestArgs = { acks: -1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 3, messages: [{ key: null, value: randomBytes(512 * 1024) }] }] }] };
    const bytes = ours(args);
    expect(bytes.equals(await kafkajsBytes(args))).toBe(true);
    expect(bytes.length).toBeGreaterThan(512 * 1024);
  });

  it('rejects what kafkajs rejects (a header with a null value throws in both)', async () => {
    const args: ProduceRequestArgs = { acks: -1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v', headers: { h: null } }] }] }] };
    await expect(kafkajsBytes(args)).rejects.toThrow();
    expect(() => ours(args)).toThrow();
  });

  it('replaces Produce v3 in kafkajs\' module cache, so the versions built on it (v4–v7) encode in one pass; compressed requests keep kafkajs\' encoder', async () => {
    expect(installSinglePassProduce()).toBe('single-pass');
    expect(installSinglePassProduce()).toBe('single-pass'); // idempotent
    vi.useFakeTimers({ now: 1_764_000_000_000 });
    const v7 = require('kafkajs/src/protocol/requests/produce/v7/request.js') as (a: ProduceRequestArgs) => { apiVersion: number; encode(): Promise<{ buffer: Buffer }> };
    const args: ProduceRequestArgs = { acks: -1, timeout: 1000, transactionalId: 'tx', producerId: Long.fromInt(9), producerEpoch: 2, topicData: [{ topic: 't', partitions: [{ partition: 1, messages: [{ key: 'k', value: 'v' }] }] }] };
    const req = v7(args);
    expect(req.apiVersion).toBe(7);
    const spy = vi.spyOn(Buffer, 'allocUnsafe');
    const encoded = await req.encode();
    expect(spy).toHaveBeenCalledWith(encoded.buffer.length); // one buffer of exactly the request's size
    spy.mockRestore();
    expect(encoded.buffer.equals(await kafkajsBytes(args))).toBe(true);
    const gzip = v7({ ...args, compression: 1 });
    const compressed = (await gzip.encode()).buffer;
    expect(compressed.equals(await kafkajsProduceV3()({ ...args, compression: 1 }).encode().then((e) => (e as unknown as { buffer: Buffer }).buffer))).toBe(true);
  });
});
