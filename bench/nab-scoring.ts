/**
 * The Numenta Anomaly Benchmark's scoring (NAB v1.1: nab/sweeper.py and the normalisation of
 * nab/runner.py), re-implemented so `npm run nab` can score `tokenwatch score-series` on a NAB
 * checkout without Python. Faithful to the reference, including its quirks:
 *
 * - Each labelled window is entered when a row's timestamp equals its start and left after
 *   the row equal to its end. A detection inside a window earns
 *   tpWeight · S(−(right − i + 1) / width) / S(−1), where S(x) = 2·sigmoid(−5x) − 1
 *   (S(x) = −1 for x ≥ 3); only the best (earliest) detection of a window counts; a window
 *   with no detection costs −fnWeight.
 * - A detection outside every window costs fpWeight · S(|i − prevRight| / (prevWidth − 1)),
 *   measured from the end of the previous window (S(3) = −1 before the first window).
 * - The first min(floor(0.15·n), 0.15·5000) rows of each file are probationary: not scored.
 * - One threshold for the whole corpus: every distinct anomaly score is tried as "detect at
 *   ≥ this", starting at 1.1 (nothing detected); the best total is the raw score.
 * - Normalised: 100 · (raw − null) / (perfect − null), with null = −fnWeight · windows (the
 *   score of a detector that never alerts) and perfect = tpWeight · windows.
 */

export interface CostMatrix {
  tpWeight: number;
  fpWeight: number;
  fnWeight: number;
}

/** NAB v1.1 config/profiles.json. */
export const NAB_PROFILES: Readonly<Record<'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate', CostMatrix>> = {
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 },
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0 },
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0 },
};

export const PROBATION_PERCENT = 0.15;

export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition >= 3.0) return -1.0;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1.0;
}

/** One scored row: its anomaly score, its sweep score and which window it counts for. */
export interface SweepRow {
  anomalyScore: number;
  sweepScore: number;
  /** `file|windowIndex` inside a window, null outside, undefined in the probationary period. */
  window: string | null | undefined;
}

export function probationaryLength(rows: number, probationPercent = PROBATION_PERCENT): number {
  return Math.min(Math.floor(probationPercent * rows), probationPercent * 5000);
}

/**
 * Sweep scores of one file (Sweeper.calcSweepScore). `windows` are [start, end] timestamps in
 * ms, in order; `timestamps` the file's rows in ms.
 */
export function sweepFile(
  name: string,
  timestamps: readonly number[],
  anomalyScores: readonly number[],
  windows: readonly (readonly [number, number])[],
  cost: CostMatrix,
  probationPercent = PROBATION_PERCENT,
): SweepRow[] {
  if (timestamps.length !== anomalyScores.length) throw new RangeError('timestamps and anomalyScores differ in length');
  const maxTP = scaledSigmoid(-1.0);
  const probation = probationaryLength(timestamps.length, probationPercent);
  const pending = windows.slice();
  const out: SweepRow[] = [];
  let cur: readonly [number, number] | undefined;
  let curName: string | null = null;
  let curRight = -1;
  let curWidth = 0;
  let prevRight: number | undefined;
  let prevWidth = 0;
  let windowIndex = 0;
  for (let i = 0; i < timestamps.length; i++) {
    const ts = timestamps[i]!;
    if (pending.length > 0 && ts === pending[0]![0]) {
      cur = pending.shift()!;
      curName = `${name}|${windowIndex++}`;
      curRight = timestamps.indexOf(cur[1]);
      curWidth = curRight - timestamps.indexOf(cur[0]) + 1;
    }
    let sweep: number;
    if (cur) {
      sweep = (scaledSigmoid(-(curRight - i + 1) / curWidth) * cost.tpWeight) / maxTP;
    } else {
      const past = prevRight === undefined ? 3.0 : Math.abs(prevRight - i) / (prevWidth - 1);
      sweep = scaledSigmoid(past) * cost.fpWeight;
    }
    out.push({ anomalyScore: anomalyScores[i]!, sweepScore: sweep, window: i >= probation ? curName : undefined });
    if (cur && ts === cur[1]) {
      prevRight = i;
      prevWidth = curWidth;
      cur = undefined;
      curName = null;
    }
  }
  return out;
}

export interface ThresholdScore {
  threshold: number;
  score: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Score at every threshold (Sweeper.calcScoreByThreshold), highest threshold first. */
export function scoreByThreshold(rows: readonly SweepRow[], cost: CostMatrix): ThresholdScore[] {
  const scorable = rows.filter((r) => r.window !== undefined).sort((a, b) => b.anomalyScore - a.anomalyScore);
  const parts = new Map<string, number>();
  for (const r of scorable) if (r.window !== null && r.window !== undefined) parts.set(r.window, -cost.fnWeight);
  let fpSum = 0;
  let windowSum = -cost.fnWeight * parts.size;
  let tn = scorable.filter((r) => r.window === null).length;
  let fn = scorable.length - tn;
  let tp = 0;
  let fp = 0;
  const out: ThresholdScore[] = [];
  let threshold = 1.1;
  for (const r of scorable) {
    if (r.anomalyScore !== threshold) {
      out.push({ threshold, score: fpSum + windowSum, tp, fp, fn, tn });
      threshold = r.anomalyScore;
    }
    if (r.window === null) {
      fp++;
      tn--;
      fpSum += r.sweepScore;
    } else {
      tp++;
      fn--;
      const w = r.window!;
      const before = parts.get(w)!;
      if (r.sweepScore > before) {
        parts.set(w, r.sweepScore);
        windowSum += r.sweepScore - before;
      }
    }
  }
  out.push({ threshold, score: fpSum + windowSum, tp, fp, fn, tn });
  return out;
}

/** The best corpus-wide threshold (first of the highest scores). */
export function optimizeThreshold(rows: readonly SweepRow[], cost: CostMatrix): ThresholdScore {
  let best: ThresholdScore | undefined;
  for (const s of scoreByThreshold(rows, cost)) if (!best || s.score > best.score) best = s;
  return best!;
}

/** 100 · (raw − null) / (perfect − null), null = −fnWeight · windows, perfect = tpWeight · windows. */
export function normalizedScore(raw: number, windows: number, cost: CostMatrix): number {
  const nullScore = -cost.fnWeight * windows;
  const perfect = cost.tpWeight * windows;
  return (100 * (raw - nullScore)) / (perfect - nullScore);
}
