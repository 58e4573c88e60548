import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TokenwatchError } from '../../src/core/errors.js';
import { consecutiveLanes, decodedRecordTime, mergeByEventTime, mergeDecodedInputs } from '../../src/sources/merged-source.js';
import type { DecodedRecord } from '../../src/sources/merged-source.js';
import { readRecords, type RawRecord } from '../../src/sources/file-source.js';
import type { DecodeResult } from '../../src/pipeline/decode.js';
import type { TokenEvent } from '../../schemas/token-event.js';

interface Item {
  name: string;
  t?: number;
}

async function* from(items: readonly Item[]): AsyncGenerator<Item> {
  for (const i of items) yield i;
}

async function collect<T>(it: AsyncIterable<{ input: number; item: T }>): Promise<{ input: number; item: T }[]> {
  const out: { input: number; item: T }[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const names = (xs: readonly { item: Item }[]): string[] => xs.map((x) => x.item.name);

describe('mergeByEventTime', () => {
  it('releases the earliest head of all inputs, whatever the order of the inputs', async () => {
    const a: Item[] = [{ name: 'a1', t: 10 }, { name: 'a2', t: 30 }, { name: 'a3', t: 50 }];
    const b: Item[] = [{ name: 'b1', t: 5 }, { name: 'b2', t: 40 }];
    const c: Item[] = [{ name: 'c1', t: 20 }];
    const forward = await collect(mergeByEventTime([from(a), from(b), from(c)], (i) => i.t));
    expect(names(forward)).toEqual(['b1', 'a1', 'c1', 'a2', 'b2', 'a3']);
    expect(forward.map((x) => x.input)).toEqual([1, 0, 2, 0, 1, 0]);
    const backward = await collect(mergeByEventTime([from(c), from(b), from(a)], (i) => i.t));
    expect(names(backward)).toEqual(names(forward));
  });

  it('breaks ties by input order, and keeps an input roughly ordered as it is', async () => {
    const a: Item[] = [{ name: 'a1', t: 10 }, { name: 'a2', t: 8 }, { name: 'a3', t: 20 }];
    const b: Item[] = [{ name: 'b1', t: 10 }, { name: 'b2', t: 20 }];
    expect(names(await collect(mergeByEventTime([from(a), from(b)], (i) => i.t)))).toEqual(['a1', 'a2', 'b1', 'a3', 'b2']);
    expect(names(await collect(mergeByEventTime([from(b), from(a)], (i) => i.t)))).toEqual(['b1', 'a1', 'a2', 'b2', 'a3']);
  });

  it('passes items without a time on as soon as they are read, without holding the merge back', async () => {
    const a: Item[] = [{ name: 'bad-a0' }, { name: 'a1', t: 100 }, { name: 'bad-a1' }, { name: 'a2', t: 300 }];
    const b: Item[] = [{ name: 'b1', t: 50 }, { name: 'bad-b' }, { name: 'b2', t: 200 }];
    const out = names(await collect(mergeByEventTime([from(a), from(b)], (i) => i.t)));
    // bad-a1 is read when a1 is released (to find a's next head), before b2
    expect(out).toEqual(['bad-a0', 'b1', 'bad-b', 'a1', 'bad-a1', 'b2', 'a2']);
  });

  it('holds one head per input: reading stays one item ahead of what is released', async () => {
    const pulledA = { n: 0 };
    const pulledB = { n: 0 };
    async function* endless(start: number, step: number, pulled: { n: number }): AsyncGenerator<Item> {
      for (let t = start; ; t += step) {
        pulled.n++;
        yield { name: `t${t}`, t };
      }
    }
    let released = 0;
    for await (const _x of mergeByEventTime([endless(0, 2, pulledA), endless(1, 2, pulledB)], (i) => i.t)) {
      if (++released === 1000) break;
    }
    expect(pulledA.n + pulledB.n).toBeLessThanOrEqual(released + 2);
    expect(Math.abs(pulledA.n - pulledB.n)).toBeLessThanOrEqual(1);
  });

  it('closes every input when the consumer stops or an input fails', async () => {
    const closed: string[] = [];
    async function* tracked(name: string, items: Item[], failAfter?: number): AsyncGenerator<Item> {
      try {
        let k = 0;
        for (const i of items) {
          if (failAfter !== undefined && k++ === failAfter) throw new Error(`${name} broke`);
          yield i;
        }
      } finally {
        closed.push(name);
      }
    }
    const many = (p: string): Item[] => Array.from({ length: 10 }, (_, i) => ({ name: `${p}${i}`, t: i }));
    for await (const _x of mergeByEventTime([tracked('a', many('a')), tracked('b', many('b'))], (i) => i.t)) break;
    expect(closed.sort()).toEqual(['a', 'b']);
    closed.length = 0;
    await expect(collect(mergeByEventTime([tracked('a', many('a')), tracked('b', many('b'), 3)], (i) => i.t))).rejects.toThrow('b broke');
    expect(closed.sort()).toEqual(['a', 'b']);
  });

  it('handles no inputs and empty inputs', async () => {
    expect(await collect(mergeByEventTime<Item>([], (i) => i.t))).toEqual([]);
    expect(names(await collect(mergeByEventTime([from([]), from([{ name: 'x', t: 1 }])], (i) => i.t)))).toEqual(['x']);
  });
});

describe('consecutiveLanes', () => {
  it('keeps up to the limit side by side and groups consecutive inputs beyond it', () => {
    expect(consecutiveLanes([1, 2, 3], 64)).toEqual([[1], [2], [3]]);
    expect(consecutiveLanes([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2], [3, 4], [5, 6, 7]]);
    expect(consecutiveLanes([], 64)).toEqual([[]]);
  });
});

describe('mergeDecodedInputs', () => {
  const event = (time: number): TokenEvent => ({ event_id: `e${time}`, source: 'okta', platform: 'okta', action: 'use', time, token: { fp: 'tw1:' + '0'.repeat(32), kind: 'oauth_access' } });
  // a stand-in decoder: `{"t":N}` is one event at N, anything else a rejection
  const decode = (rec: RawRecord): DecodeResult => {
    const m = /^\{"t":(\d+)\}$/.exec(rec.text ?? '');
    return m ? { ok: true, format: 'okta', events: [event(Number(m[1]))] } : { ok: false, error: new TokenwatchError('invalid_json', 'bad') };
  };
  const stream = (lines: string[]) => () => readRecords(Readable.from([lines.join('\n') + '\n']), 'x');

  it('merges decoded records by their event time, dead letters keep their input and index', async () => {
    const out = await collect(
      mergeDecodedInputs(
        [
          { name: 'gateway', records: () => readRecords(Readable.from(['{"t":20}\n{"t":40}\nnot json\n']), 'gateway') },
          { name: 'idp', records: () => readRecords(Readable.from(['{"t":10}\n{"t":30}\n']), 'idp') },
        ],
        decode,
      ),
    );
    expect(out.map((x) => decodedRecordTime(x.item) ?? `dl:${x.item.rec.origin.file}#${x.item.rec.origin.index}`)).toEqual([10, 20, 30, 40, 'dl:gateway#2']);
  });

  it('reads inputs beyond the lane limit one after another in their lane', async () => {
    const out = await collect(mergeDecodedInputs([{ name: 'a', records: stream(['{"t":1}', '{"t":5}']) }, { name: 'b', records: stream(['{"t":2}']) }, { name: 'c', records: stream(['{"t":3}']) }], decode, 2));
    // lanes [a] and [b, c]
    expect(out.map((x) => decodedRecordTime(x.item))).toEqual([1, 2, 3, 5]);
  });

  it('names the input that cannot be read (source_failed, cause kept)', async () => {
    const it = mergeDecodedInputs([{ name: 'missing.ndjson', records: () => readRecords('/nonexistent/missing.ndjson', 'missing.ndjson') }], decode);
    const err = await collect(it).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenwatchError);
    expect((err as TokenwatchError).code).toBe('source_failed');
    expect((err as TokenwatchError).message).toContain('missing.ndjson');
    expect((err as TokenwatchError).cause).toBeInstanceOf(Error);
  });

  it('gives a record with several events the time of its earliest', () => {
    const d: DecodedRecord = { rec: { text: '', origin: { file: 'f', index: 0 } }, result: { ok: true, format: 'okta', events: [event(9), event(4), event(7)] } };
    expect(decodedRecordTime(d)).toBe(4);
    expect(decodedRecordTime({ ...d, result: { ok: true, format: 'okta', events: [] } })).toBeUndefined();
  });
});
