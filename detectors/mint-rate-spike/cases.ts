/**
 * mint_rate_spike cases as data. Traffic is generated deterministically (seeded PRNG) from the
 * benign shapes the simulator produces (diurnal curve, autoscaling, hourly token refresh per
 * replica) and from a minting loop. Events are built lazily on first access, so importing the
 * registry does not build thousands of events.
 *
 * The detector emits one spike draft per alerting bucket, starting at the sustain_buckets-th
 * consecutive anomalous bucket: with 5-minute buckets and sustain 3, a bucket-aligned loop of
 * H hours gives 12·H − 2 drafts; and one ramp draft per anomalous hour (once 3 earlier days
 * are known). Positive cases list exactly that many.
 */
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';
import { DAY, HOUR, MIN, T0, ev, fp } from '../case-helpers.js';
import type { DetectorCase } from '../types.js';
import type { MintRateSpikeConfig } from './config.js';

/** mulberry32: a tiny seeded PRNG, so cases are identical on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Poisson arrivals on [from, to) with a time-varying rate (mints per minute), by thinning. */
export function poissonTimes(from: number, to: number, ratePerMin: (t: number) => number, maxRatePerMin: number, seed: number): number[] {
  const rnd = prng(seed);
  const out: number[] = [];
  let t = from;
  for (;;) {
    t += (-Math.log(1 - rnd()) / maxRatePerMin) * MIN;
    if (t >= to) return out;
    if (rnd() * maxRatePerMin < ratePerMin(t)) out.push(Math.floor(t));
  }
}

/**
 * Replicas that each refresh their token every 50–60 minutes from a random phase. Replica i is
 * running while i < replicas(t); with `startupMint`, a replica that starts after `from` mints at
 * start (as a pod does when it boots), then refreshes on its own 50–60 minute cycle.
 */
export function refreshTimes(
  from: number,
  to: number,
  replicas: (t: number) => number,
  maxReplicas: number,
  seed: number,
  startupMint = false,
): number[] {
  const rnd = prng(seed);
  const out: number[] = [];
  for (let i = 0; i < maxReplicas; i++) {
    const phase = rnd() * 55 * MIN;
    let running = i < replicas(from);
    let next = from + phase;
    // Walk the replica's life in 1-minute steps only around start/stop; refreshes jump ahead.
    for (let t = from; t < to; t += MIN) {
      const now = i < replicas(t);
      if (now && !running) {
        // Started: mint at boot within the first few minutes, then refresh every 50–60 min.
        const boot = t + Math.floor(rnd() * 5 * MIN);
        if (startupMint && boot < to) out.push(boot);
        next = boot + (50 + rnd() * 10) * MIN;
      }
      running = now;
      while (running && next < t + MIN && next < to) {
        if (next >= t) out.push(Math.floor(next));
        next += (50 + rnd() * 10) * MIN;
      }
      if (!running && next < t + MIN) next = t + MIN;
    }
  }
  return out.sort((a, b) => a - b);
}

/** `perBucket` mints evenly spread over each 5-minute bucket of [from, to): a minting loop. */
export function loopTimes(from: number, to: number, perBucket: number): number[] {
  const out: number[] = [];
  for (let b = from; b < to; b += 5 * MIN) for (let k = 0; k < perBucket; k++) out.push(b + Math.floor((k * 5 * MIN) / perBucket));
  return out;
}

/** The day curve: 1× at 00:00 UTC rising to 3× at 12:00 UTC. */
export const dayCurve = (t: number): number => 2 - Math.cos((2 * Math.PI * (((t - T0) % DAY) + DAY)) / DAY);

/** Per-mint context: the workload (pod) id, source address, ASN and user agent. */
interface MintAttrs {
  workload?: string;
  ip?: string;
  asn?: string;
  ua?: string;
}

interface Stream {
  issuer: string;
  times: readonly number[];
  kind?: TokenKind;
  workload?: string;
  /** Context of the n-th mint of the stream at time t. */
  attrs?: (n: number, t: number) => MintAttrs;
}

/** Turn per-issuer mint times into time-ordered AssumeRole-style mint events. */
function mints(streams: readonly Stream[]): TokenEvent[] {
  const all: { t: number; s: Stream; n: number }[] = [];
  for (const s of streams) s.times.forEach((t, n) => all.push({ t, s, n }));
  all.sort((a, b) => a.t - b.t);
  const tokens = new Map<string, TokenEvent['token'][]>();
  const pool = (s: Stream): TokenEvent['token'][] => {
    let p = tokens.get(s.issuer);
    if (!p) {
      p = Array.from({ length: 8 }, (_, i) => ({ fp: fp(`${s.issuer}#${i}`), kind: s.kind ?? ('sts_session' as const), hint: 'ASIA' }));
      tokens.set(s.issuer, p);
    }
    return p;
  };
  return all.map(({ t, s, n }) => {
    const a = s.attrs?.(n, t) ?? {};
    const network = a.ip || a.asn ? { ...(a.ip ? { ip: a.ip } : {}), ...(a.asn ? { asn: a.asn } : {}) } : undefined;
    return ev({
      time: t,
      token: pool(s)[n % 8]!,
      action: 'mint',
      source: 'cloudtrail',
      platform: 'aws',
      operation: 'AssumeRole',
      issuer: s.issuer,
      authority: 'sts.amazonaws.com',
      service: 'sts.amazonaws.com',
      workload: { kind: 'k8s_pod', id: a.workload ?? s.workload ?? `${s.issuer.split('/').pop()}-7d9f` },
      ...(network ? { network } : {}),
      ...(a.ua ? { user_agent: a.ua } : {}),
    });
  });
}

/** A case whose events are generated on first access. */
function lazyCase(
  name: string,
  build: () => TokenEvent[],
  expect: DetectorCase<MintRateSpikeConfig>['expect'],
  config?: Partial<MintRateSpikeConfig>,
): DetectorCase<MintRateSpikeConfig> {
  let events: TokenEvent[] | undefined;
  return {
    name,
    ...(config ? { config } : {}),
    get events(): readonly TokenEvent[] {
      return (events ??= build());
    },
    expect,
  };
}

const spikes = (issuer: string, n: number): { kind: string; issuer: string }[] =>
  Array.from({ length: n }, () => ({ kind: 'spike', issuer }));
const ramps = (issuer: string, n: number): { kind: string; issuer: string }[] =>
  Array.from({ length: n }, () => ({ kind: 'ramp', issuer }));

/** Mints of a fleet of pods, each with its own workload id, as (time, pod) pairs sorted by time. */
interface PodMint {
  t: number;
  pod: string;
}

/**
 * 60 pods refreshing every 50–60 minutes; at `rollout` they are replaced within 15 minutes by
 * new pods (new workload ids) that each mint `bootMints` tokens at start, then refresh.
 */
export function rolloutMints(from: number, to: number, rollout: number, bootMints: number, seed: number): PodMint[] {
  const rnd = prng(seed);
  const out: PodMint[] = [];
  for (let i = 0; i < 60; i++) {
    const stop = rollout + Math.floor((i / 60) * 15 * MIN);
    for (let t = from + rnd() * 55 * MIN; t < stop; t += (50 + rnd() * 10) * MIN) out.push({ t: Math.floor(t), pod: `web-v1-${i}` });
    const boot = stop + Math.floor(rnd() * 20_000);
    for (let k = 0; k < bootMints; k++) out.push({ t: boot + k * 1000, pod: `web-v2-${i}` });
    for (let t = boot + (50 + rnd() * 10) * MIN; t < to; t += (50 + rnd() * 10) * MIN) out.push({ t: Math.floor(t), pod: `web-v2-${i}` });
  }
  return out.sort((a, b) => a.t - b.t);
}

const PAYMENTS = 'arn:aws:iam::111122223333:role/payments-worker';
const REPORTS = 'arn:aws:iam::111122223333:role/reports-api';
const CHECKOUT = 'arn:aws:iam::111122223333:role/checkout';
const INGEST = 'arn:aws:iam::111122223333:role/ingest';
const NEWCOMER = 'arn:aws:iam::111122223333:role/new-batch-loader';
const QUIET = 'arn:aws:iam::111122223333:role/nightly-report';
const LOCKSTEP = 'arn:aws:iam::111122223333:role/sync-fleet';
const WEB = 'arn:aws:iam::111122223333:role/web-frontend';
const MOBILE = 'okta-client:0oa-mobile-app';
const VPS = { ip: '159.203.114.7', asn: 'AS14061', ua: 'python-requests/2.31.0' };

/**
 * Drafts of the peak-hour burst: spikes from the third anomalous bucket; ramps: the running
 * 30-minute window 25 minutes in (running-window.ts), then the hour when it closes.
 */
const PEAK_SPIKES = 10;
const PEAK_RAMPS = 2;
/** Hours of the ×2 day that alert as a ramp (the first at 03:00, three hours in). */
const RAMP_HOURS = 20;

export const positive: readonly DetectorCase<MintRateSpikeConfig>[] = [
  lazyCase(
    'loop attack (30× normal for an hour) after the learning period; a steady neighbour stays quiet',
    () => {
      const end = T0 + DAY + 18 * HOUR;
      const attack = T0 + DAY + 12 * HOUR;
      return mints([
        // 30 replicas refreshing every 50–60 min: ~2.7 mints per 5-minute bucket.
        { issuer: PAYMENTS, times: [...refreshTimes(T0, end, () => 30, 30, 1), ...loopTimes(attack, attack + HOUR, 80)].sort((a, b) => a - b) },
        { issuer: REPORTS, times: poissonTimes(T0, end, () => 1, 1, 2) },
      ]);
    },
    spikes(PAYMENTS, 10),
  ),
  lazyCase(
    'loop sustained for 3 hours keeps alerting every bucket (never absorbed into the baseline)',
    () => {
      const end = T0 + DAY + 20 * HOUR;
      const attack = T0 + DAY + 10 * HOUR;
      return mints([
        { issuer: PAYMENTS, times: [...refreshTimes(T0, end, () => 30, 30, 3), ...loopTimes(attack, attack + 3 * HOUR, 55)].sort((a, b) => a - b) },
      ]);
    },
    spikes(PAYMENTS, 34),
  ),
  lazyCase(
    'night-time loop at 7× the trough, only anomalous against the same hour on earlier days (seasonal)',
    () => {
      const attack = T0 + 3 * DAY + 3 * HOUR;
      const end = T0 + 3 * DAY + 8 * HOUR;
      return mints([
        { issuer: CHECKOUT, times: [...poissonTimes(T0, end, dayCurve, 3, 4), ...loopTimes(attack, attack + HOUR, 40)].sort((a, b) => a - b) },
      ]);
    },
    // It also stands out against the same hours on earlier days: ramps for the last 15 minutes 11
    // minutes in, the running 30 minutes 15 minutes in, the hour when it closes, and in the next
    // hour for the 15 minutes to 04:00 and the 30 minutes to 04:05 (still mostly loop).
    [...spikes(CHECKOUT, 10), ...ramps(CHECKOUT, 5)],
  ),
  lazyCase(
    'peak-hour burst: ~3.5× the busiest hour of the day, judged against the learned variability (no ×5 floor)',
    () => {
      // A week of history, so the hour is judged against the median of 7 days and a week earlier.
      const attack = T0 + 7 * DAY + 12 * HOUR; // the day curve peaks at 12:00
      const end = T0 + 7 * DAY + 16 * HOUR;
      const extra = poissonTimes(attack, attack + HOUR, (t) => 2.5 * dayCurve(t), 7.5, 22);
      return mints([{ issuer: CHECKOUT, times: [...poissonTimes(T0, end, dayCurve, 3, 21), ...extra].sort((a, b) => a - b) }]);
    },
    [...spikes(CHECKOUT, PEAK_SPIKES), ...ramps(CHECKOUT, PEAK_RAMPS)],
  ),
  lazyCase(
    'slow ramp: from midnight the issuer mints ×2 its usual rate all day, from its own workload; alerts within the day',
    () => {
      const start = T0 + 4 * DAY;
      const end = T0 + 5 * DAY;
      const times = [...refreshTimes(T0, end, () => 40, 40, 23), ...poissonTimes(start, end, () => 40 / 55, 1, 24)];
      return mints([{ issuer: INGEST, times: times.sort((a, b) => a - b) }]);
    },
    ramps(INGEST, RAMP_HOURS),
  ),
  lazyCase(
    'grants from an ASN and client new to an established issuer (a client secret used from a VPS)',
    () => {
      const t = T0 + 2 * DAY + 12 * HOUR;
      return mints([
        {
          issuer: PAYMENTS,
          times: poissonTimes(T0, T0 + 3 * DAY, () => 0.5, 0.5, 25),
          attrs: (n) => ({ ip: `52.94.133.${10 + (n % 40)}`, asn: 'AS16509', ua: n % 3 ? 'aws-sdk-go-v2/1.24.0 os/linux' : 'aws-sdk-java/2.21.0 Linux' }),
        },
        { issuer: PAYMENTS, times: [t, t + MIN, t + 2 * MIN], attrs: () => VPS },
      ]);
    },
    [{ kind: 'new_context', issuer: PAYMENTS }],
  ),
];

export const negative: readonly DetectorCase<MintRateSpikeConfig>[] = [
  lazyCase(
    'diurnal load over 4 days (3× at midday), request-driven and replica-refresh-driven',
    () =>
      mints([
        { issuer: CHECKOUT, times: poissonTimes(T0, T0 + 4 * DAY, dayCurve, 3, 5) },
        // 40 replicas at night, 120 at midday, each refreshing every 50–60 min.
        { issuer: INGEST, times: refreshTimes(T0, T0 + 4 * DAY, (t) => Math.round(40 * dayCurve(t)), 120, 6) },
      ]),
    [],
  ),
  lazyCase(
    'autoscaling: replicas double for an hour (pods mint at boot) and request-driven minting doubles',
    () => {
      const up = T0 + DAY + 13 * HOUR;
      const replicas = (t: number): number => (t >= up && t < up + HOUR ? 240 : 120);
      const rate = (t: number): number => (t >= up && t < up + HOUR ? 4 : 2);
      return mints([
        { issuer: INGEST, times: refreshTimes(T0, T0 + 2 * DAY, replicas, 240, 7, true) },
        { issuer: REPORTS, times: poissonTimes(T0, T0 + 2 * DAY, rate, 4, 8) },
      ]);
    },
    [],
  ),
  lazyCase(
    "a new issuer's first hours (learning): a backfill at 100 mints per bucket is not judged",
    () =>
      mints([
        { issuer: NEWCOMER, times: [...poissonTimes(T0, T0 + 8 * HOUR, () => 0.2, 0.2, 9), ...loopTimes(T0 + 2 * HOUR, T0 + 4 * HOUR, 100)].sort((a, b) => a - b) },
      ]),
    [],
  ),
  lazyCase(
    'low volume: a 40× burst that stays below min_count per bucket',
    () =>
      mints([
        { issuer: QUIET, times: [...poissonTimes(T0, T0 + 2 * DAY, () => 0.04, 0.04, 10), ...loopTimes(T0 + DAY + 6 * HOUR, T0 + DAY + 7 * HOUR, 8)].sort((a, b) => a - b) },
      ]),
    [],
  ),
  lazyCase(
    'replicas refreshing in lockstep: one burst of 60 mints per ~55 minutes, silence between',
    () => {
      const rnd = prng(11);
      const times: number[] = [];
      for (let t = T0 + 7 * MIN; t < T0 + 4 * DAY; t += (50 + rnd() * 10) * MIN) for (let r = 0; r < 60; r++) times.push(Math.floor(t + rnd() * 30_000));
      return mints([{ issuer: LOCKSTEP, times: times.sort((a, b) => a - b) }]);
    },
    [],
  ),
  lazyCase(
    'deploy stampede: 60 pods replaced within 15 minutes, each new pod minting 3 tokens at boot',
    () => {
      const pods = rolloutMints(T0, T0 + 4 * DAY, T0 + 3 * DAY + 10 * HOUR, 3, 26);
      return mints([{ issuer: WEB, times: pods.map((p) => p.t), attrs: (n) => ({ workload: pods[n]!.pod }) }]);
    },
    [],
  ),
  lazyCase(
    'level shift: a new tenant adds 40% for good (16 more replicas), then steady for days',
    () => {
      const shift = T0 + 3 * DAY + 9 * HOUR;
      return mints([{ issuer: REPORTS, times: refreshTimes(T0, T0 + 6 * DAY, (t) => (t >= shift ? 56 : 40), 56, 27) }]);
    },
    [],
  ),
  lazyCase(
    'NAT pool, CGNAT and two SDKs: addresses change across /24s (and v4 ↔ v6) within the ASN, clients alternate',
    () => {
      const ip = (n: number): string => (n % 5 === 4 ? `2600:380:${(n * 7) % 97}:1::${n % 13}` : `100.${64 + (n % 31)}.${(n * 13) % 251}.${n % 200}`);
      return mints([
        {
          issuer: MOBILE,
          times: poissonTimes(T0, T0 + 4 * DAY, () => 0.6, 0.6, 28),
          attrs: (n) => ({ ip: ip(n), asn: 'AS20057', ua: n % 2 ? 'okhttp/4.12.0' : 'CFNetwork/1490.0.4 Darwin/23.2.0' }),
        },
      ]);
    },
    [],
  ),
];
