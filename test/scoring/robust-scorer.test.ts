import { medianAbsoluteDeviation } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { RobustScorer, madSorted, scoreSeries, zToScore } from '../../src/scoring/robust-scorer.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5);

/** Deterministic pseudo-noise in [-1, 1). */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 31 - 1;
  };
}

describe('robust math', () => {
  it('madSorted matches simple-statistics on odd, even and skewed samples', () => {
    const rnd = noise(1);
    for (let n = 1; n < 60; n++) {
      const xs = Array.from({ length: n }, () => Math.round((rnd() + 1) ** 3 * 10)).sort((a, b) => a - b);
      const m = xs.length % 2 ? xs[(n - 1) / 2]! : (xs[n / 2 - 1]! + xs[n / 2]!) / 2;
      expect(madSorted(xs, m)).toBeCloseTo(medianAbsoluteDeviation(xs), 10);
    }
    expect(madSorted([], 0)).toBe(0);
  });

  it('zToScore is 0 for z ≤ 0, 0.5 at the threshold, monotone and below 1', () => {
    expect(zToScore(-3, 4)).toBe(0);
    expect(zToScore(0, 4)).toBe(0);
    expect(zToScore(4, 4)).toBeCloseTo(0.5, 12);
    expect(zToScore(8, 4)).toBeCloseTo(0.75, 12);
    expect(zToScore(5, 4)).toBeGreaterThan(zToScore(4.5, 4));
    expect(zToScore(1e6, 4)).toBeLessThanOrEqual(1);
  });
});

describe('RobustScorer', () => {
  it('scores 0 while learning, low for normal points and high for a spike', () => {
    const s = new RobustScorer({ minHistory: 20, seasonality: 'none' });
    const rnd = noise(2);
    for (let i = 0; i < 20; i++) expect(s.score(T0 + i * 60_000, 100 + rnd() * 5)).toBe(0);
    const normal: number[] = [];
    for (let i = 20; i < 200; i++) normal.push(s.score(T0 + i * 60_000, 100 + rnd() * 5));
    expect(Math.max(...normal)).toBeLessThan(0.5);
    const spike = s.assess(T0 + 200 * 60_000, 160);
    expect(spike.anomalous).toBe(true);
    expect(spike.score).toBeGreaterThan(0.9);
    expect(spike.median).toBeCloseTo(100, 0);
    // A drop is not a spike.
    expect(s.score(T0 + 201 * 60_000, 10)).toBe(0);
  });

  it('uses only past points: a score does not change when later points differ', () => {
    const pts = Array.from({ length: 100 }, (_, i) => ({ time: T0 + i * HOUR, value: 10 + (i % 7) }));
    const a = scoreSeries(pts, { minHistory: 10 });
    const b = scoreSeries([...pts.slice(0, 60), ...pts.slice(60).map((p) => ({ ...p, value: 1000 }))], { minHistory: 10 });
    expect(b.slice(0, 60)).toEqual(a.slice(0, 60));
    expect(b[60]).toBeGreaterThan(0.9);
  });

  it('does not learn anomalies: a sustained shift keeps scoring high without level-shift learning (unless excludeAnomalies is off)', () => {
    const run = (excludeAnomalies: boolean): number[] => {
      const s = new RobustScorer({ minHistory: 50, window: 100, seasonality: 'none', excludeAnomalies, levelShiftAfter: 0 });
      const rnd = noise(3);
      for (let i = 0; i < 100; i++) s.score(T0 + i * 60_000, 50 + rnd() * 3);
      const out: number[] = [];
      for (let i = 100; i < 300; i++) out.push(s.score(T0 + i * 60_000, 500 + rnd() * 3));
      return out;
    };
    const kept = run(true);
    expect(Math.min(...kept)).toBeGreaterThan(0.9);
    const absorbed = run(false);
    expect(absorbed[absorbed.length - 1]!).toBeLessThan(0.5);
  });

  it('learns a steady level shift once it has persisted for levelShiftAfter points, then scores low again', () => {
    const s = new RobustScorer({ minHistory: 50, window: 100, seasonality: 'none', levelShiftAfter: 24 });
    const rnd = noise(13);
    for (let i = 0; i < 100; i++) s.score(T0 + i * 60_000, 50 + rnd() * 3);
    const after: ReturnType<RobustScorer['assess']>[] = [];
    for (let i = 100; i < 200; i++) after.push(s.assess(T0 + i * 60_000, 500 + rnd() * 3));
    // The first 24 points of the new level are anomalous; the 24th completes the run and is learned.
    expect(after.slice(0, 24).every((a) => a.anomalous)).toBe(true);
    expect(after.findIndex((a) => a.level_shift)).toBe(23);
    expect(Math.max(...after.slice(24).map((a) => a.score))).toBeLessThan(0.5);
    expect(after[60]!.median).toBeGreaterThan(490);
  });

  it('never learns a level that keeps rising (a slow attacker ramping up is not absorbed)', () => {
    const s = new RobustScorer({ minHistory: 50, window: 100, seasonality: 'none', levelShiftAfter: 24 });
    const rnd = noise(14);
    for (let i = 0; i < 100; i++) s.score(T0 + i * 60_000, 50 + rnd() * 3);
    const ramp: ReturnType<RobustScorer['assess']>[] = [];
    // +4% per point from 1.5× the baseline: every point anomalous, the run never steady.
    for (let i = 0; i < 150; i++) ramp.push(s.assess(T0 + (100 + i) * 60_000, 75 * 1.04 ** i));
    expect(ramp.some((a) => a.level_shift)).toBe(false);
    expect(ramp.slice(5).every((a) => a.anomalous)).toBe(true);
    expect(ramp[149]!.median).toBeLessThan(60);
  });

  it("direction 'both' scores drops as well as rises; 'up' ignores drops", () => {
    const both = new RobustScorer({ minHistory: 20, seasonality: 'none', direction: 'both' });
    const up = new RobustScorer({ minHistory: 20, seasonality: 'none' });
    const rnd = noise(15);
    for (let i = 0; i < 100; i++) {
      const v = 100 + rnd() * 5;
      both.score(T0 + i * 60_000, v);
      up.score(T0 + i * 60_000, v);
    }
    const drop = both.assess(T0 + 100 * 60_000, 20);
    expect(drop.anomalous).toBe(true);
    expect(drop.score).toBeGreaterThan(0.9);
    expect(drop.z).toBeLessThan(0);
    expect(up.assess(T0 + 100 * 60_000, 20).score).toBe(0);
    expect(() => new RobustScorer({ direction: 'sideways' as 'up' })).toThrow(RangeError);
  });

  it('a pending level-shift run survives snapshot/restore', () => {
    const opts = { minHistory: 50, window: 100, seasonality: 'none' as const, levelShiftAfter: 24 };
    const pts = Array.from({ length: 200 }, (_, i) => ({ time: T0 + i * 60_000, value: i < 100 ? 50 + (i % 3) : 500 + (i % 3) }));
    const whole = scoreSeries(pts, opts);
    const a = new RobustScorer(opts);
    const first = pts.slice(0, 110).map((p) => a.score(p.time, p.value));
    const snap = JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<RobustScorer['snapshot']>;
    expect(snap.pending).toHaveLength(10);
    const b = RobustScorer.fromState(snap, opts);
    expect([...first, ...pts.slice(110).map((p) => b.score(p.time, p.value))]).toEqual(whole);
  });

  it('minRatio and minValue gate what counts as anomalous (and so what is learned)', () => {
    const s = new RobustScorer({ minHistory: 10, seasonality: 'none', minRatio: 3, minValue: 20, countData: true });
    for (let i = 0; i < 50; i++) s.score(T0 + i * 60_000, 4 + (i % 3));
    const small = s.assess(T0 + 50 * 60_000, 19); // high z, ratio ≈ 3.8 but below minValue
    expect(small.z).toBeGreaterThan(3.5);
    expect(small.anomalous).toBe(false);
    const s2 = new RobustScorer({ minHistory: 10, seasonality: 'none', minRatio: 3, countData: true });
    for (let i = 0; i < 50; i++) s2.score(T0 + i * 60_000, 40 + (i % 3));
    const a = s2.assess(T0 + 50 * 60_000, 100); // z high, ratio 2.4
    expect(a.z).toBeGreaterThan(3.5);
    expect(a.ratio).toBeCloseTo(100 / 41, 5);
    expect(a.anomalous).toBe(false);
    expect(s2.assess(T0 + 51 * 60_000, 200).anomalous).toBe(true);
  });

  it('a zero-inflated bursty series (periodic bursts, median 0) does not score its normal bursts', () => {
    const s = new RobustScorer({ minHistory: 50, seasonality: 'none', countData: true });
    const scores: number[] = [];
    for (let i = 0; i < 600; i++) scores.push(s.score(T0 + i * 300_000, i % 11 === 0 ? 60 : 0));
    expect(Math.max(...scores.slice(100))).toBeLessThan(0.5);
    expect(s.score(T0 + 600 * 300_000, 600)).toBeGreaterThan(0.8);
  });

  it('hour-of-day seasonality: a daily peak is normal, the same level at night is not', () => {
    const level = (t: number): number => (new Date(t).getUTCHours() === 12 ? 100 : 10);
    const season = new RobustScorer({ minHistory: 24, seasonalMinPeriods: 3, window: 48 });
    const flat = new RobustScorer({ minHistory: 24, seasonality: 'none', window: 48 });
    const rnd = noise(4);
    let peaksChecked = 0;
    for (let h = 0; h < 5 * 24; h++) {
      const t = T0 + h * HOUR;
      const v = level(t) * (1 + rnd() * 0.05);
      const a = season.assess(t, v);
      flat.assess(t, v);
      if (h >= 3 * 24 && new Date(t).getUTCHours() === 12) {
        expect(a.seasonal).toBe(true);
        expect(a.score).toBeLessThan(0.3);
        peaksChecked++;
      }
    }
    expect(peaksChecked).toBe(2);
    const night = season.assess(T0 + 5 * DAY + 3 * HOUR, 100);
    expect(night.seasonal).toBe(true);
    expect(night.anomalous).toBe(true);
    expect(night.expected).toBeCloseTo(10, 0);
    // Without seasonality the daily peaks widen the band, so the same night-time value passes.
    expect(flat.assess(T0 + 5 * DAY + 3 * HOUR, 100).anomalous).toBe(false);
  });

  it('seasonal sigma covers within-hour burstiness of earlier days', () => {
    // Each hour: one 5-minute bucket of 60, eleven of 0 (synchronized refresh), for 4 days.
    const s = new RobustScorer({ minHistory: 24, seasonalMinPeriods: 3, countData: true, threshold: 6 });
    const scores: number[] = [];
    for (let i = 0; i < 4 * 288; i++) scores.push(s.score(T0 + i * 300_000, i % 12 === 5 ? 60 : 0));
    expect(Math.max(...scores.slice(3 * 288))).toBeLessThan(0.5);
    const a = s.assess(T0 + 4 * DAY + 5 * 300_000, 400);
    expect(a.seasonal).toBe(true);
    expect(a.anomalous).toBe(true);
  });

  it('falls back to the recent baseline until enough earlier days of the slot are known', () => {
    const s = new RobustScorer({ minHistory: 5, seasonalMinPeriods: 3 });
    for (let h = 0; h < 2 * 24; h++) expect(s.assess(T0 + h * HOUR, 10).seasonal).toBe(false);
    expect(s.assess(T0 + 2 * DAY, 10).seasonal).toBe(false); // 00:00 known on 2 earlier days
    for (let h = 1; h < 24; h++) s.assess(T0 + 2 * DAY + h * HOUR, 10);
    expect(s.assess(T0 + 3 * DAY, 10).seasonal).toBe(true);
  });

  it('hour_of_week seasonality keys by hour of the week', () => {
    const s = new RobustScorer({ minHistory: 5, seasonality: 'hour_of_week', seasonalMinPeriods: 1 });
    for (let h = 0; h < 7 * 24; h++) expect(s.assess(T0 + h * HOUR, 10).seasonal).toBe(false);
    expect(s.assess(T0 + 7 * DAY, 10).seasonal).toBe(true);
  });

  it('snapshot/restore through JSON continues identically', () => {
    const pts = Array.from({ length: 400 }, (_, i) => ({ time: T0 + i * 20 * 60_000, value: 5 + ((i * 7) % 5) + (i === 350 ? 80 : 0) }));
    const opts = { window: 50, minHistory: 30, countData: true };
    const whole = scoreSeries(pts, opts);
    const a = new RobustScorer(opts);
    const first = pts.slice(0, 250).map((p) => a.score(p.time, p.value));
    const b = RobustScorer.fromState(JSON.parse(JSON.stringify(a.snapshot())), opts);
    const rest = pts.slice(250).map((p) => b.score(p.time, p.value));
    expect([...first, ...rest]).toEqual(whole);
    expect(whole[350]).toBeGreaterThan(0.9);
  });

  it('keeps bounded state: window values and per-slot periods', () => {
    const s = new RobustScorer({ window: 30, seasonalMaxPeriods: 4, seasonalMinPeriods: 2 });
    for (let i = 0; i < 24 * 20; i++) s.score(T0 + i * HOUR, i % 13);
    const snap = s.snapshot();
    expect(snap.values).toHaveLength(30);
    expect(snap.values).toEqual(Array.from({ length: 30 }, (_, k) => (24 * 20 - 30 + k) % 13));
    expect(snap.slots).toHaveLength(24);
    for (const slot of snap.slots!) {
      expect(slot!.means.length).toBeLessThanOrEqual(4);
      expect(slot!.sds).toHaveLength(slot!.means.length);
    }
    expect(s.history).toBe(480);
  });

  it('rejects non-finite input and invalid options', () => {
    const s = new RobustScorer();
    expect(() => s.score(T0, Number.NaN)).toThrow(RangeError);
    expect(() => new RobustScorer({ window: 0 })).toThrow(RangeError);
    expect(() => new RobustScorer({ threshold: 0 })).toThrow(RangeError);
  });
});
