/**
 * mint_rate_spike's 15-minute window (detectors/mint-rate-spike/burst-window.ts): judged at every
 * counted mint against the same hour's usual densest 15 minutes, so a few-times-normal burst of a
 * small issuer alerts at the mint that tips it over; lumpy benign minting (a fleet refreshing in
 * lockstep, a scale-out at a fixed minute, named workloads refreshing together) stays quiet.
 */
import { describe, expect, it } from 'vitest';
import { feedDetector } from './feed-detector.js';
import { DAY, HOUR, MIN, T0, ev } from '../../detectors/case-helpers.js';
import { mintRateSpike } from '../../detectors/mint-rate-spike/index.js';
import { poissonTimes, refreshTimes } from '../../detectors/mint-rate-spike/cases.js';
import { BURST_PEAK_RATIO, addBurstMint, newBurstState } from '../../detectors/mint-rate-spike/burst-window.js';
import { addBucket, newTrendState, type TrendOptions } from '../../detectors/mint-rate-spike/trend.js';
import type { AlertDraft } from '../../detectors/types.js';
import type { MintRateSpikeConfig } from '../../detectors/mint-rate-spike/config.js';
import type { TokenEvent } from '../../schemas/token-event.js';

const CLIENT = 'okta-client:0oa-notifications';
const UA = 'notifications/5.3.0 undici/6.6.2';

let seq = 0;
function mint(t: number, issuer = CLIENT, workload?: string): TokenEvent {
  return ev({
    time: t,
    token: `${issuer}#${seq++ % 8}`,
    action: 'mint',
    issuer,
    source: 'okta',
    platform: 'okta',
    operation: 'app.oauth2.as.token.grant.access_token',
    user_agent: UA,
    ...(workload ? { workload: { kind: 'ec2_instance' as const, id: workload } } : {}),
  });
}

const run = (events: readonly TokenEvent[], config: Partial<MintRateSpikeConfig> = {}): AlertDraft[] =>
  feedDetector(mintRateSpike.create(mintRateSpike.config.parse(config)), events, DAY);
const sorted = (ts: number[]): number[] => ts.sort((a, b) => a - b);
const isBurst = (d: AlertDraft): boolean => d.kind === 'ramp' && d.baseline.window_hours === 0.25;
const alertTime = (d: AlertDraft): number => d.events[d.events.length - 1]!.time;

describe('mint_rate_spike 15-minute window (small issuers)', () => {
  // An OAuth client with 6 replicas refreshing about hourly (~6.5 mints an hour, no workload ids),
  // 7 days of history, then from day 7 14:00 extra mints at 2.5× its rate for an hour.
  const burst = T0 + 7 * DAY + 14 * HOUR;
  const end = burst + 3 * HOUR;
  const base = refreshTimes(T0, end, () => 6, 6, 80);
  const extra = poissonTimes(burst, burst + HOUR, () => (2.5 * 6) / 55, (2.5 * 6) / 55, 81);

  it('a ~3.5× hour alerts at the mint that tips the last 15 minutes over, before the running 30 minutes do', () => {
    const drafts = run(sorted([...base, ...extra]).map((t) => mint(t)));
    expect(drafts.filter((d) => d.events[0]!.time < burst)).toEqual([]);
    const fast = drafts.filter(isBurst);
    expect(fast).toHaveLength(1);
    const first = fast[0]!;
    // The trigger is the mint itself: the window ends at it, not at a bucket or hour boundary.
    expect(Date.parse(String(first.baseline.window_end))).toBe(alertTime(first));
    expect(alertTime(first) - burst).toBeLessThan(30 * MIN);
    const slower = drafts.filter((d) => d.kind === 'ramp' && !isBurst(d));
    expect(slower.every((d) => alertTime(d) >= alertTime(first))).toBe(true);
    expect(Number(first.baseline.ratio)).toBeGreaterThanOrEqual(BURST_PEAK_RATIO);
    expect(Number(first.baseline.observed) - Number(first.baseline.usual_densest_window)).toBeGreaterThanOrEqual(7);
    expect(Number(first.baseline.ratio_without_densest_5_min)).toBeGreaterThanOrEqual(3);
    expect(first.baseline.earlier_days).toBe(7);
    expect(first.summary).toContain('in the 15 minutes to');
    expect(first.summary).toContain('densest 15 minutes of the same hour on earlier days');
  });

  it('snapshot/restore through JSON mid-burst gives the same drafts; a checkpoint without the window still resumes quietly', () => {
    const events = sorted([...base, ...extra]).map((t) => mint(t));
    const cfg = mintRateSpike.config.parse({});
    const whole = run(events);
    const cut = events.findIndex((e) => e.time >= burst + 8 * MIN);
    const first = mintRateSpike.create(cfg);
    const drafts = feedDetector(first, events.slice(0, cut));
    const snap = JSON.parse(JSON.stringify(first.snapshot())) as { issuers: [string, { value: Record<string, unknown> }][] };
    const second = mintRateSpike.create(cfg);
    second.restore(snap as never);
    expect([...drafts, ...feedDetector(second, events.slice(cut), DAY)]).toEqual(whole);
    for (const [, e] of snap.issuers) delete e.value.burst;
    const older = mintRateSpike.create(cfg);
    older.restore(snap as never);
    // Without its learned peaks the window cannot judge (it re-learns for trend_min_days); the rest still does.
    const after = feedDetector(older, events.slice(cut), DAY);
    expect(after.filter(isBurst)).toEqual([]);
    expect(after.some((d) => d.kind === 'ramp')).toBe(true);
  });

  it('a fleet minting its whole hour in a few minutes every hour is quiet, and so is a scale-out at the same minute every day', () => {
    // 12 replicas in lockstep: all mint within 3 minutes, every 55 minutes.
    const lockstep: number[] = [];
    for (let t = T0 + 7 * MIN; t < end; t += 55 * MIN) for (let i = 0; i < 12; i++) lockstep.push(t + i * 15_000);
    expect(run(sorted(lockstep).map((t) => mint(t))).filter((d) => d.kind === 'ramp')).toEqual([]);
    // Every day at 14:15, 12 mints in 4 minutes on top of the usual refreshes (a scheduled job).
    const scheduled: number[] = [];
    for (let d = 0; d <= 7; d++) for (let i = 0; i < 12; i++) scheduled.push(T0 + d * DAY + 14 * HOUR + 15 * MIN + i * 20_000);
    expect(run(sorted([...base, ...scheduled]).map((t) => mint(t))).filter(isBurst)).toEqual([]);
  });

  it('named workloads each refreshing once within minutes are quiet; the same workloads minting again within 15 minutes count', () => {
    // 8 instances refreshing hourly, spread; on day 7 at 14:00 all 8 refresh within 6 minutes (one mint each).
    const instances = Array.from({ length: 8 }, (_, i) => `i-0${i}`);
    const hourly = (from: number, to: number): TokenEvent[] =>
      instances.flatMap((id, i) => {
        const out: TokenEvent[] = [];
        for (let t = from + i * 7 * MIN; t < to; t += HOUR) out.push(mint(t, CLIENT, id));
        return out;
      });
    const before = hourly(T0, burst);
    const together = instances.map((id, i) => mint(burst + 10 * MIN + i * 45_000, CLIENT, id));
    const after = hourly(burst + HOUR, end);
    const byTime = (es: TokenEvent[]): TokenEvent[] => es.sort((a, b) => a.time - b.time);
    expect(run(byTime([...before, ...together, ...after])).filter(isBurst)).toEqual([]);
    // The same 8 instances minting twice more each within the next 12 minutes: 24 mints, 16 of them repeats.
    const again = instances.flatMap((id, i) => [mint(burst + 14 * MIN + i * 50_000, CLIENT, id), mint(burst + 19 * MIN + i * 50_000, CLIENT, id)]);
    const drafts = run(byTime([...before, ...together, ...again, ...after]));
    expect(drafts.filter(isBurst).length).toBe(1);
  });

  it('needs trend_min_days earlier days of the hour: an issuer appearing mid-stream is not judged', () => {
    const late = T0 + 5 * DAY;
    const young = sorted([...refreshTimes(late, end, () => 6, 6, 82), ...extra]).map((t) => mint(t));
    expect(run(young).filter(isBurst)).toEqual([]);
  });
});

describe('mint_rate_spike 15-minute window state', () => {
  const o: TrendOptions = { minDays: 3, threshold: 4, minExcess: 7, shiftHours: 24 };

  it('keeps a fixed-size state over a long run, and a mint older than the last counted minute counts in that minute', () => {
    const bs = newBurstState();
    const trend = newTrendState();
    let t = T0;
    for (let i = 0; i < 20_000; i++, t += 97_000) {
      addBucket(trend, Math.floor(t / (5 * MIN)) * 5 * MIN, 1, false, o);
      addBurstMint(bs, trend, t, 1, o);
    }
    expect(bs.minutes).toHaveLength(16);
    expect(bs.peaks).toHaveLength(192);
    const minute = bs.minute!;
    const inMinute = bs.minutes[minute % 16]!;
    addBurstMint(bs, trend, t - 10 * MIN, 1, o);
    expect(bs.minute).toBe(minute);
    expect(bs.minutes[minute % 16]).toBe(inMinute + 1);
    expect(JSON.parse(JSON.stringify(bs))).toEqual(bs);
  });
});
