import { describe, expect, it } from 'vitest';
import { MidasR, chiSquaredScore, hashString, normalizeScore } from '../../src/scoring/midas-r.js';

/** Deterministic pseudo-random integers in [0, n). */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a % n;
  };
}

describe('MIDAS-R maths', () => {
  it('chi-squared score matches the paper: ((a − s/t)·t)² / (s·(t − 1)), 0 at t ≤ 1 or s = 0', () => {
    expect(chiSquaredScore(5, 10, 1)).toBe(0);
    expect(chiSquaredScore(0, 0, 10)).toBe(0);
    // a = 6 now, s = 10 in total, t = 5 ticks: ((6 − 2)·5)² / (10·4) = 400 / 40 = 10
    expect(chiSquaredScore(6, 10, 5)).toBeCloseTo(10, 12);
    // A count at exactly its mean rate scores 0.
    expect(chiSquaredScore(2, 10, 5)).toBe(0);
  });

  it('normalizeScore is 0 at 0, 0.5 at half, strictly increasing and below 1', () => {
    expect(normalizeScore(0, 50)).toBe(0);
    expect(normalizeScore(-3, 50)).toBe(0);
    expect(normalizeScore(50, 50)).toBeCloseTo(0.5, 12);
    let prev = 0;
    for (const x of [0.1, 1, 10, 100, 1e3, 1e4, 1e6]) {
      const s = normalizeScore(x, 50);
      expect(s).toBeGreaterThan(prev);
      expect(s).toBeLessThan(1);
      prev = s;
    }
    // Large scores stay apart at 6 decimals (no saturation).
    expect(Number(normalizeScore(1e4, 50).toFixed(6))).toBeLessThan(Number(normalizeScore(1e5, 50).toFixed(6)));
  });

  it('hashString is seeded and deterministic', () => {
    expect(hashString('role/a', 1)).toBe(hashString('role/a', 1));
    expect(hashString('role/a', 1)).not.toBe(hashString('role/a', 2));
    expect(hashString('role/a', 1)).not.toBe(hashString('role/b', 1));
  });
});

describe('MidasR', () => {
  /** 60 ticks of background: 30 edges among 20 nodes per tick; then one edge bursts 40×. */
  function run(m: MidasR, burst: boolean): { background: number[]; burst: number[] } {
    const r = rng(11);
    const background: number[] = [];
    const burstScores: number[] = [];
    for (let t = 1; t <= 60; t++) {
      for (let k = 0; k < 30; k++) {
        const s = m.score(`n${r(20)}`, `n${r(20)}`, t);
        if (t > 10) background.push(s);
      }
      if (burst && t >= 50 && t < 53) for (let k = 0; k < 40; k++) burstScores.push(m.score('attacker', 'n3', t));
    }
    return { background, burst: burstScores };
  }

  it('a burst of one edge scores far above the steady background', () => {
    const { background, burst } = run(new MidasR(), true);
    const sorted = background.slice().sort((a, b) => a - b);
    const p99 = sorted[Math.floor(0.99 * sorted.length)]!;
    // Once the burst has a few edges, each one scores well above the background's 99th percentile.
    const tail = burst.slice(10);
    expect(Math.min(...tail)).toBeGreaterThan(10 * p99);
    expect(normalizeScore(Math.min(...tail), 100)).toBeGreaterThan(0.6);
    expect(normalizeScore(p99, 100)).toBeLessThan(0.4);
  });

  it('is deterministic for a seed, and the seed changes the hash layout', () => {
    const a = run(new MidasR({ seed: 3, buckets: 64 }), true);
    const b = run(new MidasR({ seed: 3, buckets: 64 }), true);
    expect(a).toEqual(b);
    const c = run(new MidasR({ seed: 4, buckets: 64 }), true);
    expect(c.background).not.toEqual(a.background);
  });

  it('decays current counts per elapsed tick', () => {
    const m = new MidasR({ rows: 1, buckets: 1024, factor: 0.5 });
    m.score('a', 'b', 1);
    m.score('a', 'b', 1);
    m.score('a', 'b', 3); // current: 2 × 0.5² + 1 = 1.5; total 3; t = 3
    expect(m.last.edge).toBeCloseTo(chiSquaredScore(1.5, 3, 3), 12);
    m.score('a', 'b', 2); // earlier tick: counted at the current tick 3 (current 2.5, total 4)
    expect(m.currentTick).toBe(3);
    expect(m.last.edge).toBeCloseTo(chiSquaredScore(2.5, 4, 3), 12);
  });

  it('keeps constant memory fixed by the options, whatever the number of distinct edges', () => {
    const m = new MidasR({ rows: 3, buckets: 256 });
    expect(m.stateBytes).toBe(6 * 3 * 256 * 8);
    for (let i = 0; i < 50_000; i++) m.score(`src-${i}`, `dst-${i % 977}`, 1 + Math.floor(i / 100));
    expect(m.stateBytes).toBe(6 * 3 * 256 * 8);
    expect(JSON.stringify(m.snapshot()).length).toBeLessThan(60_000);
  });

  it('snapshot/restore through JSON continues identically', () => {
    const r = rng(5);
    const edges = Array.from({ length: 2000 }, (_, i) => [`s${r(30)}`, `d${r(30)}`, 1 + Math.floor(i / 50)] as const);
    const whole = new MidasR({ buckets: 128 });
    const all = edges.map(([s, d, t]) => whole.score(s, d, t));
    const a = new MidasR({ buckets: 128 });
    const first = edges.slice(0, 777).map(([s, d, t]) => a.score(s, d, t));
    const b = MidasR.fromState(JSON.parse(JSON.stringify(a.snapshot())));
    const rest = edges.slice(777).map(([s, d, t]) => b.score(s, d, t));
    expect([...first, ...rest]).toEqual(all);
    expect(() => new MidasR({ buckets: 64 }).restore(a.snapshot())).toThrow(TypeError);
  });

  it('rejects invalid options', () => {
    expect(() => new MidasR({ factor: 1 })).toThrow(RangeError);
    expect(() => new MidasR({ rows: 0 })).toThrow(RangeError);
    expect(() => new MidasR({ buckets: 1 })).toThrow(RangeError);
    expect(() => new MidasR().score('a', 'b', Number.NaN)).toThrow(RangeError);
  });
});
