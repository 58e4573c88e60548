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
