import { describe, expect, it } from 'vitest';
import { feedDetector } from './feed-detector.js';
import { DAY, HOUR, MIN, T0, ev } from '../../detectors/case-helpers.js';
import { mintRateSpike } from '../../detectors/mint-rate-spike/index.js';
import { loopTimes, poissonTimes, refreshTimes } from '../../detectors/mint-rate-spike/cases.js';
import type { AlertDraft, DetectorCase, DetectorInstance } from '../../detectors/types.js';
import type { MintRateSpikeConfig } from '../../detectors/mint-rate-spike/config.js';
import type { MintRateSpikeState } from '../../detectors/mint-rate-spike/detector.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { TokenEvent as TokenEventSchema } from '../../schemas/token-event.js';

const run = (det: DetectorInstance, events: readonly TokenEvent[]): AlertDraft[] => feedDetector(det, events, DAY);

const runCase = (c: DetectorCase<MintRateSpikeConfig>): AlertDraft[] =>
  run(mintRateSpike.create(mintRateSpike.config.parse({ ...c.config })), c.events);

const keyOf = (a: { kind: string; issuer?: string }): string => `${a.kind}|${a.issuer ?? ''}`;
function multiset(xs: readonly { kind: string; issuer?: string }[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(keyOf(x), (m.get(keyOf(x)) ?? 0) + 1);
  return m;
}

const mint = (issuer: string, time: number, n = 0): TokenEvent =>
  ev({ time, token: `${issuer}#${n % 4}`, action: 'mint', issuer, source: 'cloudtrail', platform: 'aws', operation: 'AssumeRole' });

describe('mint_rate_spike meta and config', () => {
  it('has defaults, documents every option and rejects a bucket size that does not divide a day', () => {
    const c = mintRateSpike.config.parse({});
    expect(c).toMatchObject({
      bucket_minutes: 5, learning_buckets: 72, min_count: 10, min_ratio: 2, threshold: 6, sustain_buckets: 3,
      level_shift_hours: 24, trend_threshold: 4, trend_min_days: 3, deploy_allowance: 3, context_min_hours: 24, context_min_mints: 50,
    });
    const shape = (mintRateSpike.config as unknown as { shape: Record<string, { description?: string }> }).shape;
    for (const [k, s] of Object.entries(shape)) expect(s.description, k).toBeTruthy();
    expect(() => mintRateSpike.config.parse({ bucket_minutes: 7 })).toThrow();
    expect(mintRateSpike.meta.id).toBe('mint_rate_spike');
    expect(mintRateSpike.meta.key_by).toBe('issuer');
    expect(mintRateSpike.meta.kinds.spike).toEqual({ title: 'Token minting rate spike', severity: 'high' });
    expect(Object.keys(mintRateSpike.meta.kinds)).toEqual(['spike', 'ramp', 'new_context']);
    expect(mintRateSpike.meta.mitre_attack).toEqual(['T1528', 'T1550.001', 'T1078.004']);
  });
});

describe('mint_rate_spike cases', () => {
  for (const c of mintRateSpike.cases.positive) {
    it(`positive: ${c.name}`, () => {
      const drafts = runCase(c);
      const got = multiset(drafts);
      const want = multiset(c.expect);
      for (const [k, n] of want) expect(got.get(k) ?? 0, k).toBeGreaterThanOrEqual(n);
      for (const k of got.keys()) expect(want.has(k), `unexpected ${k}`).toBe(true);
      expect(drafts.length).toBe(c.expect.length);
    });
  }
  for (const c of mintRateSpike.cases.negative) {
    it(`negative: ${c.name}`, () => {
      const drafts = runCase(c);
      expect(drafts.map((d) => `${keyOf(d)} ${String(d.baseline.bucket_start)} ${d.summary}`)).toEqual([]);
    });
  }

  it('case events are valid TokenEvents in event-time order', () => {
    for (const c of [...mintRateSpike.cases.positive, ...mintRateSpike.cases.negative]) {
      let prev = 0;
      for (const e of c.events.slice(0, 50)) TokenEventSchema.parse(e);
      for (const e of c.events) {
        expect(e.time).toBeGreaterThanOrEqual(prev);
        prev = e.time;
      }
    }
  });
});

describe('mint_rate_spike drafts', () => {
  it('explains itself: evidence from the bucket, baseline, score, dedup by issuer', () => {
    const drafts = runCase(mintRateSpike.cases.positive[0]!);
    const d = drafts[0]!;
    const issuer = 'arn:aws:iam::111122223333:role/payments-worker';
    expect(d.kind).toBe('spike');
    expect(d.issuer).toBe(issuer);
    expect(d.dedup_key).toBe(issuer);
    expect(d.title).toBe('Token minting rate spike');
    expect(d.score).toBeGreaterThan(0.9);
    expect(d.score).toBeLessThanOrEqual(1);
    expect(d.events.length).toBe(20);
    const start = Date.parse(String(d.baseline.bucket_start));
    for (const e of d.events) {
      expect(e.issuer).toBe(issuer);
      expect(e.action).toBe('mint');
      expect(e.time).toBeGreaterThanOrEqual(start);
      expect(e.time).toBeLessThan(start + 5 * MIN);
    }
    // The attack starts at day 1 12:00; the third consecutive bucket is the first to alert.
    expect(d.baseline.bucket_start).toBe(new Date(T0 + DAY + 12 * HOUR + 10 * MIN).toISOString());
    expect(d.baseline.anomalous_since).toBe(new Date(T0 + DAY + 12 * HOUR).toISOString());
    expect(d.baseline).toMatchObject({ seasonal: false, threshold: 6, consecutive_buckets: 3 });
    expect(Number(d.baseline.count)).toBeGreaterThanOrEqual(80);
    expect(Number(d.baseline.expected)).toBeGreaterThan(1);
    expect(Number(d.baseline.expected)).toBeLessThan(5);
    expect(Number(d.baseline.buckets_of_history)).toBeGreaterThanOrEqual(288);
    expect(Number(d.baseline.mad)).toBeGreaterThanOrEqual(0);
    expect(typeof d.baseline.median).toBe('number');
    expect(JSON.stringify(d)).not.toMatch(/ASIA[A-Z0-9]{12}/);
  });

  it('uses the seasonal baseline once the same hour is known on 3 earlier days', () => {
    const drafts = runCase(mintRateSpike.cases.positive[2]!).filter((d) => d.kind === 'spike');
    expect(drafts.length).toBe(10);
    for (const d of drafts) expect(d.baseline.seasonal).toBe(true);
    // The same loop against the recent (non-seasonal) baseline stays under min_ratio: seasonality is what finds it.
    const c = mintRateSpike.cases.positive[2]!;
    const noSeason = run(mintRateSpike.create(mintRateSpike.config.parse({ seasonality_min_days: 7, min_ratio: 5 })), c.events);
    expect(noSeason.filter((d) => d.kind === 'spike')).toEqual([]);
  });

  it('sustain_buckets 1 alerts on every anomalous bucket of the loop', () => {
    const c = mintRateSpike.cases.positive[0]!;
    const drafts = run(mintRateSpike.create(mintRateSpike.config.parse({ sustain_buckets: 1 })), c.events);
    expect(drafts.length).toBe(12);
  });

  it('judges a bucket only when the watermark passes its end', () => {
    const det = mintRateSpike.create(mintRateSpike.config.parse({ learning_buckets: 12, sustain_buckets: 1 }));
    const issuer = 'role/w';
    const t1 = T0 + 2 * HOUR;
    let n = 0;
    for (let b = T0; b < t1; b += 5 * MIN) {
      for (let k = 0; k < 3; k++) det.process(mint(issuer, b + k * MIN, n++));
      det.advance(b + 5 * MIN);
    }
    for (let k = 0; k < 100; k++) expect(det.process(mint(issuer, t1 + k * 2000, n++))).toEqual([]);
    expect(det.advance(t1 + 5 * MIN - 1)).toEqual([]);
    const drafts = det.advance(t1 + 5 * MIN);
    expect(drafts.map((d) => d.issuer)).toEqual([issuer]);
    expect(drafts[0]!.baseline.count).toBe(100);
    expect(det.advance(t1 + 10 * MIN)).toEqual([]);
  });

  it('counts empty buckets as zero and bounds the work across a long gap', () => {
    const det = mintRateSpike.create(mintRateSpike.config.parse({ learning_buckets: 12, sustain_buckets: 1 }));
    const issuer = 'role/gappy';
    let n = 0;
    for (let b = T0; b < T0 + HOUR; b += 5 * MIN) det.process(mint(issuer, b, n++));
    det.advance(T0 + HOUR);
    // 30 days later: one bucket of 12 mints. 30 days of empty buckets = 8640; only a window is replayed.
    const later = T0 + 30 * DAY;
    for (let k = 0; k < 12; k++) det.process(mint(issuer, later + k * 1000, n++));
    const drafts = det.advance(later + 5 * MIN);
    expect(drafts).toHaveLength(1);
    expect(drafts[0]!.baseline.buckets_of_history).toBe(12 + 30 * 288 - 12);
    expect(drafts[0]!.baseline.median).toBe(0);
  });

  it('ignores non-mint events, mints without issuer, and late mints for judged buckets', () => {
    const det = mintRateSpike.create(mintRateSpike.config.parse({}));
    expect(det.process(ev({ time: T0, token: 'x', action: 'use', issuer: 'role/a' }))).toEqual([]);
    expect(det.process(ev({ time: T0, token: 'x', action: 'mint' }))).toEqual([]);
    expect(det.size()).toBe(0);
    det.process(mint('role/a', T0 + 10 * MIN));
    det.advance(T0 + 15 * MIN);
    det.process(mint('role/a', T0 + 11 * MIN));
    expect((det as unknown as { lateEvents: number }).lateEvents).toBe(1);
    expect(det.size()).toBe(1);
  });
});

describe('mint_rate_spike state', () => {
  it('snapshot/restore mid-stream (through JSON) gives the same output as an uninterrupted run', () => {
    const c = mintRateSpike.cases.positive[0]!;
    const cfg = mintRateSpike.config.parse({});
    const events = c.events;
    const whole = run(mintRateSpike.create(cfg), events);
    // Cut inside the attack hour, after some buckets were already judged anomalous.
    const cut = events.findIndex((e) => e.time >= T0 + DAY + 12 * HOUR + 7 * MIN);
    const first = mintRateSpike.create(cfg);
    const drafts: AlertDraft[] = [];
    for (const e of events.slice(0, cut)) {
      drafts.push(...first.process(e), ...first.advance(e.time));
    }
    const snap = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
    const second = mintRateSpike.create(cfg);
    second.restore(snap);
    expect(second.size()).toBe(first.size());
    drafts.push(...run(second, events.slice(cut)));
    expect(drafts).toEqual(whole);
    expect(drafts.length).toBe(10);
  });

  it('evicts the least recently active issuer beyond max_issuers, and idle issuers after the TTL', () => {
    const det = mintRateSpike.create(mintRateSpike.config.parse({ max_issuers: 3, issuer_idle_ttl_hours: 1 }));
    for (let i = 0; i < 5; i++) {
      det.process(mint(`role/${i}`, T0 + i * MIN));
      det.advance(T0 + i * MIN);
      expect(det.size()).toBeLessThanOrEqual(3);
    }
    expect(det.size()).toBe(3);
    const snap = det.snapshot() as { issuers: [string, unknown][] };
    expect(snap.issuers.map(([k]) => k)).toEqual(['role/2', 'role/3', 'role/4']);
    det.advance(T0 + 2 * HOUR);
    expect(det.size()).toBe(0);
  });

  it('keeps per-issuer state bounded over a long run', () => {
    const det = mintRateSpike.create(mintRateSpike.config.parse({}));
    const times = refreshTimes(T0, T0 + 10 * DAY, () => 12, 12, 42);
    times.push(...loopTimes(T0 + 9 * DAY, T0 + 9 * DAY + HOUR, 30));
    times.sort((a, b) => a - b);
    let n = 0;
    for (const t of times) {
      det.process(mint('role/long', t, n++));
      det.advance(t);
    }
    const snap = det.snapshot() as unknown as MintRateSpikeState;
    const st = snap.issuers[0]![1].value;
    expect(st.scorer.values.length).toBe(288);
    expect(st.scorer.slots).toHaveLength(24);
    for (const s of st.scorer.slots!) expect(s!.means.length).toBeLessThanOrEqual(7);
    expect(st.trend.counts).toHaveLength(192);
    expect(JSON.stringify(snap.issuers).length).toBeLessThan(20_000);
    // The edge sketches are one fixed block for all issuers: 6 sketches × 2 rows × 512 buckets.
    expect(Buffer.from(snap.edges.cells, 'base64').byteLength).toBe(6 * 2 * 512 * 8);
  });

  it('generators are deterministic', () => {
    expect(poissonTimes(T0, T0 + HOUR, () => 1, 1, 7)).toEqual(poissonTimes(T0, T0 + HOUR, () => 1, 1, 7));
  });
});

describe('mint_rate_spike weekly seasonality', () => {
  // A batch issuer that mints 12 tokens per 5 minutes on weekdays and 1 on weekends. On the
  // fourth Saturday it mints at its weekday rate: normal for the same hour on earlier days
  // (mostly weekdays), 12× normal for the same hour of the week.
  const issuer = 'batch-etl';
  const events: TokenEvent[] = [];
  const saturday4 = T0 + 26 * DAY; // T0 is a Monday
  for (let t = T0; t < saturday4 + 2 * HOUR; t += 5 * MIN) {
    const dow = Math.floor((t - T0) / DAY) % 7; // 0 = Monday
    const weekend = dow >= 5;
    const attack = t >= saturday4;
    const n = attack || !weekend ? 12 : 1;
    for (let i = 0; i < n; i++) events.push(mint(issuer, t + i * 20_000, events.length));
  }
  const runWith = (seasonality: 'hour_of_day' | 'hour_of_week') =>
    run(mintRateSpike.create(mintRateSpike.config.parse({ seasonality, seasonality_min_days: 2 })), events);

  it('hour_of_week flags a weekend run at weekday volume', () => {
    const drafts = runWith('hour_of_week');
    expect(drafts.length).toBeGreaterThan(0);
    for (const d of drafts) expect(d.events[0]!.time).toBeGreaterThanOrEqual(saturday4);
    expect(drafts[0]!.baseline.seasonal).toBe(true);
  });

  it('hour_of_day, the default, judges it against the mostly-weekday same hour and stays quiet', () => {
    expect(runWith('hour_of_day')).toEqual([]);
  });
});
