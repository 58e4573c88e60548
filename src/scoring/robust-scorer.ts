/**
 * A streaming robust anomaly scorer for one time series (e.g. tokens minted per bucket).
 *
 * Each point is judged only against the points before it: a robust z-score
 * `(value - median) / sigma`, where sigma is the largest of
 *   - 1.4826 × MAD (consistent with the standard deviation for normal data),
 *   - an upper-tail sigma `(q_tail - median) / probit(q_tail)`, so periodic bursts that are
 *     normal for the series (e.g. synchronized hourly token refreshes, median 0) widen the band,
 *   - floors: `relativeScale × |expected|`, and for count data the Poisson sd `sqrt(expected)`.
 * With seasonality, when the same hour-of-day (or hour-of-week) slot has at least
 * `seasonalMinPeriods` earlier days (weeks), the centre is the median of that slot's earlier
 * per-day means and sigma also covers the median within-hour standard deviation of those days;
 * otherwise the recent window (last `window` points) is the baseline.
 *
 * Points judged anomalous are NOT learned, so a short attack never becomes the new normal —
 * until they persist: after `levelShiftAfter` consecutive anomalous points whose level has held
 * steady (the rise from the first to the last third of the run is at most `levelShiftMaxDrift`
 * × the shift itself), the run is accepted as a level shift: the recent window restarts from
 * it and the seasonal slots re-learn. A level that keeps rising (a slow attacker ramping up)
 * is never accepted, so it keeps scoring high.
 *
 * `direction: 'both'` also scores drops (|z|), for general series such as NAB's.
 * State is bounded (`window` numbers + slots × `seasonalMaxPeriods` means + `levelShiftAfter`
 * pending values) and JSON-serializable.
 */
import { medianSorted, probit, quantileSorted } from 'simple-statistics';

export type Seasonality = 'none' | 'hour_of_day' | 'hour_of_week';

export interface RobustScorerOptions {
  /** Recent points kept for the overall baseline. */
  window?: number;
  /** Points observed before any score > 0 (learning period); all of them are learned. */
  minHistory?: number;
  /** Robust z at which a point is anomalous; it maps to score 0.5. */
  threshold?: number;
  /** Anomalous only if value ≥ minRatio × expected (a relative-increase floor); ≤ 1 disables. */
  minRatio?: number;
  /** Anomalous only if value ≥ minValue (a minimum volume). */
  minValue?: number;
  seasonality?: Seasonality;
  /** Earlier days (weeks) of the same slot needed before the seasonal baseline is used. */
  seasonalMinPeriods?: number;
  /** Per-day (per-week) slot means kept per slot. */
  seasonalMaxPeriods?: number;
  /** Values are event counts: add a Poisson floor sqrt(max(expected, 1)) to sigma. */
  countData?: boolean;
  /** Sigma floor as a fraction of |expected| (a constant series is not infinitely sensitive). */
  relativeScale?: number;
  /** Upper quantile used for the tail sigma. */
  tailQuantile?: number;
  /** Do not learn anomalous points (default true). */
  excludeAnomalies?: boolean;
  /** Consecutive anomalous points after which a steady new level is learned; 0 never learns one. */
  levelShiftAfter?: number;
  /** A run is a steady level only if its rise (last third − first third) ≤ this × the shift. */
  levelShiftMaxDrift?: number;
  /** 'up' scores only increases; 'both' scores increases and drops. */
  direction?: 'up' | 'both';
}

export type ResolvedScorerOptions = Required<RobustScorerOptions>;

export const DEFAULT_SCORER_OPTIONS: ResolvedScorerOptions = {
  window: 288,
  minHistory: 24,
  threshold: 3.5,
  minRatio: 1,
  minValue: Number.NEGATIVE_INFINITY,
  seasonality: 'hour_of_day',
  seasonalMinPeriods: 3,
  seasonalMaxPeriods: 7,
  countData: false,
  relativeScale: 0.05,
  tailQuantile: 0.99,
  excludeAnomalies: true,
  levelShiftAfter: 24,
  levelShiftMaxDrift: 0.5,
  direction: 'up',
};

/** How one point was judged (the detector's alert baseline is built from this). */
export interface Assessment {
  /** 0..1; 0.5 at z = threshold; 0 while learning. */
  score: number;
  /** Robust z-score (positive = above normal); 0 while no baseline exists. */
  z: number;
  /** Centre of the baseline (median of the recent window or of the seasonal slot means). */
  median: number;
  /** Median absolute deviation of the baseline values (unscaled). */
  mad: number;
  /** The sigma the z-score divides by, after floors. */
  sigma: number;
  /** Expected value: max(median, mean) of the baseline (robust to zero-inflated bursty series). */
  expected: number;
  /** value / expected (capped at 1e6). */
  ratio: number;
  /** The seasonal slot baseline was used. */
  seasonal: boolean;
  /** Points observed before this one. */
  history: number;
  /** Values in the baseline this point was judged against. */
  baseline_points: number;
  /** Past the learning period. */
  warm: boolean;
  anomalous: boolean;
  /** This point completed a persistent steady run that was just learned as a level shift. */
  level_shift: boolean;
}

export interface SlotState {
  /** Period (day or week index) being accumulated. */
  period: number;
  sum: number;
  sumsq: number;
  n: number;
  /** Means of earlier completed periods, oldest first. */
  means: number[];
  /** Standard deviation of the values within each of those periods (within-hour burstiness). */
  sds: number[];
}

export interface RobustScorerState {
  v: 1;
  /** Recent learned values, oldest first. */
  values: number[];
  observed: number;
  slots: (SlotState | null)[] | null;
  /** The current run of consecutive anomalous values (a candidate level shift), oldest first. */
  pending?: number[];
}

const MAD_TO_SIGMA = 1.4826;
const MIN_SIGMA = 1e-9;
const MAX_Z = 1e6;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;

/** Score in [0,1] from a robust z: 1 - 2^(-z/threshold), so z = threshold gives 0.5. */
export function zToScore(z: number, threshold: number): number {
  if (!(z > 0)) return 0;
  const s = 1 - Math.exp((-Math.LN2 * z) / threshold);
  return Math.min(1, Math.max(0, s));
}

/** Median absolute deviation of an ascending-sorted array in O(n), without allocating. */
export function madSorted(sorted: readonly number[], median: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  // Deviations grow walking left from the median and walking right: merge the two walks.
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < median) lo = mid + 1;
    else hi = mid;
  }
  let left = lo - 1;
  let right = lo;
  const kLow = (n - 1) >> 1;
  const kHigh = n >> 1;
  let low = 0;
  for (let k = 0; k <= kHigh; k++) {
    const dl = left >= 0 ? median - sorted[left]! : Number.POSITIVE_INFINITY;
    const dr = right < n ? sorted[right]! - median : Number.POSITIVE_INFINITY;
    let d: number;
    if (dl <= dr) {
      d = dl;
      left--;
    } else {
      d = dr;
      right++;
    }
    if (k === kLow) low = d;
    if (k === kHigh) return (low + d) / 2;
  }
  return low;
}

interface BaselineStats {
  median: number;
  mad: number;
  mean: number;
  sigma: number;
  n: number;
}

function statsOfSorted(sorted: readonly number[], tailQuantile: number): BaselineStats {
  const n = sorted.length;
  const median = medianSorted(sorted);
  const mad = madSorted(sorted, median);
  let sum = 0;
  for (const v of sorted) sum += v;
  const tail = (quantileSorted(sorted, tailQuantile) - median) / probit(tailQuantile);
  return { median, mad, mean: sum / n, sigma: Math.max(MAD_TO_SIGMA * mad, tail, 0), n };
}

/** Population standard deviation of the values accumulated in a slot's current period. */
function withinSd(s: SlotState): number {
  const mean = s.sum / s.n;
  return Math.sqrt(Math.max(0, s.sumsq / s.n - mean * mean));
}

function copySlot(s: SlotState, max: number): SlotState {
  return { period: s.period, sum: s.sum, sumsq: s.sumsq, n: s.n, means: s.means.slice(-max), sds: s.sds.slice(-max) };
}

function insertSorted(sorted: number[], v: number): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  sorted.splice(lo, 0, v);
}

function removeSorted(sorted: number[], v: number): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  if (sorted[lo] === v) sorted.splice(lo, 1);
}

function resolveOptions(opts: RobustScorerOptions): ResolvedScorerOptions {
  const o: ResolvedScorerOptions = { ...DEFAULT_SCORER_OPTIONS };
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  if (!Number.isInteger(o.window) || o.window < 1) throw new RangeError('window must be a positive integer');
  if (!(o.threshold > 0)) throw new RangeError('threshold must be > 0');
  if (!(o.tailQuantile > 0.5 && o.tailQuantile < 1)) throw new RangeError('tailQuantile must be in (0.5, 1)');
  if (!Number.isInteger(o.seasonalMaxPeriods) || o.seasonalMaxPeriods < 1) throw new RangeError('seasonalMaxPeriods must be a positive integer');
  if (o.seasonalMinPeriods > o.seasonalMaxPeriods) throw new RangeError('seasonalMinPeriods must be ≤ seasonalMaxPeriods');
  if (!Number.isInteger(o.levelShiftAfter) || o.levelShiftAfter < 0) throw new RangeError('levelShiftAfter must be a non-negative integer');
  if (o.direction !== 'up' && o.direction !== 'both') throw new RangeError("direction must be 'up' or 'both'");
  return o;
}

export class RobustScorer {
  readonly options: ResolvedScorerOptions;
  /** Ring of learned values; `pos` is the oldest once full. */
  private ring: number[] = [];
  private pos = 0;
  private sorted: number[] = [];
  private observed = 0;
  private slots: (SlotState | null)[] | null;
  /** Consecutive anomalous values not learned yet (bounded by levelShiftAfter). */
  private pending: number[] = [];

  constructor(opts: RobustScorerOptions = {}) {
    this.options = resolveOptions(opts);
    this.slots = this.options.seasonality === 'none' ? null : new Array<SlotState | null>(this.slotCount()).fill(null);
  }

  /** Points observed so far (learned or not). */
  get history(): number {
    return this.observed;
  }

  /** Score a point from the points before it, then learn it unless anomalous. */
  score(time: number, value: number): number {
    return this.assess(time, value).score;
  }

  /** Judge a point from the points before it, then learn it unless anomalous. */
  assess(time: number, value: number): Assessment {
    if (!Number.isFinite(time) || !Number.isFinite(value)) throw new RangeError('time and value must be finite numbers');
    const a = this.judge(time, value);
    this.observed++;
    if (!(a.anomalous && this.options.excludeAnomalies)) {
      this.pending.length = 0;
      this.learnValue(time, value);
    } else if (this.options.levelShiftAfter > 0) {
      this.pending.push(value);
      if (this.pending.length >= this.options.levelShiftAfter) {
        if (this.steadyShift(a.median)) {
          this.acceptShift();
          a.level_shift = true;
        } else this.pending.shift();
      }
    }
    return a;
  }

  /** Learn a point without judging it (gap filling); it counts as observed history. */
  learn(time: number, value: number): void {
    if (!Number.isFinite(time) || !Number.isFinite(value)) throw new RangeError('time and value must be finite numbers');
    this.observed++;
    this.learnValue(time, value);
  }

  /** Count points that were observed but dropped without learning (bounded gap filling). */
  skip(count: number): void {
    this.observed += Math.max(0, Math.floor(count));
  }

  snapshot(): RobustScorerState {
    const n = this.ring.length;
    const values = n < this.options.window ? this.ring.slice() : [...this.ring.slice(this.pos), ...this.ring.slice(0, this.pos)];
    return {
      v: 1,
      values,
      observed: this.observed,
      slots: this.slots ? this.slots.map((s) => (s ? copySlot(s, this.options.seasonalMaxPeriods) : null)) : null,
      ...(this.pending.length > 0 ? { pending: this.pending.slice() } : {}),
    };
  }

  restore(state: RobustScorerState): void {
    if (state.v !== 1 || !Array.isArray(state.values)) throw new TypeError('unsupported RobustScorer state');
    const values = state.values.slice(-this.options.window);
    this.ring = values;
    this.pos = 0;
    this.sorted = values.slice().sort((a, b) => a - b);
    this.observed = state.observed;
    this.pending = Array.isArray(state.pending) ? state.pending.slice(-Math.max(1, this.options.levelShiftAfter)) : [];
    if (this.options.seasonality === 'none') this.slots = null;
    else {
      const n = this.slotCount();
      const slots = state.slots && state.slots.length === n ? state.slots : new Array<SlotState | null>(n).fill(null);
      const max = this.options.seasonalMaxPeriods;
      this.slots = slots.map((s) => (s ? copySlot(s, max) : null));
    }
  }

  static fromState(state: RobustScorerState, opts: RobustScorerOptions = {}): RobustScorer {
    const s = new RobustScorer(opts);
    s.restore(state);
    return s;
  }

  /**
   * The pending run is a steady new level, not a ramp: its rise from the first third to the last
   * third is small next to its shift from the baseline centre.
   */
  private steadyShift(centre: number): boolean {
    const p = this.pending;
    const third = Math.max(1, Math.floor(p.length / 3));
    const med = (xs: number[]): number => medianSorted(xs.sort((a, b) => a - b));
    const first = med(p.slice(0, third));
    const last = med(p.slice(-third));
    const shift = Math.abs(med(p.slice()) - centre);
    return Math.abs(last - first) <= this.options.levelShiftMaxDrift * shift;
  }

  /** Learn the pending run as the new level: the recent window restarts from it, slots re-learn. */
  private acceptShift(): void {
    const values = this.pending.slice(-this.options.window);
    this.pending = [];
    this.ring = values;
    this.pos = 0;
    this.sorted = values.slice().sort((a, b) => a - b);
    if (this.slots) this.slots = new Array<SlotState | null>(this.slotCount()).fill(null);
  }

  private slotCount(): number {
    return this.options.seasonality === 'hour_of_week' ? 168 : 24;
  }

  private slotOf(time: number): { slot: number; period: number } {
    const periodMs = this.options.seasonality === 'hour_of_week' ? WEEK_MS : DAY_MS;
    const within = ((time % periodMs) + periodMs) % periodMs;
    return { slot: Math.floor(within / HOUR_MS), period: Math.floor(time / periodMs) };
  }

  /** Earlier completed periods of this point's slot (never the current period). */
  private seasonalHistory(time: number): { means: number[]; sds: number[] } | undefined {
    if (!this.slots) return undefined;
    const { slot, period } = this.slotOf(time);
    const s = this.slots[slot];
    if (!s) return undefined;
    const means = s.means.slice();
    const sds = s.sds.slice();
    if (s.period < period && s.n > 0) {
      means.push(s.sum / s.n);
      sds.push(withinSd(s));
    }
    const max = this.options.seasonalMaxPeriods;
    return { means: means.slice(-max), sds: sds.slice(-max) };
  }

  private judge(time: number, value: number): Assessment {
    const o = this.options;
    const history = this.observed;
    if (this.sorted.length === 0) {
      return { score: 0, z: 0, median: 0, mad: 0, sigma: 0, expected: 0, ratio: 0, seasonal: false, history, baseline_points: 0, warm: false, anomalous: false, level_shift: false };
    }
    const recent = statsOfSorted(this.sorted, o.tailQuantile);
    let median = recent.median;
    let mad = recent.mad;
    let expected = Math.max(recent.median, recent.mean);
    let sigma = recent.sigma;
    let points = recent.n;
    let seasonal = false;
    const slotHist = this.seasonalHistory(time);
    if (slotHist && slotHist.means.length >= o.seasonalMinPeriods) {
      const sorted = slotHist.means.sort((a, b) => a - b);
      const st = statsOfSorted(sorted, o.tailQuantile);
      // Slot means hide within-hour burstiness (e.g. synchronized refreshes): cover it too.
      const within = medianSorted(slotHist.sds.sort((a, b) => a - b));
      median = st.median;
      mad = st.mad;
      expected = Math.max(st.median, st.mean);
      sigma = Math.max(st.sigma, within);
      points = st.n;
      seasonal = true;
    }
    sigma = Math.max(sigma, o.relativeScale * Math.abs(expected), o.countData ? Math.sqrt(Math.max(expected, 1)) : 0, MIN_SIGMA);
    const z = Math.max(-MAX_Z, Math.min(MAX_Z, (value - median) / sigma));
    const denom = o.countData ? Math.max(expected, 1) : expected;
    const ratio = denom > 0 ? Math.min(1e6, value / denom) : value > 0 ? 1e6 : 0;
    const warm = history >= o.minHistory;
    // Drops (direction 'both') are judged by |z| alone: the floors are about increases.
    const drop = o.direction === 'both' && z < 0;
    const zJudged = drop ? -z : z;
    const anomalous = warm && zJudged >= o.threshold && (drop || (value >= o.minValue && (o.minRatio <= 1 || ratio >= o.minRatio)));
    return {
      score: warm ? zToScore(zJudged, o.threshold) : 0,
      z,
      median,
      mad,
      sigma,
      expected,
      ratio,
      seasonal,
      history,
      baseline_points: points,
      warm,
      anomalous,
      level_shift: false,
    };
  }

  private learnValue(time: number, value: number): void {
    const w = this.options.window;
    if (this.ring.length < w) this.ring.push(value);
    else {
      removeSorted(this.sorted, this.ring[this.pos]!);
      this.ring[this.pos] = value;
      this.pos = (this.pos + 1) % w;
    }
    insertSorted(this.sorted, value);
    if (!this.slots) return;
    const { slot, period } = this.slotOf(time);
    const s = this.slots[slot];
    if (!s) {
      this.slots[slot] = { period, sum: value, sumsq: value * value, n: 1, means: [], sds: [] };
      return;
    }
    if (period === s.period) {
      s.sum += value;
      s.sumsq += value * value;
      s.n++;
    } else if (period > s.period) {
      if (s.n > 0) {
        s.means.push(s.sum / s.n);
        s.sds.push(withinSd(s));
        if (s.means.length > this.options.seasonalMaxPeriods) {
          s.means.shift();
          s.sds.shift();
        }
      }
      s.period = period;
      s.sum = value;
      s.sumsq = value * value;
      s.n = 1;
    }
    // A point for an older period (out of order) only feeds the recent window.
  }
}

/** Score a whole series in order (each point from the points before it). */
export function scoreSeries(points: Iterable<{ time: number; value: number }>, opts: RobustScorerOptions = {}): number[] {
  const scorer = new RobustScorer(opts);
  const out: number[] = [];
  for (const p of points) out.push(scorer.score(p.time, p.value));
  return out;
}
