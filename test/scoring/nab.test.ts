/**
 * NAB scoring maths (bench/nab-scoring.ts) on a hand-built two-file corpus whose score was
 * worked out by hand from NAB's formulas (S(x) = 2·sigmoid(−5x) − 1):
 *
 * File A (20 rows, probation = floor(0.15·20) = 3 rows), window rows 10..13 (width 4):
 *   row 1 = 0.99 (probationary: ignored), row 5 = 0.95 (FP before any window: −0.11),
 *   row 12 = 0.9 (TP at −(13−12+1)/4 = −0.5: S(−0.5)/S(−1) = 0.859793),
 *   row 14 = 0.7 (FP at |14−13|/3 = 1/3 after the window: 0.11·S(1/3) = −0.075049), others 0.1.
 * File B (20 rows), window rows 15..16, row 8 = 0.6 (FP: −0.11), others 0.1.
 *
 * At threshold 0.9: −0.11 + 0.859793 − 1 (B missed) = −0.250207, the best;
 * normalised: 100 · (−0.250207 + 2) / (2 + 2) = 43.7448.
 */
import { describe, expect, it } from 'vitest';
import { NAB_PROFILES, normalizedScore, optimizeThreshold, probationaryLength, scaledSigmoid, scoreByThreshold, sweepFile } from '../../bench/nab-scoring.js';

const MIN = 60_000;
const T0 = Date.UTC(2014, 3, 1);
const ts = Array.from({ length: 20 }, (_, i) => T0 + i * MIN);
const std = NAB_PROFILES.standard;

function fileA(): number[] {
  const s = Array.from({ length: 20 }, () => 0.1);
  s[1] = 0.99;
  s[5] = 0.95;
  s[12] = 0.9;
  s[14] = 0.7;
  return s;
}
function fileB(): number[] {
  const s = Array.from({ length: 20 }, () => 0.1);
  s[8] = 0.6;
  return s;
}
const winA = [[ts[10]!, ts[13]!]] as const;
const winB = [[ts[15]!, ts[16]!]] as const;

describe('NAB scoring', () => {
  it('scaled sigmoid and probation follow NAB', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.986614, 6);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.848284, 6);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(1)).toBeCloseTo(-0.986614, 6);
    expect(scaledSigmoid(3)).toBe(-1);
    expect(probationaryLength(20)).toBe(3);
    expect(probationaryLength(10_000)).toBe(750);
    expect(NAB_PROFILES.standard).toEqual({ tpWeight: 1, fpWeight: 0.11, fnWeight: 1 });
  });

  it('sweep scores: probationary rows unscored, in-window rewards, FP penalties by distance', () => {
    const rows = sweepFile('A', ts, fileA(), winA, std);
    expect(rows[1]!.window).toBeUndefined();
    expect(rows[5]).toMatchObject({ window: null });
    expect(rows[5]!.sweepScore).toBeCloseTo(-0.11, 12);
    expect(rows[10]!.window).toBe('A|0');
    expect(rows[10]!.sweepScore).toBeCloseTo(1, 12); // first row of the window earns the full tpWeight
    expect(rows[12]!.sweepScore).toBeCloseTo(0.859793, 6);
    expect(rows[14]).toMatchObject({ window: null });
    expect(rows[14]!.sweepScore).toBeCloseTo(-0.075049, 6);
  });

  it('the corpus threshold sweep gives the hand-computed table and best score', () => {
    const all = [...sweepFile('A', ts, fileA(), winA, std), ...sweepFile('B', ts, fileB(), winB, std)];
    const table = scoreByThreshold(all, std).map((s) => [s.threshold, Number(s.score.toFixed(6))]);
    expect(table).toEqual([
      [1.1, -2],
      [0.95, -2.11],
      [0.9, -0.250207],
      [0.7, -0.325256],
      [0.6, -0.435256],
      [0.1, -1.034174],
    ]);
    const best = optimizeThreshold(all, std);
    expect(best.threshold).toBe(0.9);
    expect(best).toMatchObject({ tp: 1, fp: 1 });
    expect(normalizedScore(best.score, 2, std)).toBeCloseTo(43.7448, 4);
  });

  it('a detector that never alerts scores 0 and a perfect one 100', () => {
    const none = [...sweepFile('A', ts, new Array(20).fill(0), winA, std), ...sweepFile('B', ts, new Array(20).fill(0), winB, std)];
    // The 1.1 row detects nothing: every window is a false negative.
    const nothing = scoreByThreshold(none, std)[0]!;
    expect(nothing).toMatchObject({ threshold: 1.1, score: -2, tp: 0, fp: 0, fn: 6, tn: 28 });
    expect(normalizedScore(nothing.score, 2, std)).toBeCloseTo(0, 12);
    const perfectA = new Array(20).fill(0);
    perfectA[10] = 1;
    const perfectB = new Array(20).fill(0);
    perfectB[15] = 1;
    const perfect = [...sweepFile('A', ts, perfectA, winA, std), ...sweepFile('B', ts, perfectB, winB, std)];
    expect(normalizedScore(optimizeThreshold(perfect, std).score, 2, std)).toBeCloseTo(100, 10);
  });
});
