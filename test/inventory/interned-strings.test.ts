import { describe, expect, it } from 'vitest';
import { NONE, SetTable, StringTable } from '../../src/inventory/interned-strings.js';

describe('StringTable', () => {
  it('gives one id per distinct string and frees it with its last reference', () => {
    const t = new StringTable();
    const a = t.acquire('issuer-a');
    expect(t.acquire('issuer-a')).toBe(a);
    expect(t.refCount(a)).toBe(2);
    t.release(a);
    expect(t.value(a)).toBe('issuer-a');
    t.release(a);
    expect(t.lookup('issuer-a')).toBe(NONE);
    expect(t.size).toBe(0);
    const b = t.acquire('issuer-b');
    expect(b).toBe(a); // the freed id is reused
    expect(t.value(b)).toBe('issuer-b');
  });
});

describe('SetTable', () => {
  it('keeps insertion order, the bound, and one table entry per distinct ordered set', () => {
    const t = new SetTable(new StringTable());
    let x = NONE;
    for (const v of ['b', 'a', 'a', 'c', 'd']) x = t.add(x, v, 3);
    expect(t.values(x)).toEqual(['b', 'a', 'c']);
    expect(t.size(x)).toBe(3);
    let y = NONE;
    for (const v of ['b', 'a', 'c']) y = t.add(y, v, 3);
    expect(y).toBe(x);
    let z = t.add(NONE, 'a', 3);
    expect(z).toBeLessThan(0); // a singleton needs no table entry
    z = t.add(z, 'b', 3);
    expect(t.values(z)).toEqual(['a', 'b']);
    expect(t.tableSize).toBe(2);
    expect(t.has(x, 'c')).toBe(true);
    expect(t.has(z, 'c')).toBe(false);
  });

  it('survives churn: released sets are unindexed, the pool is compacted, members stay right', () => {
    const strings = new StringTable();
    const t = new SetTable(strings);
    const live: { id: number; values: string[] }[] = [];
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 20_000; round++) {
      if (live.length > 200 || (live.length > 0 && rnd(3) === 0)) {
        const [gone] = live.splice(rnd(live.length), 1);
        t.release(gone!.id);
        continue;
      }
      let id = NONE;
      const values: string[] = [];
      const n = 1 + rnd(6);
      for (let i = 0; i < n; i++) {
        const v = `v${rnd(30)}`;
        id = t.add(id, v, 8);
        if (!values.includes(v)) values.push(v);
      }
      live.push({ id, values });
    }
    for (const s of live) expect(t.values(s.id)).toEqual(s.values);
    for (const s of live) t.release(s.id);
    expect(t.tableSize).toBe(0);
    expect(strings.size).toBe(0);
  });
});
