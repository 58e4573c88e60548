/**
 * The fast half of the hourly trend: at every closed bucket, the last 30 and 60 minutes of an
 * issuer's mints against the same minutes on earlier days, so a burst of a few times normal
 * (one inside the daily peak hour, an issuer that mints a handful of tokens an hour) is judged
 * while it runs instead of when its clock hour closes.
 *
 * The expectation of a window is the sum, over its buckets, of the expectation of the bucket's
 * hour (same hour on earlier days and a week earlier, trend.ts's rule) × bucket/hour; its noise
 * is the count noise φ·E (φ learned per issuer, trend.ts) plus the pro-rated day-to-day spread.
 * A window is anomalous when it reaches its ratio (×3 for 30 minutes, ×2.5 for 60), z ≥ the
 * trend threshold and the trend's minimum excess — and still reaches √ratio without its densest
 * 10 minutes: replicas refresh about once an hour each, so a deploy, a signing-key rollover or a
 * fleet that started together (and so refreshes in lockstep) puts a whole hour's mints into a
 * few minutes, with nothing between; a burst an attacker keeps up does not stop after 10 minutes.
 *
 * State: the last two hours of bucket counts (a ring of 2 × buckets-per-hour numbers), the
 * bucket they end at, the hour whose φ is cached, and the hour already alerted on (one alert per
 * clock hour; the hour's own close still judges it).
 */
import { dispersionOf, hourExpectation, type TrendAssessment, type TrendOptions, type TrendState } from './trend.js';

const HOUR_MS = 3_600_000;
/** The densest span a window must reach its √ratio without (see above). */
const PEAK_SPAN_MS = 10 * 60_000;
/** Window length (minutes) → minimum ratio over the expectation. */
export const RUNNING_WINDOWS: readonly (readonly [number, number])[] = [[30, 3.0]];

export interface RunningState {
  /** Bucket counts by bucket index modulo the ring length (2 hours of buckets). */
  buckets: number[];
  /** Index (epoch ms / bucket ms) of the last bucket written; null before the first. */
  last: number | null;
  /** Hour whose dispersion is cached in `phi`; null before the first. */
  phi_hour: number | null;
  phi: number;
  /** Clock hour already alerted on by a running window; null if none. */
  alerted_hour: number | null;
}

export function newRunningState(bucketMs: number): RunningState {
  const perHour = Math.max(1, Math.round(HOUR_MS / bucketMs));
  return { buckets: new Array<number>(2 * perHour).fill(0), last: null, phi_hour: null, phi: 1, alerted_hour: null };
}

/**
 * Record a closed bucket and judge the windows that end with it. `trend` must already hold the
 * bucket (addBucket first). Returns an anomalous assessment (at most once per clock hour), else
 * undefined. With buckets of 30 minutes or more a window has too few buckets and is skipped.
 */
export function addRunningBucket(
  rs: RunningState, trend: TrendState, bucketStart: number, bucketMs: number, count: number, o: TrendOptions,
): TrendAssessment | undefined {
  const ring = rs.buckets.length;
  const idx = Math.floor(bucketStart / bucketMs);
  if (rs.last !== null && idx < rs.last) return undefined; // late bucket: already judged
  if (rs.last === null || idx - rs.last >= ring) rs.buckets.fill(0);
  else for (let k = rs.last + 1; k <= idx; k++) rs.buckets[k % ring] = 0;
  if (rs.last === null || idx > rs.last) rs.last = idx;
  rs.buckets[idx % ring]! += count;

  const hour = Math.floor(bucketStart / HOUR_MS);
  const bucketEnd = bucketStart + bucketMs;
  // The hour's own close (trend.ts) judges a window ending on the hour.
  if (bucketEnd % HOUR_MS === 0 || rs.alerted_hour === hour || trend.hour === null) return undefined;
  if (rs.phi_hour !== hour) {
    rs.phi = dispersionOf(trend, hour, o.minDays);
    rs.phi_hour = hour;
  }
  const share = bucketMs / HOUR_MS;
  const peakBuckets = Math.max(1, Math.round(PEAK_SPAN_MS / bucketMs));
  let best: TrendAssessment | undefined;
  for (const [minutes, minRatio] of RUNNING_WINDOWS) {
    const n = Math.round((minutes * 60_000) / bucketMs);
    if (n < 2 || n > ring) continue;
    if (n <= peakBuckets) continue;
    let observed = 0;
    let peak = 0;
    let run = 0;
    let expected = 0;
    let spread = 0;
    let days = 7;
    let known = true;
    let lastHour = Number.NaN;
    let hourE = 0;
    let hourS = 0;
    for (let j = 0; j < n; j++) {
      const c = rs.buckets[(((idx - j) % ring) + ring) % ring]!;
      observed += c;
      // Sum of the peakBuckets most recent buckets up to j: the densest such run is the peak.
      run += c;
      if (j >= peakBuckets) run -= rs.buckets[(((idx - j + peakBuckets) % ring) + ring) % ring]!;
      if (run > peak) peak = run;
      const h = Math.floor(((idx - j) * bucketMs) / HOUR_MS);
      if (h !== lastHour) {
        const e = hourExpectation(trend, h, trend.hour, o.minDays, rs.phi);
        if (!e) {
          known = false;
          break;
        }
        lastHour = h;
        hourE = e.expected;
        hourS = e.spread;
        days = Math.min(days, e.days);
      }
      expected += hourE * share;
      spread += hourS * share;
    }
    if (!known) continue;
    const z = (observed - expected) / Math.sqrt(rs.phi * Math.max(expected, 1) + spread * spread);
    const ratio = observed / Math.max(expected, 1);
    const withoutPeak = (observed - peak) / Math.max((expected * (n - peakBuckets)) / n, 1);
    const anomalous = ratio >= minRatio && z >= o.threshold && observed - expected >= o.minExcess && withoutPeak >= (1 + minRatio) / 2;
    const a: TrendAssessment = {
      hour_start: bucketEnd - HOUR_MS, window_end: bucketEnd, rest_ratio: withoutPeak, anomalous, window_hours: minutes / 60, observed, expected, spread, z,
      ratio, min_ratio: minRatio, days, dispersion: rs.phi, level_shift: false, streak: 0,
    };
    if (anomalous && (!best || a.z > best.z)) best = a;
  }
  if (best) rs.alerted_hour = hour;
  return best;
}
