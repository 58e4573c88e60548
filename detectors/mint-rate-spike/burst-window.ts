/**
 * The fastest view of mint_rate_spike: at every counted mint, the last 15 minutes of an issuer's
 * mints against what the same hour held on earlier days, so a burst of a few times normal inside
 * the daily peak hour of a small issuer alerts at the mint that tips it over, not when a bucket,
 * the running 30 minutes (running-window.ts) or the clock hour close.
 *
 * Fifteen minutes of a small issuer hold a handful of mints, and benign minting is lumpy at that
 * scale: fleets refresh in lockstep, instances refresh together after a scale-out, a key rollover
 * re-mints everything at once, an hour's autoscaling starts at the same minute every day. So the
 * window is judged against the issuer's own lumpiness, not a uniform share of the hour:
 *
 * - the peak expectation: the median, over the same hour on earlier days (trend_min_days … 7),
 *   of the densest 15 minutes that hour held (the highest window count at any of its mints). A
 *   fleet that mints its whole hour in a few minutes, or a scale-out at a fixed minute, has a
 *   peak expectation near its hourly count; an issuer whose mints are spread has about
 *   15/60 of it plus Poisson clumping. The window must reach PEAK_RATIO × that;
 * - the window must still reach REST_RATIO × its uniform expectation (the hour's expectation,
 *   trend.ts's rule, pro-rated) without its densest 5 minutes: a storm or a restart puts its
 *   mints into a minute or two, a burst an attacker keeps up does not stop;
 * - and hold the trend's minimum extra mints over the larger of both expectations.
 *
 * State: counted mints per minute for the last 16 minutes, and the densest-15-minutes count of
 * every hour of the last 8 days (a ring like trend.ts's hourly counts); one alert per clock hour.
 */
import { dispersionOf, hourExpectation, type TrendOptions, type TrendState } from './trend.js';

const MIN_MS = 60_000;
const HOUR_MS = 3_600_000;
/** Window length and the densest span it must reach its rest ratio without, in minutes. */
export const BURST_MINUTES = 15;
export const BURST_PEAK_MINUTES = 5;
/** Minute slots kept: the window plus the minute being counted. */
const SLOTS = BURST_MINUTES + 1;
/** Hours of densest-window counts kept (8 days, as trend.ts). */
const RING = 8 * 24;
/** The window over the same hour's usual densest 15 minutes. */
export const BURST_PEAK_RATIO = 3.5;
/** The window without its densest 5 minutes over the uniform expectation of the other 10. */
export const BURST_REST_RATIO = 3;

export interface BurstState {
  /** Counted mints per minute, index = epoch minute % SLOTS. */
  minutes: number[];
  /** Epoch minute of the last slot written; null before the first. */
  minute: number | null;
  /** Densest 15-minute count of each hour, index = epoch hour % RING. */
  peaks: number[];
  /** Hour last written to `peaks`; null before the first. */
  hour: number | null;
  /** First hour counted: earlier hours are unknown, not zero. */
  first: number | null;
  /** Clock hour already alerted on; null if none. */
  alerted_hour: number | null;
  /** Hour whose count dispersion (trend.ts) is cached in `phi`; null before the first. */
  phi_hour: number | null;
  phi: number;
}

export interface BurstAssessment {
  window_end: number;
  observed: number;
  /** Uniform expectation of the window (the hour's expectation pro-rated). */
  expected: number;
  /** Median densest 15 minutes of the same hour on earlier days. */
  peak_expected: number;
  /** Of `observed`, the densest 5 minutes. */
  densest: number;
  rest_ratio: number;
  ratio: number;
  /** (observed − expected) / sqrt(φ · expected): for the score. */
  z: number;
  dispersion: number;
  days: number;
}

export function newBurstState(): BurstState {
  return { minutes: new Array<number>(SLOTS).fill(0), minute: null, peaks: new Array<number>(RING).fill(0), hour: null, first: null, alerted_hour: null, phi_hour: null, phi: 1 };
}

const slot = (i: number, n: number): number => ((i % n) + n) % n;

/** Median densest window of hour `h` on earlier days (known days only), or undefined with fewer than minDays. */
function peakExpectation(bs: BurstState, h: number, minDays: number): { peak: number; days: number } | undefined {
  const earlier: number[] = [];
  for (let d = 1; d <= 7; d++) {
    const k = h - 24 * d;
    if (bs.first === null || k < bs.first || k <= h - RING) break;
    earlier.push(bs.peaks[slot(k, RING)]!);
  }
  if (earlier.length < minDays) return undefined;
  earlier.sort((a, b) => a - b);
  const m = earlier.length >> 1;
  return { peak: earlier.length % 2 ? earlier[m]! : (earlier[m - 1]! + earlier[m]!) / 2, days: earlier.length };
}

/**
 * Count a mint at `eventTime` (a mint older than the last counted minute counts in that minute:
 * events are in order per issuer up to the reorder slack) and judge the window ending at it.
 * `count` 0 records that the issuer minted (its hours are known) without counting the mint (a
 * named workload's regular refresh). `trend` holds the issuer's closed buckets. Returns an
 * anomalous assessment (at most once per clock hour), else undefined.
 */
export function addBurstMint(bs: BurstState, trend: TrendState, eventTime: number, count: 0 | 1, o: TrendOptions): BurstAssessment | undefined {
  const time = bs.minute === null ? eventTime : Math.max(eventTime, bs.minute * MIN_MS);
  const m = Math.floor(time / MIN_MS);
  if (bs.minute === null || m - bs.minute >= SLOTS) bs.minutes.fill(0);
  else for (let k = bs.minute + 1; k <= m; k++) bs.minutes[slot(k, SLOTS)] = 0;
  bs.minute = m;
  bs.minutes[slot(m, SLOTS)]! += count;

  // The window: this minute and the 14 before it; its densest 5 consecutive minutes.
  let observed = 0;
  let run = 0;
  let densest = 0;
  for (let j = 0; j < BURST_MINUTES; j++) {
    const c = bs.minutes[slot(m - j, SLOTS)]!;
    observed += c;
    run += c;
    if (j >= BURST_PEAK_MINUTES) run -= bs.minutes[slot(m - j + BURST_PEAK_MINUTES, SLOTS)]!;
    if (run > densest) densest = run;
  }

  const h = Math.floor(time / HOUR_MS);
  if (bs.hour === null) {
    bs.first = h;
    bs.hour = h;
    bs.peaks[slot(h, RING)] = 0;
  } else if (h > bs.hour) {
    // Hours without mints held nothing (bounded: at most one ring).
    for (let k = Math.max(bs.hour + 1, h - RING + 1); k <= h; k++) bs.peaks[slot(k, RING)] = 0;
    bs.hour = h;
  }
  const usual = peakExpectation(bs, h, o.minDays);
  if (h === bs.hour && observed > bs.peaks[slot(h, RING)]!) bs.peaks[slot(h, RING)] = observed;
  if (count === 0) return undefined;
  // The same hours on earlier days must be closed in the trend (an issuer back after a day's
  // silence has not zero-filled them yet: its next closed bucket does that).
  if (!usual || bs.alerted_hour === h || trend.hour === null || trend.hour < h - 24) return undefined;
  // Most mints stop here, before the hourly expectations are looked up.
  if (observed < BURST_PEAK_RATIO * Math.max(usual.peak, 1) || observed - Math.max(usual.peak, 1) < o.minExcess) return undefined;
  if (bs.phi_hour !== h) {
    bs.phi = dispersionOf(trend, h, o.minDays);
    bs.phi_hour = h;
  }
  const phi = bs.phi;

  // Uniform expectation of the window [time − 15 min, time]: the hour's expectation pro-rated.
  const current = Math.max(trend.hour, h);
  const from = time - BURST_MINUTES * MIN_MS;
  let expected = 0;
  let days = usual.days;
  for (let k = Math.floor(from / HOUR_MS); k <= h; k++) {
    const e = hourExpectation(trend, k, current, o.minDays, phi);
    if (!e) return undefined;
    days = Math.min(days, e.days);
    expected += (e.expected * (Math.min(time, (k + 1) * HOUR_MS) - Math.max(from, k * HOUR_MS))) / HOUR_MS;
  }
  const restExpected = (expected * (BURST_MINUTES - BURST_PEAK_MINUTES)) / BURST_MINUTES;
  const restRatio = (observed - densest) / Math.max(restExpected, 1);
  const ratio = observed / Math.max(usual.peak, 1);
  const anomalous =
    ratio >= BURST_PEAK_RATIO && restRatio >= BURST_REST_RATIO && observed - Math.max(usual.peak, expected, 1) >= o.minExcess;
  if (!anomalous) return undefined;
  bs.alerted_hour = h;
  const z = (observed - expected) / Math.sqrt(phi * Math.max(expected, 1));
  return { window_end: time, observed, expected, peak_expected: usual.peak, densest, rest_ratio: restRatio, ratio, z, dispersion: phi, days };
}
