import { describe, expect, it } from 'vitest';
import { feedDetector } from './feed-detector.js';
import { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { buildAlert } from '../../src/pipeline/alert-builder.js';
import { ev, fp, HOUR, MIN, T0 } from '../../detectors/case-helpers.js';
import type { AlertDraft, DetectorCase, DetectorInstance } from '../../detectors/types.js';
import { tokenReplay } from '../../detectors/token-replay/index.js';
import type { TokenReplayConfig } from '../../detectors/token-replay/config.js';
import { uaFamily } from '../../detectors/token-replay/detector.js';
import { createNetworkResolver, normalizeIp, parseCidr } from '../../detectors/network.js';

const make = (overrides: Partial<TokenReplayConfig> = {}): DetectorInstance => tokenReplay.create(tokenReplay.config.parse(overrides));

const feed = (det: DetectorInstance, events: readonly TokenEvent[]): AlertDraft[] => feedDetector(det, events);

const runCase = (c: DetectorCase<TokenReplayConfig>): AlertDraft[] => feed(make(c.config), c.events);

const multiset = (xs: readonly { kind: string; token_fp?: string }[]): string[] => xs.map((x) => `${x.kind}|${x.token_fp ?? ''}`).sort();

const allCases = [...tokenReplay.cases.positive, ...tokenReplay.cases.negative];
const byName = (name: string): DetectorCase<TokenReplayConfig> => {
  const c = allCases.find((x) => x.name === name);
  if (!c) throw new Error(`no case "${name}"`);
  return c;
};

describe('token_replay cases', () => {
  it.each(allCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const drafts = runCase(c);
    expect(multiset(drafts)).toEqual(multiset(c.expect));
    for (const d of drafts) {
      // Every draft must become a valid Alert through the runtime's builder.
      const alert = Alert.parse(buildAlert(tokenReplay.meta, d));
      expect(alert.dedup_key).toBe(`token_replay:${d.kind}:${d.token_fp}`);
      expect(d.score).toBeGreaterThanOrEqual(0);
      expect(d.score).toBeLessThanOrEqual(1);
      expect(d.events.length).toBeGreaterThan(0);
      const times = d.events.map((e) => e.time);
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(d.baseline).toMatchObject({ window_minutes: expect.any(Number), contexts_seen: expect.any(Number) });
      expect(d.baseline).toHaveProperty('home_context');
      expect(d.baseline).toHaveProperty('revoked_at');
      expect(d.baseline).toHaveProperty('expires_at');
    }
  });

  it('has a positive case for every kind and negatives that expect nothing', () => {
    const kinds = new Set(tokenReplay.cases.positive.flatMap((c) => c.expect.map((x) => x.kind)));
    expect([...kinds].sort()).toEqual(Object.keys(tokenReplay.meta.kinds).sort());
    for (const c of tokenReplay.cases.positive) expect(c.expect.length).toBeGreaterThan(0);
    for (const c of tokenReplay.cases.negative) expect(c.expect).toEqual([]);
  });

  it('grades severity and explains a use after revocation', () => {
    const revoked = runCase(byName('Okta access token revoked, then still accepted at the gateway'));
    expect(revoked.map((x) => x.severity)).toEqual(['critical']);
    expect(revoked[0]?.baseline.revoked_at).toBe(new Date(T0 + 10 * MIN).toISOString());
    expect(revoked[0]?.events.map((e) => e.action)).toEqual(['mint', 'use', 'revoke', 'use']);

    const refused = runCase(byName('revoked token presented from elsewhere is flagged even when refused'));
    expect(refused.find((x) => x.kind === 'use_after_revocation')?.severity).toBe('high');
  });

  it('learns a gateway fleet’s clock skew from uses logged before their mint and states the tolerance it judged with', () => {
    const [late] = runCase(byName('use 10 minutes after revocation at a gateway fleet whose clocks run 4 min off (learned) still alerts'));
    // 4 min behind (5 s after the mint) → 235 s learned + 30 s margin
    expect(late?.baseline).toMatchObject({ minutes_after_revocation: 10, clock_skew_tolerance_seconds: 265 });
    const plain = runCase(byName('Okta access token revoked, then still accepted at the gateway'));
    expect(plain[0]?.baseline.clock_skew_tolerance_seconds).toBe(150);
    // a per-source setting overrides the default (and is still widened by what is learned)
    const strict = feed(make({ clock_skew_seconds_by_source: { kong: 30 } }), byName('gateway node 90 s ahead: a request drained at pod shutdown is logged 90 s after the revoke').events);
    expect(strict.map((d) => d.kind)).toEqual(['use_after_revocation']);
  });

  it('leaves a token used from a second context to credential_context (no second-context kind here)', () => {
    const key = { fp: fp('api-key-private'), kind: 'api_key' as const };
    const drafts = feed(make(), [
      ev({ time: T0, token: key, network: { ip: '10.7.0.5' }, user_agent: 'Go-http-client/1.1' }),
      ev({ time: T0 + 10 * MIN, token: key, network: { ip: '198.51.100.9' }, user_agent: 'python-httpx/0.27.0' }),
    ]);
    expect(drafts).toEqual([]);
  });
});

function access(name: string): TokenEvent['token'] {
  return { fp: fp(name), kind: 'oauth_access' };
}

describe('token_replay state', () => {
  it.each(allCases.filter((c) => c.events.length >= 2).map((c) => [c.name, c] as const))(
    'snapshot/restore mid-stream gives the same alerts: %s',
    (_name, c) => {
      const whole = runCase(c);
      const cut = Math.floor(c.events.length / 2);
      const first = make(c.config);
      const before = feed(first, c.events.slice(0, cut));
      const saved = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
      // Further processing on the original must not leak into the snapshot.
      feed(first, c.events.slice(cut));
      const resumed = make(c.config);
      resumed.restore(structuredClone(saved));
      const after = feed(resumed, c.events.slice(cut));
      expect(JSON.parse(JSON.stringify([...before, ...after]))).toEqual(JSON.parse(JSON.stringify(whole)));
    },
  );

  it('keeps at most max_tokens tokens and evicts idle ones on advance()', () => {
    const det = make({ max_tokens: 5, token_idle_ttl_hours: 1 });
    for (let i = 0; i < 50; i++) {
      det.process(ev({ time: T0 + i * 1000, token: `bound-${i}`, network: { ip: '10.0.0.1' } }));
      expect(det.size()).toBeLessThanOrEqual(5);
    }
    expect(det.size()).toBe(5);
    det.advance(T0 + 50 * 1000 + HOUR - 10_000);
    expect(det.size()).toBe(5);
    det.advance(T0 + 50 * 1000 + HOUR + 1);
    expect(det.size()).toBe(0);
  });

  it('bounds contexts per token but keeps the home context', () => {
    const tok = access('at-many-contexts');
    const det = make({ max_contexts_per_token: 3 });
    const events = Array.from({ length: 10 }, (_, i) =>
      ev({ time: T0 + i * MIN, token: tok, network: { ip: `198.51.100.${i + 1}` }, user_agent: `tool${i}/1.0` }),
    );
    expect(feed(det, events)).toEqual([]);
    const state = det.snapshot() as { tokens: [string, { value: { home: { ip: string }; others: unknown[]; contexts_seen: number } }][] };
    const rec = state.tokens.find(([k]) => k === tok.fp)?.[1].value;
    expect(rec?.home.ip).toBe('198.51.100.1');
    expect(rec?.others).toHaveLength(2);
    expect(rec?.contexts_seen).toBe(10);
  });

  it('rejects a snapshot of another version', () => {
    expect(() => make().restore({ version: 2, tokens: [] })).toThrow(/version/);
  });
});

describe('token_replay config and helpers', () => {
  it('parses defaults and rejects bad CIDRs', () => {
    const cfg = tokenReplay.config.parse({});
    expect(cfg.context_window_minutes).toBe(60);
    expect(cfg.egress_ranges).toEqual([]);
    expect(tokenReplay.config.safeParse({ egress_ranges: [{ name: 'x', cidrs: ['203.0.113.0/33'] }] }).success).toBe(false);
    expect(tokenReplay.config.safeParse({ egress_ranges: [{ name: 'x', cidrs: ['not-an-ip/8'] }] }).success).toBe(false);
    expect(tokenReplay.config.safeParse({ egress_ranges: [{ name: 'x', cidrs: ['2001:db8::/129'] }] }).success).toBe(false);
    expect(tokenReplay.config.safeParse({ egress_ranges: [{ name: 'x', cidrs: ['2001:db8::/32', '198.51.100.7'] }] }).success).toBe(true);
  });

  it('normalises user agents to their first product token', () => {
    expect(uaFamily('aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64')).toBe('aws-cli');
    expect(uaFamily('Boto3/1.34.10 md/Botocore#1.34.10')).toBe('Boto3');
    expect(uaFamily('[aws-sdk-go/1.50.3 (go1.21.5; linux; amd64)]')).toBe('aws-sdk-go');
    expect(uaFamily('python-requests/2.31.0')).toBe('python-requests');
    expect(uaFamily('Mozilla/5.0 (X11; Linux x86_64)')).toBe('Mozilla');
    expect(uaFamily('ec2.amazonaws.com')).toBe('ec2.amazonaws.com');
    expect(uaFamily('   ')).toBeUndefined();
    expect(uaFamily(undefined)).toBeUndefined();
  });

  it('parses CIDRs and canonicalises IPs (IPv4, IPv6, IPv4-mapped)', () => {
    expect(parseCidr('203.0.113.0/28')).toEqual({ address: '203.0.113.0', prefix: 28, family: 'ipv4' });
    expect(parseCidr('2001:db8::/32')?.family).toBe('ipv6');
    expect(parseCidr('10.0.0.1')).toEqual({ address: '10.0.0.1', prefix: 32, family: 'ipv4' });
    expect(parseCidr('10.0.0.0/')).toBeUndefined();
    expect(parseCidr('10.0.0.0/-1')).toBeUndefined();
    expect(normalizeIp('::ffff:198.51.100.4')).toEqual({ ip: '198.51.100.4', family: 'ipv4' });
    expect(normalizeIp('2001:DB8::1')?.ip).toBe('2001:0db8:0000:0000:0000:0000:0000:0001');
    expect(normalizeIp('fe80::1%eth0')?.family).toBe('ipv6');
    expect(normalizeIp('AWS Internal')).toBeUndefined();
  });

  it('resolves networks: declared ranges first, then private vs external, optional /24 and /48', () => {
    const ranges = [
      { name: 'nat-a', cidrs: ['203.0.113.0/28'] },
      { name: 'nat-v6', cidrs: ['2001:db8:100::/48'] },
    ];
    const exact = createNetworkResolver(ranges, false);
    expect(exact('203.0.113.14')).toMatchObject({ key: 'range:nat-a', name: 'nat-a', external: false });
    expect(exact('203.0.113.16')).toMatchObject({ key: 'ip:203.0.113.16', name: 'external', external: true });
    expect(exact('::ffff:203.0.113.2')?.key).toBe('range:nat-a');
    expect(exact('2001:db8:100:abcd::1')?.key).toBe('range:nat-v6');
    expect(exact('10.20.30.40')).toMatchObject({ name: 'private', external: false });
    expect(exact('fd00::5')).toMatchObject({ name: 'private', external: false });
    // Prefixes that do not end on a byte boundary.
    expect(exact('172.31.255.1')?.name).toBe('private');
    expect(exact('172.32.0.1')?.name).toBe('external');
    expect(exact('100.127.255.255')?.name).toBe('private');
    expect(exact('100.128.0.1')?.name).toBe('external');
    expect(exact('fe80::1%eth0')?.name).toBe('private');
    expect(exact('fec0::1')?.name).toBe('external');
    expect(exact('203.0.113.15')?.key).toBe('range:nat-a');
    expect(exact('2001:db8:101::1')?.key).toBe('ip:2001:0db8:0101:0000:0000:0000:0000:0001');
    expect(exact('256.1.1.1')).toBeUndefined();
    expect(exact('1::2::3')).toBeUndefined();
    expect(exact(undefined)).toBeUndefined();
    expect(exact('ec2.amazonaws.com')).toBeUndefined();

    const subnet = createNetworkResolver([], true);
    expect(subnet('198.51.100.7')?.key).toBe(subnet('198.51.100.250')?.key);
    expect(subnet('198.51.100.7')?.key).not.toBe(subnet('198.51.101.7')?.key);
    expect(subnet('2001:db8:aaaa:1::1')?.key).toBe(subnet('2001:db8:aaaa:ffff::2')?.key);
    expect(subnet('2001:db8:aaaa::1')?.key).not.toBe(subnet('2001:db8:aaab::1')?.key);
  });
});
