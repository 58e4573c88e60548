import { describe, expect, it } from 'vitest';
import { compareIds, countIds, resultTable, type CaseResult } from '../../bench/chaos-compare.js';

describe('chaos id comparison', () => {
  it('counts lost, duplicated and extra ids against the expected set', () => {
    const observed = countIds(['a', 'b', 'b', 'b', 'x', 'y', 'y']);
    const c = compareIds(['a', 'b', 'c', 'd'], observed);
    expect(c.lost).toEqual(['c', 'd']);
    expect(c.extra).toEqual(['x', 'y']);
    expect(c.duplicated).toBe(3); // two extra copies of b, one of y
    expect(c.duplicatedIds).toEqual(['b', 'y']);
    expect(c.distinct).toBe(4);
    expect(c.copies).toBe(7);
  });

  it('is all zero when every expected id is observed once', () => {
    const c = compareIds(['a', 'b'], countIds(['b', 'a']));
    expect([c.lost.length, c.extra.length, c.duplicated]).toEqual([0, 0, 0]);
  });

  it('counts everything lost when nothing was observed', () => {
    const c = compareIds(['a', 'b'], new Map());
    expect(c.lost).toEqual(['a', 'b']);
    expect(c.copies).toBe(0);
  });
});

describe('chaos result table', () => {
  const base: CaseResult = { name: 'kill9', expected: 2, notes: ['kill -9 at 41%: recovered in 31.0 s', 'a|b'], secs: 80 };

  it('prints one row per case with topic / ClickHouse pairs, recovery and escaped notes', () => {
    const table = resultTable([
      { ...base, topic: compareIds(['a', 'b'], countIds(['a', 'a', 'z'])), clickhouse: compareIds(['a', 'b'], countIds(['a', 'b'])), recoverySecs: 31.04 },
    ]);
    const lines = table.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('| case | expected | observed topic | observed ClickHouse |');
    expect(lines[2]).toBe('| kill9 | 2 | 2 ids (3 messages) | 2 ids (2 rows) | 1 / 0 | 1 / 0 | 1 / 0 | 31.0 | kill -9 at 41%: recovered in 31.0 s; a\\|b |');
  });

  it('says n/a for a place that could not be read, — without a fault and never for no recovery', () => {
    const [, , noFault] = resultTable([{ ...base, notes: [] }]).split('\n');
    expect(noFault).toBe('| kill9 | 2 | n/a | n/a | n/a / n/a | n/a / n/a | n/a / n/a | — |  |');
    const [, , never] = resultTable([{ ...base, notes: [], recoverySecs: Number.POSITIVE_INFINITY }]).split('\n');
    expect(never).toContain('| never |');
  });
});
