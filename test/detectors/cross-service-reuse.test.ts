import { describe, expect, it } from 'vitest';
import { feedDetector } from './feed-detector.js';
import { TokenEvent as TokenEventSchema } from '../../schemas/token-event.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { HOUR, MIN, T0, ev, fp } from '../../detectors/case-helpers.js';
import { crossServiceReuse } from '../../detectors/cross-service-reuse/index.js';
import type { CrossServiceReuseConfig } from '../../detectors/cross-service-reuse/index.js';
import { serviceIdentity } from '../../detectors/cross-service-reuse/detector.js';
import type { AlertDraft, DetectorCase, DetectorInstance } from '../../detectors/types.js';

const make = (overrides: Partial<CrossServiceReuseConfig> = {}): DetectorInstance =>
  crossServiceReuse.create(crossServiceReuse.config.parse(overrides));

const run = (det: DetectorInstance, events: readonly TokenEvent[]): AlertDraft[] => feedDetector(det, events);

const multiset = (xs: readonly { kind: string; token_fp?: string }[]): string[] =>
  xs.map((x) => `${x.kind}|${x.token_fp ?? ''}`).sort();
const runCase = (c: DetectorCase<CrossServiceReuseConfig>): AlertDraft[] => run(make(c.config ?? {}), c.events);
const byName = (name: string): DetectorCase<CrossServiceReuseConfig> => {
  const c = crossServiceReuse.cases.positive.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name}`);
  return c;
};

describe('cross_service_reuse cases', () => {
  const all = [...crossServiceReuse.cases.positive, ...crossServiceReuse.cases.negative];
  it('has a positive case per kind and negative cases', () => {
    const kinds = new Set(crossServiceReuse.cases.positive.flatMap((c) => c.expect.map((e) => e.kind)));
    expect([...kinds].sort()).toEqual(Object.keys(crossServiceReuse.meta.kinds).sort());
    expect(crossServiceReuse.cases.negative.length).toBeGreaterThan(0);
    for (const c of crossServiceReuse.cases.negative) expect(c.expect).toEqual([]);
  });
  it.each(all.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    for (const e of c.events) expect(TokenEventSchema.safeParse(e).success).toBe(true);
    const drafts = runCase(c);
    expect(multiset(drafts)).toEqual(multiset(c.expect));
    for (const d of drafts) {
      expect(d.score).toBeGreaterThanOrEqual(0);
      expect(d.score).toBeLessThanOrEqual(1);
      expect(d.dedup_key).toBe(`${d.kind}:${d.token_fp}`);
      expect(d.events.length).toBeGreaterThan(0);
      expect(d.events.length).toBeLessThanOrEqual(2);
    }
  });
});

describe('cross_service_reuse behaviour', () => {
  it('config defaults parse, every field is described, bad CIDRs are rejected', () => {
    const cfg = crossServiceReuse.config.parse({});
    // Workload networks are learned by credential_context; declaring them here is opt-in.
    expect(cfg.workload_networks).toEqual([]);
    expect(cfg.cluster_networks).toEqual([]);
    expect(cfg.allowed_platform_pairs).toContainEqual(['okta', 'gateway']);
    const shape = (crossServiceReuse.config as unknown as { shape: Record<string, { description?: string }> }).shape;
    for (const [k, f] of Object.entries(shape)) expect(f.description, k).toBeTruthy();
    expect(crossServiceReuse.config.safeParse({ workload_networks: ['10.0.0.0/33'] }).success).toBe(false);
    expect(crossServiceReuse.config.safeParse({ cluster_networks: ['not-a-cidr'] }).success).toBe(false);
    expect(crossServiceReuse.config.safeParse({ ci_networks: ['2001:db8::/32', '192.0.2.1'] }).success).toBe(true);
  });

  it('normalises audiences and services to comparable host identities', () => {
    expect(serviceIdentity('https://Payments.Example.com/')).toBe('payments.example.com');
    expect(serviceIdentity('https://www.example.com:8443/v1?x=1')).toBe('example.com');
    expect(serviceIdentity('api://orders.example.com')).toBe('orders.example.com');
    expect(serviceIdentity('orders.example.com:443/path')).toBe('orders.example.com');
    expect(serviceIdentity('api://default')).toBe('default');
  });

  it('EC2 escape evidence holds the mint and the offending use; severity critical; UA change raises the score', () => {
    const c = byName('EC2 instance credentials used from a public IP outside the declared workload networks, with a different user agent');
    const [d] = runCase(c);
    expect(d).toBeDefined();
    expect(d!.severity).toBe('critical');
    expect(d!.score).toBe(1);
    expect(d!.events.map((e) => e.action)).toEqual(['mint', 'use']);
    expect(d!.events[1]!.network?.ip).toBe('198.51.100.23');
    expect(d!.baseline.home_workload).toEqual({ kind: 'ec2_instance', id: 'i-0a1b2c3d4e5f60718' });
    expect(d!.baseline.allowed_networks).toEqual(['10.0.0.0/8', '198.51.100.0/28']);
    expect(d!.baseline.user_agent_changed).toBe(true);
    expect(d!.baseline.platforms_seen).toEqual(['aws']);
  });

  it('with declared workload networks, an instance-role session from a public IPv6 address escapes; link-local does not; undeclared, nothing is judged', () => {
    const token = { fp: fp('v6'), kind: 'sts_session' } as const;
    const workload = { kind: 'ec2_instance', id: 'i-1' } as const;
    const base = { token, source: 'cloudtrail', platform: 'aws', workload } as const;
    const declared = { workload_networks: ['10.0.0.0/8'] };
    expect(run(make(declared), [ev({ ...base, time: T0, network: { ip: 'fe80::1' } })])).toEqual([]);
    expect(run(make(), [ev({ ...base, time: T0, network: { ip: '2001:db8:1::7' } })])).toEqual([]);
    const drafts = run(make(declared), [ev({ ...base, time: T0, network: { ip: '2001:db8:1::7' } })]);
    expect(drafts.map((d) => d.kind)).toEqual(['workload_escape']);
  });

  it('audience mismatch baseline names the audience and the service', () => {
    const [d] = runCase(byName('gateway token minted for payments used at orders'));
    expect(d!.baseline.audience).toEqual(['https://payments.example.com']);
    expect(d!.service).toBe('orders.example.com');
    expect(d!.issuer).toBe('okta:0oa-checkout');
    expect(d!.events.map((e) => e.action)).toEqual(['mint', 'use']);
  });

  it('allowed_platform_pairs can permit aws+gateway (IAM-authorised API Gateway)', () => {
    const c = byName('STS session key seen at the API gateway');
    expect(run(make({ allowed_platform_pairs: [['gateway', 'aws']] }), c.events)).toEqual([]);
  });

  it('snapshot/restore mid-stream gives the same alerts as an uninterrupted run', () => {
    for (const c of crossServiceReuse.cases.positive) {
      const whole = runCase(c);
      const cut = Math.max(1, Math.floor(c.events.length / 2));
      const first = make(c.config ?? {});
      const before = run(first, c.events.slice(0, cut));
      const snap = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
      const second = make(c.config ?? {});
      second.restore(snap);
      expect(second.size()).toBe(first.size());
      const after = run(second, c.events.slice(cut));
      expect([...before, ...after]).toEqual(whole);
    }
  });

  it('bounds tokens held and forgets idle tokens in event time', () => {
    const det = make({ max_tokens: 10, token_idle_ttl_hours: 1 });
    for (let i = 0; i < 50; i++) det.process(ev({ time: T0 + i * MIN, token: `t${i}`, action: 'mint' }));
    expect(det.size()).toBe(10);
    det.advance(T0 + 49 * MIN + HOUR - 1);
    expect(det.size()).toBe(1);
    det.advance(T0 + 49 * MIN + HOUR + 1);
    expect(det.size()).toBe(0);
  });
});
