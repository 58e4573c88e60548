import { describe, expect, it } from 'vitest';
import { RecentIdSet } from '../../src/core/recent-id-set.js';

describe('RecentIdSet', () => {
  it('remembers exactly the last `capacity` distinct ids, as a Set with a FIFO queue would', () => {
    const cap = 1000;
    const s = new RecentIdSet(cap);
    const ref = new Set<string>();
    const order: string[] = [];
    let x = 7;
    const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let n = 0; n < 50_000; n++) {
      // ids repeat often (duplicates) and are evicted constantly: probe runs shift all the time
      const id = `evt-${Math.floor(rnd() * 3000)}-${n % 7 === 0 ? 'x' : ''}`;
      expect(s.has(id)).toBe(ref.has(id));
      if (!ref.has(id)) {
        ref.add(id);
        order.push(id);
        if (ref.size > cap) ref.delete(order.shift()!);
      }
      s.add(id);
      expect(s.size).toBe(ref.size);
    }
    for (let i = 0; i < 3000; i++) for (const suffix of ['', 'x']) expect(s.has(`evt-${i}-${suffix}`)).toBe(ref.has(`evt-${i}-${suffix}`));
  });

  it('tells ids apart that differ in one character, and an empty id from none', () => {
    const s = new RecentIdSet(4);
    s.add('a1b2c3d4-0000-4000-8000-000000000001');
    expect(s.has('a1b2c3d4-0000-4000-8000-000000000002')).toBe(false);
    expect(s.has('a1b2c3d4-0000-4000-8000-000000000001')).toBe(true);
    expect(s.has('')).toBe(false);
    s.add('');
    expect(s.has('')).toBe(true);
  });
});
