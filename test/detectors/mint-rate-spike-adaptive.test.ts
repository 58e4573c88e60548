/**
 * mint_rate_spike's adaptive parts: the hourly trend (slow ramps, level shifts learned once
 * steady), deploy-awareness and mint-side context. The cases in detectors/mint-rate-spike/cases.ts
 * cover one example of each; these tests vary them and check the edges of the rules.
 */
import { describe, expect, it } from 'vitest';
import { feedDetector } from './feed-detector.js';
import { DAY, HOUR, MIN, T0, ev } from '../../detectors/case-helpers.js';
import { mintRateSpike } from '../../detectors/mint-rate-spike/index.js';
import { poissonTimes, refreshTimes, rolloutMints } from '../../detectors/mint-rate-spike/cases.js';
import { addBucket, judgeHour, newTrendState } from '../../detectors/mint-rate-spike/trend.js';
import { networkOf, clientOf } from '../../detectors/mint-rate-spike/context.js';
import type { AlertDraft } from '../../detectors/types.js';
import type { MintRateSpikeConfig } from '../../detectors/mint-rate-spike/config.js';
import type { TokenEvent } from '../../schemas/token-event.js';

const ISSUER = 'arn:aws:iam::111122223333:role/ingest';

interface Attrs {
  ip?: string;
  asn?: string;
  ua?: string;
  workload?: string;
}

let seq = 0;
function mint(t: number, a: Attrs = {}, issuer = ISSUER): TokenEvent {
  const network = a.ip || a.asn ? { ...(a.ip ? { ip: a.ip } : {}), ...(a.asn ? { asn: a.asn } : {}) } : undefined;
  return ev({
    time: t,
    token: `${issuer}#${seq++ % 8}`,
    action: 'mint',
    issuer,
    source: 'cloudtrail',
    platform: 'aws',
    operation: 'AssumeRole',
    ...(a.workload ? { workload: { kind: 'k8s_pod' as const, id: a.workload } } : {}),
    ...(network ? { network } : {}),
    ...(a.ua ? { user_agent: a.ua } : {}),
  });
}

const run = (events: readonly TokenEvent[], config: Partial<MintRateSpikeConfig> = {}): AlertDraft[] =>
  feedDetector(mintRateSpike.create(mintRateSpike.config.parse(config)), events, DAY);

const times = (ts: number[]): number[] => ts.sort((a, b) => a - b);
const firstAlert = (drafts: AlertDraft[]): number => Math.min(...drafts.map((d) => d.events[d.events.length - 1]!.time));

describe('mint_rate_spike trend maths', () => {
  it('judges an hour against the same hours on earlier days: ratio, z, the window that stands out', () => {
    const st = newTrendState();
    const o = { minDays: 3, threshold: 6, minExcess: 10, shiftHours: 24 };
    const h0 = Math.floor(T0 / HOUR);
    // 4 days of 10 mints per hour (one 5-minute bucket each), then an hour of 40.
    let judged;
    for (let h = h0; h < h0 + 4 * 24; h++) judged = addBucket(st, h * HOUR + 55 * MIN, 10, true, o);
    expect(judged!.anomalous).toBe(false);
    judged = addBucket(st, (h0 + 96) * HOUR + 55 * MIN, 40, true, o)!;
    expect(judged).toMatchObject({ anomalous: true, window_hours: 1, observed: 40, expected: 10, days: 4 });
    expect(judged.z).toBeCloseTo(30 / Math.sqrt(10), 6);
    expect(judged.ratio).toBe(4);
    // The same count judged again from the state agrees.
    expect(judgeHour(st, h0 + 96, o).z).toBeCloseTo(judged.z, 12);
  });

  it('counts hours with no mints as zero, and earlier-than-history hours as unknown', () => {
    const st = newTrendState();
    const o = { minDays: 1, threshold: 6, minExcess: 10, shiftHours: 0 };
    const h0 = Math.floor(T0 / HOUR);
    addBucket(st, h0 * HOUR, 5, false, o);
    // The next bucket is 30 hours later: hour h0 is judged (no earlier day known), the gap is zero.
    const j = addBucket(st, (h0 + 30) * HOUR, 50, false, o)!;
    expect(j.days).toBe(0);
    const k = addBucket(st, (h0 + 30) * HOUR + 55 * MIN, 0, true, o)!;
    expect(k).toMatchObject({ anomalous: true, observed: 50, expected: 0, days: 1 });
  });
});

describe('mint_rate_spike slow ramps', () => {
  /** 40 replicas refreshing for 4 days, then the rate × m from midnight of day 4 (the simulator's mint_slow_ramp). */
  const ramp = (multipliers: number[], seed: number): TokenEvent[] => {
    const start = T0 + 4 * DAY;
    const end = start + multipliers.length * DAY;
    const extra = multipliers.flatMap((m, d) => poissonTimes(start + d * DAY, start + (d + 1) * DAY, () => ((m - 1) * 40) / 55, ((m - 1) * 40) / 55, seed + d));
    return times([...refreshTimes(T0, end, () => 40, 40, seed), ...extra]).map((t) => mint(t));
  };

  for (const m of [2, 4, 8]) {
    it(`×${m} a day alerts within the day it begins`, () => {
      const drafts = run(ramp([m], 30 + m));
      expect(drafts.length).toBeGreaterThan(0);
      const delay = firstAlert(drafts) - (T0 + 4 * DAY);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(m === 2 ? 8 * HOUR : 2 * HOUR);
    });
  }

  it('×2, ×4, ×8 on consecutive days keeps alerting every day: a level still rising is never learned', () => {
    const drafts = run(ramp([2, 4, 8], 50));
    for (let d = 0; d < 3; d++) {
      const day = drafts.filter((x) => x.kind === 'ramp' && x.events[0]!.time >= T0 + (4 + d) * DAY && x.events[0]!.time < T0 + (5 + d) * DAY);
      expect(day.length, `day ${d}`).toBeGreaterThanOrEqual(12);
    }
  });

  it('the same steady ×2 day before the trend knows 3 earlier days is not judged by it', () => {
    const events = times([...refreshTimes(T0, T0 + 3 * DAY, () => 40, 40, 60), ...poissonTimes(T0 + 2 * DAY, T0 + 3 * DAY, () => 40 / 55, 1, 61)]).map((t) => mint(t));
    expect(run(events).filter((d) => d.kind === 'ramp')).toEqual([]);
  });
});

describe('mint_rate_spike level shifts', () => {
  // A week of history first, so hours are judged against the median of 7 earlier days.
  const shift = T0 + 8 * DAY + 9 * HOUR;
  const events = refreshTimes(T0, T0 + 13 * DAY, (t) => (t >= shift ? 120 : 40), 120, 70).map((t) => mint(t));

  it('a ×3 step alerts, is learned once it has held for a day, and is quiet afterwards', () => {
    const drafts = run(events);
    expect(drafts.length).toBeGreaterThan(0);
    expect(firstAlert(drafts)).toBeGreaterThanOrEqual(shift);
    const last = Math.max(...drafts.map((d) => d.events[d.events.length - 1]!.time));
    expect(last).toBeLessThan(shift + 24 * HOUR + 4 * HOUR);
    expect(drafts.some((d) => d.kind === 'ramp')).toBe(true);
  });

  it('with level_shift_hours 0 the new level is not learned: it alerts until it is the median of the earlier days', () => {
    const drafts = run(events, { level_shift_hours: 0 });
    expect(drafts.some((d) => d.events[0]!.time >= shift + 2 * DAY)).toBe(true);
  });
});

describe('mint_rate_spike peak-hour burst', () => {
  it('the old fixed ×5 floor over the same-hour expectation missed it; the default judges the learned variability', () => {
    const c = mintRateSpike.cases.positive.find((x) => x.name.startsWith('peak-hour burst'))!;
    const withFloor = run(c.events, { min_ratio: 5 }).filter((d) => d.kind === 'spike');
    expect(withFloor).toEqual([]);
    const drafts = run(c.events).filter((d) => d.kind === 'spike');
    expect(drafts.length).toBeGreaterThan(0);
    expect(Number(drafts[0]!.baseline.ratio)).toBeLessThan(5);
    expect(drafts[0]!.baseline.seasonal).toBe(true);
  });
});

describe('mint_rate_spike running 30-minute window (small issuers)', () => {
  // An OAuth client with 6 replicas refreshing about hourly (~6.5 mints an hour, no workload ids),
  // 7 days of history, then from day 7 14:00 extra mints at 2.5× its rate for an hour.
  const CLIENT = 'okta-client:0oa-notifications';
  const UA = 'notifications/5.3.0 undici/6.6.2';
  const burst = T0 + 7 * DAY + 14 * HOUR;
  const end = burst + 3 * HOUR;
  const base = refreshTimes(T0, end, () => 6, 6, 80);
  const okta = (ts: number[], ua = UA): TokenEvent[] => ts.map((t) => mint(t, { ua }, CLIENT));

  it('a ~3.5× hour alerts while it runs, not when its clock hour closes; the evidence names the window and baseline', () => {
    const extra = poissonTimes(burst, burst + HOUR, () => (2.5 * 6) / 55, (2.5 * 6) / 55, 81);
    const drafts = run(okta(times([...base, ...extra])));
    expect(drafts.filter((d) => d.events[0]!.time < burst)).toEqual([]);
    const running = drafts.filter((d) => d.kind === 'ramp' && d.baseline.window_hours === 0.5);
    expect(running.length).toBeGreaterThan(0);
    const first = running[0]!;
    const windowEnd = Date.parse(String(first.baseline.window_end));
    expect(windowEnd).toBeLessThan(burst + 45 * MIN);
    expect(Number(first.baseline.ratio)).toBeGreaterThanOrEqual(3);
    expect(Number(first.baseline.expected)).toBeGreaterThan(2);
    expect(Number(first.baseline.expected)).toBeLessThan(5);
    expect(first.summary).toContain('in the 30 minutes to');
    expect(first.baseline.earlier_days).toBe(7);
    expect(Number(first.baseline.ratio_without_densest_10_min)).toBeGreaterThanOrEqual(2);
    expect(first.baseline.release_startup_mints_left_out).toBe(0);
  });

  it('snapshot/restore through JSON mid-burst gives the same drafts; a checkpoint without the running state still resumes', () => {
    const extra = poissonTimes(burst, burst + HOUR, () => (2.5 * 6) / 55, (2.5 * 6) / 55, 81);
    const events = okta(times([...base, ...extra]));
    const cfg = mintRateSpike.config.parse({});
    const whole = run(events);
    const cut = events.findIndex((e) => e.time >= burst + 12 * MIN);
    const first = mintRateSpike.create(cfg);
    const drafts = feedDetector(first, events.slice(0, cut));
    const snap = JSON.parse(JSON.stringify(first.snapshot())) as { issuers: [string, { value: Record<string, unknown> }][] };
    const second = mintRateSpike.create(cfg);
    second.restore(snap as never);
    expect([...drafts, ...feedDetector(second, events.slice(cut), DAY)]).toEqual(whole);
    for (const [, e] of snap.issuers) {
      delete e.value.running;
      delete e.value.releases;
    }
    const older = mintRateSpike.create(cfg);
    older.restore(snap as never);
    expect(feedDetector(older, events.slice(cut), DAY).some((d) => d.kind === 'ramp')).toBe(true);
  });

  it('every replica minting within minutes (a restart, a key rollover, a fleet refreshing in lockstep) is quiet', () => {
    // Each replica also mints once in 14:00–14:02: a whole hour's mints in two minutes, nothing more after.
    const restart = Array.from({ length: 6 }, (_, i) => burst + i * 20_000);
    expect(run(okta(times([...base, ...restart]))).filter((d) => d.kind === 'ramp')).toEqual([]);
  });

  it("a new release's start-up mints (a user agent new to the issuer) do not count in the running window", () => {
    // Three rollouts a few minutes apart (a canary, then the rest): 18 start-up mints in 15 minutes by new versions.
    const rollout = [0, 6, 12].flatMap((m, k) => Array.from({ length: 6 }, (_, i) => ({ t: burst + m * MIN + i * 15_000, ua: `notifications/5.${4 + k}.0 undici/6.6.2` })));
    const events = [...okta(base), ...rollout.map((r) => mint(r.t, { ua: r.ua }, CLIENT))].sort((a, b) => a.time - b.time);
    expect(run(events).filter((d) => d.kind === 'ramp' && d.baseline.window_hours === 0.5)).toEqual([]);
    // The same 18 mints by the running version count: the window alerts.
    const same = [...okta(base), ...rollout.map((r) => mint(r.t, { ua: UA }, CLIENT))].sort((a, b) => a.time - b.time);
    expect(run(same).filter((d) => d.kind === 'ramp' && d.baseline.window_hours === 0.5).length).toBeGreaterThan(0);
  });
});

describe('mint_rate_spike deploy-awareness', () => {
  const rollout = T0 + 3 * DAY + 10 * HOUR;
  const pods = rolloutMints(T0, T0 + 4 * DAY, rollout, 3, 26);
  const stampede = pods.map((p) => mint(p.t, { workload: p.pod }, 'role/web'));

  it('a deploy stampede of first-seen workloads is quiet; without the allowance it alerts', () => {
    expect(run(stampede)).toEqual([]);
    const drafts = run(stampede, { deploy_allowance: 0 });
    expect(drafts.some((d) => d.kind === 'spike')).toBe(true);
  });

  it('the same workloads minting more is not a deploy: it alerts, and the evidence says what counted', () => {
    // No rollout: at day 3 10:00 every running pod mints 5 extra tokens within 15 minutes.
    const steady = rolloutMints(T0, T0 + 4 * DAY, T0 + 9 * DAY, 3, 27).filter((p) => p.t < T0 + 4 * DAY);
    const extra = Array.from({ length: 60 }, (_, i) => Array.from({ length: 5 }, (_, k) => ({ t: rollout + Math.floor((i / 60) * 15 * MIN) + k * 1000, pod: `web-v1-${i}` }))).flat();
    const events = [...steady, ...extra].sort((a, b) => a.t - b.t).map((p) => mint(p.t, { workload: p.pod }, 'role/web'));
    const drafts = run(events).filter((d) => d.kind === 'spike');
    expect(drafts.length).toBeGreaterThan(0);
    expect(drafts[0]!.baseline.new_workload_mints).toBe(0);
    expect(drafts[0]!.baseline.counted).toBe(drafts[0]!.baseline.count);
  });
});

describe('mint_rate_spike mint context', () => {
  const AWS = { asn: 'AS16509', ua: 'aws-sdk-go-v2/1.24.0 os/linux' };
  /** Two days of one mint every 10 minutes from 52.94.133.0/24 with the Go SDK, then `probe` mints. */
  const scenario = (probe: Attrs[], base: Attrs = AWS, at = T0 + 2 * DAY): TokenEvent[] => {
    const events: TokenEvent[] = [];
    for (let t = T0; t < at; t += 10 * MIN) events.push(mint(t, { ...base, ip: `52.94.133.${(t / MIN) % 250}` }));
    probe.forEach((a, i) => events.push(mint(at + i * MIN, a)));
    return events;
  };
  const contexts = (events: TokenEvent[], config: Partial<MintRateSpikeConfig> = {}) => run(events, config).filter((d) => d.kind === 'new_context');

  it('a new ASN alerts once (then it is known), with the edge burst score and what was known', () => {
    const drafts = contexts(scenario([{ ip: '159.203.114.7', asn: 'AS14061', ua: AWS.ua }, { ip: '159.203.114.8', asn: 'AS14061', ua: AWS.ua }]));
    expect(drafts).toHaveLength(1);
    const d = drafts[0]!;
    expect(d.baseline).toMatchObject({ new_asn: true, new_network: true, new_client: false, asn: 'AS14061', network: '159.203.114.0/24', known_asns: 1, known_clients: 1 });
    expect(d.score).toBeGreaterThan(0.6);
    expect(d.score).toBeLessThanOrEqual(1);
    expect(Number(d.baseline.edge_burst_score)).toBeGreaterThan(0.5);
    expect(d.dedup_key).toContain(ISSUER);
  });

  it('a new /24 in a known ASN, or a new client alone, is quiet (NAT pools, CGNAT, an SDK switch)', () => {
    expect(contexts(scenario([{ ip: '54.166.23.9', asn: 'AS16509', ua: AWS.ua }]))).toEqual([]);
    expect(contexts(scenario([{ ip: '52.94.133.7', asn: 'AS16509', ua: 'aws-cli/2.15.0 Python/3.11' }]))).toEqual([]);
    expect(contexts(scenario([{ ip: '2600:1f18:abc:1::5', asn: 'AS16509', ua: AWS.ua }]))).toEqual([]);
  });

  it('a new network together with a new client alerts, also without ASN data (/24 fallback)', () => {
    expect(contexts(scenario([{ ip: '54.166.23.9', asn: 'AS16509', ua: 'python-requests/2.31.0' }]))).toHaveLength(1);
    const noAsn = { ua: AWS.ua };
    expect(contexts(scenario([{ ip: '159.203.114.7', ua: AWS.ua }], noAsn))).toEqual([]);
    expect(contexts(scenario([{ ip: '159.203.114.7', ua: 'python-requests/2.31.0' }], noAsn))).toHaveLength(1);
  });

  it('is quiet before the issuer is established, and when enrichment starts mid-stream', () => {
    expect(contexts(scenario([{ ip: '159.203.114.7', asn: 'AS14061', ua: 'python-requests/2.31.0' }], AWS, T0 + 20 * HOUR))).toEqual([]);
    // No ASN on any earlier mint: the first ASN seen is not novelty.
    expect(contexts(scenario([{ ip: '52.94.133.9', asn: 'AS16509', ua: AWS.ua }], { ua: AWS.ua }))).toEqual([]);
  });

  it('network and client keys: /24, /48, labels; UA family without version', () => {
    expect(networkOf('203.0.113.77')).toBe('203.0.113.0/24');
    expect(networkOf('2001:DB8:1:2::5')).toBe('2001:db8:1::/48');
    expect(networkOf('2001:db8::1')).toBe('2001:db8::/48');
    expect(networkOf('AWS Internal')).toBe('aws internal');
    expect(clientOf('aws-sdk-go-v2/1.24.0 os/linux')).toBe('aws-sdk-go-v2');
    expect(clientOf('Boto3/1.34.0 md/Botocore#1.34.0')).toBe('boto3');
  });
});

describe('mint_rate_spike state with the adaptive parts', () => {
  it('snapshot/restore through JSON mid-ramp gives the same drafts as an uninterrupted run', () => {
    const c = mintRateSpike.cases.positive.find((x) => x.name.startsWith('slow ramp'))!;
    const cfg = mintRateSpike.config.parse({});
    const whole = run(c.events);
    const cut = c.events.findIndex((e) => e.time >= T0 + 4 * DAY + 5 * HOUR + 17 * MIN);
    const first = mintRateSpike.create(cfg);
    const drafts = feedDetector(first, c.events.slice(0, cut));
    const second = mintRateSpike.create(cfg);
    second.restore(JSON.parse(JSON.stringify(first.snapshot())));
    drafts.push(...feedDetector(second, c.events.slice(cut), DAY));
    expect(drafts).toEqual(whole);
    expect(whole.length).toBeGreaterThan(10);
  });

  it('restores a v1 checkpoint (bucket baselines only): the spike baselines carry over', () => {
    const c = mintRateSpike.cases.positive[0]!;
    const cfg = mintRateSpike.config.parse({});
    const cut = c.events.findIndex((e) => e.time >= T0 + DAY + 11 * HOUR);
    const first = mintRateSpike.create(cfg);
    feedDetector(first, c.events.slice(0, cut));
    const v2 = first.snapshot() as unknown as { closed_through: number | null; pending_late: boolean; late_events: number; issuers: [string, { touched: number; value: Record<string, unknown> }][] };
    const v1 = {
      v: 1,
      closed_through: v2.closed_through,
      pending_late: v2.pending_late,
      late_events: v2.late_events,
      issuers: v2.issuers.map(([k, e]) => {
        const open = e.value.open as { start: number; count: number; sample: unknown[] } | null;
        return [k, { touched: e.touched, value: { open: open && { start: open.start, count: open.count, sample: open.sample }, next: e.value.next, streak: e.value.streak, scorer: e.value.scorer } }];
      }),
    };
    const second = mintRateSpike.create(cfg);
    second.restore(JSON.parse(JSON.stringify(v1)));
    expect(second.size()).toBe(first.size());
    const drafts = feedDetector(second, c.events.slice(cut), DAY);
    expect(drafts.filter((d) => d.kind === 'spike')).toHaveLength(10);
    expect(() => second.restore({ v: 3 } as never)).toThrow(TypeError);
  });

  it('bounds remembered workloads and contexts per issuer', () => {
    const det = mintRateSpike.create(mintRateSpike.config.parse({ max_workloads_per_issuer: 10, max_contexts_per_issuer: 8 }));
    const events = Array.from({ length: 500 }, (_, i) => mint(T0 + i * MIN, { workload: `pod-${i}`, ip: `10.${i % 250}.${i}.1`, ua: `client${i}/1.0` }));
    feedDetector(det, events);
    const snap = det.snapshot() as unknown as { issuers: [string, { value: { workloads: unknown[]; contexts: unknown[] } }][] };
    expect(snap.issuers[0]![1].value.workloads).toHaveLength(10);
    expect(snap.issuers[0]![1].value.contexts).toHaveLength(8);
  });
});
