/**
 * The long-horizon half of mint_rate_spike: hourly mint counts of one issuer over the last
 * 8 days, judged against the same hours on earlier days (hour-of-day seasonality) and the same
 * hours a week earlier (day-of-week seasonality). It catches what 5-minute buckets cannot:
 * a rate that is only ×2–×4 normal (a slow ramp, a burst hidden in the peak hour) and low-volume
 * issuers whose buckets never reach min_count.
 *
 * Each closed hour h is judged over windows of 1, 3, 6, 12 and 24 hours ending at h. For a
 * window, O is its count; E_d the count of the same hours d = 1..7 days earlier (known days
 * only); the expectation E = max(median_d E_d, E_7 − 2·sqrt(φ·E_7)) once a week is known (the
 * week-earlier count counts when it stands above the median beyond its noise) — before that the
 * largest E_d, since a median of a few days that include a weekend would make every Monday a
 * ramp — and its day-to-day spread s = 1.4826 · MAD_d(E_d). The count noise is φ·E, where the
 * dispersion φ is learned from the issuer's own hours (the median of r²/E over the 72 hours
 * before the last day, r = an hour's count minus its same-hour median, scaled to 1 for Poisson;
 * at least 0.25, so a very regular refresh-driven issuer is not judged on zero noise).
 * The window is anomalous when O ≥ ratio(window) · E and z = (O − E) / sqrt(φ·E + s²) ≥ threshold,
 * and the closing hour itself is at least √ratio × its own expectation, and a window of 3 hours
 * or more still reaches its ratio without its largest hour — so a short burst (the 1-hour
 * window's business) does not echo for a day in the longer windows that contain it.
 * Short windows need larger ratios (2.5× for one hour) so a deploy's start-up mints or an
 * hour of autoscaling do not count; long ones catch a ×2 day early.
 *
 * Level shifts: after `shiftHours` consecutive anomalous hours, if the last 3 hours are within
 * ×1.25 of the same hours one day earlier (the new level has held for a day), the last day is
 * copied over the earlier days: the new level is learned. A rate still rising day over day (an
 * attacker ramping up slowly) never satisfies that, so it keeps alerting.
 */
import { medianSorted } from 'simple-statistics';

const HOUR_MS = 3_600_000;
const DAYS = 8;
const RING = DAYS * 24;
/** Window length (hours) → minimum ratio over the expectation. */
export const TREND_WINDOWS: readonly (readonly [number, number])[] = [
  [1, 2.5],
  [3, 2.0],
  [6, 1.6],
  [12, 1.5],
  [24, 1.5],
];
const STABLE_RATIO = 1.25;
/** Median of a χ²(1) variable: median(r²/E) of Poisson counts is this, so φ = median / this. */
const CHI2_1_MEDIAN = 0.4549;
const MIN_DISPERSION = 0.25;
const DISPERSION_HOURS = 72;

export interface TrendOptions {
  /** Earlier days of a window needed before it is judged. */
  minDays: number;
  /** z a window must reach. */
  threshold: number;
  /** O − E must be at least this many mints. */
  minExcess: number;
  /** Consecutive anomalous hours before a steady new level is learned (0: never). */
  shiftHours: number;
}

export interface TrendState {
  /** Hourly counts, index = hour % 192. */
  counts: number[];
  /** Hour being accumulated (epoch hours); null before the first count. */
  hour: number | null;
  /** First hour ever counted: earlier hours are unknown, not zero. */
  first: number | null;
  /** Consecutive anomalous closed hours. */
  streak: number;
  /** `hour` was already judged (its last bucket closed it). */
  closed: boolean;
}

export interface TrendAssessment {
  /** The closed hour (epoch ms of its start). */
  hour_start: number;
  /** End of a running window (running-window.ts) that does not end on the hour; absent for hours. */
  window_end?: number;
  /** Running windows: the ratio without the window's densest 10 minutes. */
  rest_ratio?: number;
  anomalous: boolean;
  /** The most anomalous window (or the best-scoring one when none is). */
  window_hours: number;
  observed: number;
  expected: number;
  spread: number;
  z: number;
  ratio: number;
  min_ratio: number;
  days: number;
  /** Count noise relative to Poisson (φ). */
  dispersion: number;
  /** The level had held for a day and was just learned. */
  level_shift: boolean;
  streak: number;
}

export function newTrendState(): TrendState {
  return { counts: new Array<number>(RING).fill(0), hour: null, first: null, streak: 0, closed: false };
}

const MAD_TO_SIGMA = 1.4826;

function median(xs: number[]): number {
  return medianSorted(xs.sort((a, b) => a - b));
}

/** Largest single hour of [end − len + 1, end] (all known). */
function windowMax(st: TrendState, end: number, len: number): number {
  let m = 0;
  for (let h = end - len + 1; h <= end; h++) m = Math.max(m, st.counts[((h % RING) + RING) % RING]!);
  return m;
}

/** Sum of hours [end − len + 1, end], or undefined if any of them is unknown or out of the ring. */
function windowSum(st: TrendState, end: number, len: number, current: number): number | undefined {
  const start = end - len + 1;
  if (st.first === null || start < st.first || start <= current - RING) return undefined;
  let s = 0;
  for (let h = start; h <= end; h++) s += st.counts[((h % RING) + RING) % RING]!;
  return s;
}

/** Count noise relative to Poisson, from the hours [h − 24 − 72, h − 24) against their same-hour medians. */
export function dispersionOf(st: TrendState, h: number, minDays: number): number {
  const ratios: number[] = [];
  const day: number[] = [];
  for (let k = h - 24 - DISPERSION_HOURS; k < h - 24; k++) {
    const own = windowSum(st, k, 1, h);
    if (own === undefined) continue;
    day.length = 0;
    for (let d = 1; d <= 7; d++) {
      const e = windowSum(st, k - 24 * d, 1, h);
      if (e === undefined) break;
      day.push(e);
    }
    if (day.length < minDays) continue;
    const e = Math.max(median(day), 1);
    ratios.push(((own - e) * (own - e)) / e);
  }
  if (ratios.length < 24) return 1;
  return Math.max(MIN_DISPERSION, median(ratios) / CHI2_1_MEDIAN);
}

/**
 * The expectation and day-to-day spread of the single hour `h` from the same hour on earlier
 * days (judgeHour's rule for a 1-hour window), or undefined while fewer than minDays are known.
 * `current` is the hour being accumulated (bounds the ring).
 */
export function hourExpectation(st: TrendState, h: number, current: number, minDays: number, phi: number): { expected: number; spread: number; days: number } | undefined {
  const earlier: number[] = [];
  let weekAgo: number | undefined;
  for (let d = 1; d <= 7; d++) {
    const e = windowSum(st, h - 24 * d, 1, current);
    if (e === undefined) break;
    earlier.push(e);
    if (d === 7) weekAgo = e;
  }
  if (earlier.length < minDays) return undefined;
  const med = median(earlier.slice());
  const spread = MAD_TO_SIGMA * median(earlier.map((e) => Math.abs(e - med)));
  const expected = weekAgo !== undefined ? Math.max(med, weekAgo - 2 * Math.sqrt(phi * Math.max(weekAgo, 1))) : Math.max(...earlier);
  return { expected, spread, days: earlier.length };
}

/** Judge hour `h` (complete) over every window; exported for tests. */
export function judgeHour(st: TrendState, h: number, o: TrendOptions): TrendAssessment {
  let best: TrendAssessment | undefined;
  let hourRatio = 0;
  let phi: number | undefined;
  for (const [len, minRatio] of TREND_WINDOWS) {
    const observed = windowSum(st, h, len, h)!;
    const earlier: number[] = [];
    let weekAgo: number | undefined;
    for (let d = 1; d <= 7; d++) {
      const e = windowSum(st, h - 24 * d, len, h);
      if (e === undefined) break;
      earlier.push(e);
      if (d === 7) weekAgo = e;
    }
    if (earlier.length < o.minDays) continue;
    const med = median(earlier.slice());
    const spread = MAD_TO_SIGMA * median(earlier.map((e) => Math.abs(e - med)));
    phi ??= dispersionOf(st, h, o.minDays);
    // A week earlier counts when it stands above the median beyond its own noise (a weekly pattern).
    const expected = weekAgo !== undefined ? Math.max(med, weekAgo - 2 * Math.sqrt(phi * Math.max(weekAgo, 1))) : Math.max(...earlier);
    const z = (observed - expected) / Math.sqrt(phi * Math.max(expected, 1) + spread * spread);
    const ratio = observed / Math.max(expected, 1);
    if (len === 1) hourRatio = ratio;
    const withoutPeak = len === 1 || (observed - windowMax(st, h, len)) / Math.max((expected * (len - 1)) / len, 1) >= minRatio;
    const anomalous = ratio >= minRatio && z >= o.threshold && observed - expected >= o.minExcess && hourRatio >= Math.sqrt(minRatio) && withoutPeak;
    const a: TrendAssessment = {
      hour_start: h * HOUR_MS, anomalous, window_hours: len, observed, expected, spread, z, ratio, min_ratio: minRatio,
      days: earlier.length, level_shift: false, streak: 0, dispersion: phi,
    };
    if (!best || (a.anomalous && !best.anomalous) || (a.anomalous === best.anomalous && a.z > best.z)) best = a;
  }
  return best ?? {
    hour_start: h * HOUR_MS, anomalous: false, window_hours: 0, observed: 0, expected: 0, spread: 0, z: 0, ratio: 0, min_ratio: 0,
    days: 0, level_shift: false, streak: 0, dispersion: 1,
  };
}

/** The last 3 hours are within ×STABLE_RATIO of the same hours a day earlier. */
function steadyForADay(st: TrendState, h: number): boolean {
  const now = windowSum(st, h, 3, h);
  const before = windowSum(st, h - 24, 3, h);
  if (now === undefined || before === undefined) return false;
  const r = (now + 1) / (before + 1);
  return r <= STABLE_RATIO && r >= 1 / STABLE_RATIO;
}

/** Copy the last 24 hours over every earlier day in the ring: the new level becomes the baseline. */
function learnLastDay(st: TrendState, h: number): void {
  for (let j = 0; j < 24; j++) {
    const v = st.counts[(((h - j) % RING) + RING) % RING]!;
    for (let d = 1; d < DAYS; d++) {
      const k = h - j - 24 * d;
      if (st.first !== null && k >= st.first) st.counts[((k % RING) + RING) % RING] = v;
    }
  }
}

function closeHour(st: TrendState, o: TrendOptions): TrendAssessment {
  const h = st.hour!;
  const a = judgeHour(st, h, o);
  st.streak = a.anomalous ? st.streak + 1 : 0;
  a.streak = st.streak;
  if (a.anomalous && o.shiftHours > 0 && st.streak >= o.shiftHours && steadyForADay(st, h)) {
    learnLastDay(st, h);
    st.streak = 0;
    a.level_shift = true;
  }
  return a;
}

/**
 * Add a closed bucket's count (bucket start in ms). Returns the judgement of the hour this
 * closes, if any: the previous hour when the bucket starts a later hour, or the bucket's own
 * hour when `lastOfHour` (the bucket ends on the hour).
 */
export function addBucket(st: TrendState, bucketStart: number, count: number, lastOfHour: boolean, o: TrendOptions): TrendAssessment | undefined {
  const h = Math.floor(bucketStart / HOUR_MS);
  let judged: TrendAssessment | undefined;
  if (st.hour === null) {
    st.hour = h;
    st.first = h;
    st.counts[((h % RING) + RING) % RING] = 0;
  } else if (h > st.hour) {
    // The accumulated hour is complete (its last bucket was empty or never closed on its own).
    if (!st.closed) judged = closeHour(st, o);
    // Hours with no mints at all count as zero (bounded: at most one ring).
    const from = Math.max(st.hour + 1, h - RING + 1);
    for (let k = from; k <= h; k++) st.counts[((k % RING) + RING) % RING] = 0;
    if (h - st.hour > 1) st.streak = 0;
    st.hour = h;
  } else if (h < st.hour) {
    return undefined; // an older hour (late bucket): already judged
  }
  st.closed = false;
  st.counts[((h % RING) + RING) % RING]! += count;
  if (lastOfHour) {
    const own = closeHour(st, o);
    st.closed = true;
    if (!judged || own.anomalous || !judged.anomalous) judged = own;
  }
  return judged;
}
