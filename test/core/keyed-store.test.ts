import { describe, expect, it } from 'vitest';
import { KeyedStore } from '../../src/core/keyed-store.js';

describe('KeyedStore', () => {
  it('evicts the least recently touched key beyond maxKeys', () => {
    const s = new KeyedStore<number>(3, Infinity);
    for (const [k, t] of [['a', 1], ['b', 2], ['c', 3]] as const) s.touch(k, t, () => t);
    s.touch('a', 4, () => -1); // a is now the most recent
    s.touch('d', 5, () => 5);
    expect(s.get('b')).toBeUndefined();
    expect([s.get('a'), s.get('c'), s.get('d')]).toEqual([1, 3, 5]);
    expect(s.size).toBe(3);
    expect(s.evicted).toBe(1);
  });

  it('evicts keys idle longer than maxIdleMs in event time, also after out-of-order touches', () => {
    const s = new KeyedStore<string>(100, 10);
    s.touch('old', 0, () => 'o');
    s.touch('new', 50, () => 'n');
    s.touch('late', 5, () => 'l'); // out of order: touched earlier than the most recent
    expect(s.evictIdle(30)).toBe(2);
    expect(s.get('new')).toBe('n');
    expect(s.get('old')).toBeUndefined();
    expect(s.get('late')).toBeUndefined();
  });

  it('round-trips through JSON with its LRU order', () => {
    const s = new KeyedStore<{ n: number }>(2, Infinity);
    s.touch('a', 1, () => ({ n: 1 }));
    s.touch('b', 2, () => ({ n: 2 }));
    const copy = new KeyedStore<{ n: number }>(2, Infinity);
    copy.load(JSON.parse(JSON.stringify(s.toJSON())));
    copy.touch('c', 3, () => ({ n: 3 })); // evicts a, the least recent
    expect(copy.get('a')).toBeUndefined();
    expect(copy.get('b')).toEqual({ n: 2 });
  });

  it('keeps exactly maxKeys entries through many evictions', () => {
    const s = new KeyedStore<number>(1000, Infinity);
    for (let i = 0; i < 200_000; i++) s.touch(`k${i}`, i, () => i);
    expect(s.size).toBe(1000);
    expect(s.evicted).toBe(199_000);
    expect(s.get('k199999')).toBe(199_999);
  });
});

/** The object-per-entry semantics the packed store keeps: LRU by seq of the last touch, TTL by touch time. */
class ReferenceStore {
  readonly map = new Map<string, { value: number; touched: number; seq: number }>();
  private seq = 0;
  evicted = 0;
  constructor(private readonly maxKeys: number, private readonly maxIdleMs: number) {}
  touch(key: string, time: number, value: number): number {
    const e = this.map.get(key);
    if (e) {
      e.seq = ++this.seq;
      e.touched = Math.max(e.touched, time);
      return e.value;
    }
    this.map.set(key, { value, touched: time, seq: ++this.seq });
    if (this.map.size > this.maxKeys) {
      this.map.delete(this.order()[0]![0]);
      this.evicted++;
    }
    return value;
  }
  evictIdle(watermark: number): number {
    let n = 0;
    for (const [k, e] of this.order()) if (e.touched < watermark - this.maxIdleMs) (this.map.delete(k), n++);
    this.evicted += n;
    return n;
  }
  order(): [string, { value: number; touched: number; seq: number }][] {
    return [...this.map].sort((a, b) => a[1].seq - b[1].seq);
  }
}

describe('KeyedStore (packed fingerprint keys)', () => {
  const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
  /** Fingerprints that share their first 24 hex digits in groups (as replicated streams do), plus other keys. */
  const keyOf = (i: number): string => (i % 7 === 3 ? `issuer-${i}` : i % 11 === 5 ? `TW1:${hex(i, 32)}` : `tw1:${hex(i >> 3, 24)}${hex(i * 2654435761 >>> 0, 8)}`);

  it('behaves as the object-per-entry store under random touches, deletes, TTL and LRU eviction', () => {
    let a = 12345;
    const rnd = (): number => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const s = new KeyedStore<number>(300, 5_000);
    const ref = new ReferenceStore(300, 5_000);
    let t = 0;
    for (let step = 0; step < 40_000; step++) {
      t += Math.floor(rnd() * 3) - (rnd() < 0.05 ? 50 : 0); // mostly forward, sometimes out of order
      const key = keyOf(Math.floor(rnd() * 900));
      const r = rnd();
      if (r < 0.8) expect(s.touch(key, t, () => step)).toBe(ref.touch(key, t, step));
      else if (r < 0.85) (s.delete(key), ref.map.delete(key));
      else if (r < 0.86) expect(s.evictIdle(t)).toBe(ref.evictIdle(t));
      else expect(s.get(key)).toBe(ref.map.get(key)?.value);
      if (step % 5000 === 0) expect(s.toJSON()).toEqual(ref.order().map(([k, e]) => [k, { value: e.value, touched: e.touched }]));
    }
    expect(s.size).toBe(ref.map.size);
    expect(s.evicted).toBe(ref.evicted);
    expect(s.toJSON()).toEqual(ref.order().map(([k, e]) => [k, { value: e.value, touched: e.touched }]));
    for (let i = 0; i < 900; i++) expect(s.get(keyOf(i))).toBe(ref.map.get(keyOf(i))?.value);
  });

  it('reports changed keys, and entries put back one by one in any order rebuild the LRU order', () => {
    const s = new KeyedStore<number>(50, Infinity);
    expect(s.drainChanged()).toEqual([]);
    for (let i = 0; i < 80; i++) s.touch(keyOf(i), i, () => i);
    const changed = s.drainChanged();
    // 80 touched, 30 of them evicted again: each reported once
    expect(new Set(changed)).toEqual(new Set(Array.from({ length: 80 }, (_, i) => keyOf(i))));
    expect(changed).toHaveLength(80);
    s.touch(keyOf(40), 100, () => -1);
    s.mark(keyOf(41));
    s.mark(keyOf(0)); // evicted: not a change
    expect(s.drainChanged().sort()).toEqual([keyOf(40), keyOf(41)].sort());
    const copy = new KeyedStore<number>(50, Infinity);
    const entries = s.toJSON().map(([k]) => [k, s.getEntry(k)!] as const);
    for (const [k, e] of [...entries].reverse()) copy.putEntry(k, JSON.parse(JSON.stringify(e)));
    expect(copy.toJSON()).toEqual(s.toJSON());
    expect(copy.drainChanged()).toEqual([]);
    copy.touch(keyOf(200), 200, () => 200); // evicts the least recently touched, as the original would
    s.touch(keyOf(200), 200, () => 200);
    expect(copy.toJSON()).toEqual(s.toJSON());
  });
});
