import { describe, expect, it } from 'vitest';
import { credentialContext } from '../../detectors/credential-context/index.js';
import { contextOf } from '../../detectors/credential-context/context.js';
import { ev, fp, HOUR, MIN, T0 } from '../../detectors/case-helpers.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { feedDetector } from './feed-detector.js';

const ROLE = 'arn:aws:iam::111122223333:role/etl';
const BOTO3 = 'Boto3/1.34.10 md/Botocore#1.34.10';
const aws = (ip: string) => ({ ip, asn: 'AS16509', cloud_provider: 'aws', cloud_region: 'us-east-1' }) as TokenEvent['network'];
let n = 0;
const use = (time: number, token: string, network: TokenEvent['network'], ua = BOTO3, issuer = ROLE): TokenEvent =>
  ev({ event_id: `t:${++n}`, time, token: { fp: fp(token), kind: 'sts_session' }, source: 'cloudtrail', platform: 'aws', action: 'use', issuer, network, user_agent: ua });

/** Two instances, a session per instance-hour, a call every 10 min from one NAT /24, for `hours`. */
function background(hours: number): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (let h = 0; h < hours; h++) for (let i = 0; i < 2; i++) for (let k = 0; k < 6; k++) out.push(use(T0 + h * HOUR + k * 10 * MIN + i * 1000, `s-${i}-${h}`, aws(`52.1.2.${10 + i}`)));
  return out;
}
const byTime = (e: TokenEvent[]) => e.sort((a, b) => a.time - b.time);
const run = (events: TokenEvent[], config = {}) => feedDetector(credentialContext.create(credentialContext.config.parse(config)), events);

describe('credential_context', () => {
  it('reads network (/24, private /16, /48), ASN, cloud and UA family from an event', () => {
    expect(contextOf(use(T0, 'x', { ip: '10.20.30.40' }))).toMatchObject({ network: 'private:10.20.0.0/16', private: true, ua: 'boto3' });
    expect(contextOf(use(T0, 'x', aws('52.1.2.99')))).toMatchObject({ network: '52.1.2.0/24', asn: 'AS16509', cloud: 'aws:us-east-1', private: false });
    expect(contextOf(use(T0, 'x', { ip: '2607:fb90:1:2::5' }))?.network).toBe('2607:fb90:0001::/48');
  });

  it('explains a same-region, same-SDK theft: only the network is new, both contexts stay active', () => {
    const victim = 's-0-30';
    const thief = [5, 15].map((m) => use(T0 + 30 * HOUR + m * MIN + 30_000, victim, aws('3.80.10.5')));
    const alerts = run(byTime([...background(32), ...thief]));
    expect(alerts).toHaveLength(1);
    const a = alerts[0]!;
    expect(a).toMatchObject({ kind: 'new_context', token_fp: fp(victim), severity: 'critical', issuer: ROLE });
    expect(a.baseline).toMatchObject({ new_dimensions: ['network'], both_contexts_active: true });
    expect(a.baseline.surprise as number).toBeGreaterThanOrEqual(3);
    expect(a.baseline.issuer_profile).toMatchObject({ network: { known: 1, top: ['52.1.2.0/24'] } });
    // the evidence holds the thief's first use and ends with the legit use that proved concurrency
    expect(a.events.some((e) => e.network?.ip === '3.80.10.5')).toBe(true);
    expect(a.events[a.events.length - 1]!.network?.ip).toBe('52.1.2.10');
  });

  it('stays quiet when the only new dimension is moderate and the earlier context falls silent (a move)', () => {
    const moved = [5, 15, 25].map((m) => use(T0 + 30 * HOUR + m * MIN, 's-0-30', aws('3.80.10.5')));
    const events = byTime([...background(30), ...use0(30), ...moved]);
    expect(run(events)).toEqual([]);
    function use0(h: number) {
      return [use(T0 + h * HOUR + 1 * MIN, 's-0-30', aws('52.1.2.10'))];
    }
  });

  it('does not judge during the learning period', () => {
    const thief = [5, 15].map((m) => use(T0 + 2 * HOUR + m * MIN + 30_000, 's-0-2', { ip: '81.2.69.160', asn: 'AS20712' }, 'curl/8.5.0'));
    expect(run(byTime([...background(4), ...thief]))).toEqual([]);
    expect(run(byTime([...background(4), ...thief]), { learning_hours: 1, min_observations: 2 })).toHaveLength(1);
  });

  it('ignores a brief interleave (requests in flight during a move) shorter than the concurrency gap', () => {
    const t = T0 + 30 * HOUR + 20 * MIN;
    const events = byTime([...background(30), use(t, 's-0-29', aws('52.1.2.10')), use(t + 10_000, 's-0-29', aws('3.80.10.5')), use(t + 40_000, 's-0-29', aws('52.1.2.10'))]);
    expect(run(events)).toEqual([]);
    expect(run(events, { concurrency_min_gap_seconds: 10 })).toHaveLength(1);
  });

  it("judges a first use against the context the session was requested from (the thief used it before its owner did)", () => {
    const key = 's-chained';
    const mint = ev({ event_id: 't:mint', time: T0 + 30 * HOUR, token: { fp: fp(key), kind: 'sts_session' }, source: 'cloudtrail', platform: 'aws', action: 'mint', issuer: ROLE, network: aws('52.1.2.10'), user_agent: BOTO3 });
    const thief = [6, 10, 15].map((m) => use(T0 + 30 * HOUR + m * MIN, key, aws('54.166.23.141')));
    const owner = [use(T0 + 30 * HOUR + 19 * MIN, key, { ip: '10.40.35.211' }), use(T0 + 30 * HOUR + 39 * MIN, key, aws('52.1.2.10'))];
    const alerts = run(byTime([...background(32), mint, ...thief, ...owner]));
    expect(alerts.map((a) => [a.kind, a.token_fp])).toEqual([['new_context', fp(key)]]);
    expect(alerts[0]!.baseline).toMatchObject({ both_contexts_active: true, previous_context: { network: '52.1.2.0/24' } });
    // without the mint there is nothing of the owner's to compare the first use with
    expect(run(byTime([...background(32), ...thief, ...owner]))).toEqual([]);
  });

  it('stays quiet when one instance moves from one NAT to another while its VPC-endpoint traffic carries on', () => {
    const t = T0 + 30 * HOUR;
    const key = 's-0-30';
    const events = byTime([
      ...background(30),
      use(t + 1 * MIN, key, aws('52.1.2.10')),
      use(t + 2 * MIN, key, { ip: '10.0.3.4' }),
      // the NAT gateway is replaced: public calls now leave through 3.80.10.5, private ones carry on
      ...[10, 20, 30, 40].map((m) => use(t + m * MIN, key, aws('3.80.10.5'))),
      ...[12, 22, 32, 42].map((m) => use(t + m * MIN, key, { ip: '10.0.3.4' })),
    ]);
    expect(run(events)).toEqual([]);
  });

  it('gives the same alerts after a snapshot/restore in the middle of the stream', () => {
    const thief = [5, 15].map((m) => use(T0 + 30 * HOUR + m * MIN + 30_000, 's-1-30', aws('3.80.10.5')));
    const events = byTime([...background(32), ...thief]);
    const whole = run(events);
    const cut = events.findIndex((e) => e.network?.ip === '3.80.10.5');
    const first = credentialContext.create(credentialContext.config.parse({}));
    feedDetector(first, events.slice(0, cut + 1));
    const second = credentialContext.create(credentialContext.config.parse({}));
    second.restore(JSON.parse(JSON.stringify(first.snapshot())));
    expect(feedDetector(second, events.slice(cut + 1))).toEqual(whole);
    expect(whole).toHaveLength(1);
  });

  it('holds bounded state: tokens beyond max_tokens are evicted', () => {
    const det = credentialContext.create(credentialContext.config.parse({ max_tokens: 10 }));
    feedDetector(det, background(10));
    expect(det.size()).toBeLessThanOrEqual(10 + 1) // tokens + the one issuer profile;
  });
});
