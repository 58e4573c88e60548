import { describe, expect, it } from 'vitest';
import { feedDetector } from './feed-detector.js';
import { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { TokenEvent as TokenEventSchema } from '../../schemas/token-event.js';
import { DAY, HOUR, MIN, T0, ev } from '../../detectors/case-helpers.js';
import { scopeDrift } from '../../detectors/scope-drift/index.js';
import type { ScopeDriftConfig } from '../../detectors/scope-drift/index.js';
import { classifyScope } from '../../detectors/scope-drift/privilege.js';
import type { AlertDraft, DetectorCase, DetectorInstance } from '../../detectors/types.js';

const make = (overrides: Partial<ScopeDriftConfig> = {}): DetectorInstance =>
  scopeDrift.create(scopeDrift.config.parse(overrides));

const run = (det: DetectorInstance, events: readonly TokenEvent[]): AlertDraft[] => feedDetector(det, events);

const keyOf = (k: { kind: string; issuer?: string }): string => `${k.kind}|${k.issuer ?? ''}`;
const multiset = (xs: readonly { kind: string; issuer?: string }[]): string[] => xs.map(keyOf).sort();

function runCase(c: DetectorCase<ScopeDriftConfig>): AlertDraft[] {
  return run(make(c.config ?? {}), c.events);
}

describe('scope_drift cases', () => {
  const all = [...scopeDrift.cases.positive, ...scopeDrift.cases.negative];
  it('has a positive case per kind and negative cases', () => {
    const kinds = new Set(scopeDrift.cases.positive.flatMap((c) => c.expect.map((e) => e.kind)));
    expect([...kinds].sort()).toEqual(Object.keys(scopeDrift.meta.kinds).sort());
    expect(scopeDrift.cases.negative.length).toBeGreaterThan(0);
    for (const c of scopeDrift.cases.negative) expect(c.expect).toEqual([]);
  });
  it.each(all.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    for (const e of c.events) expect(TokenEventSchema.safeParse(e).success).toBe(true);
    const drafts = runCase(c);
    expect(multiset(drafts)).toEqual(multiset(c.expect));
    for (const d of drafts) {
      expect(d.score).toBeGreaterThanOrEqual(0);
      expect(d.score).toBeLessThanOrEqual(1);
      expect(Object.keys(scopeDrift.meta.kinds)).toContain(d.kind);
      expect(d.dedup_key.startsWith(`${d.kind}:${d.issuer}:`)).toBe(true);
      expect(d.events.length).toBeGreaterThan(0);
    }
  });
});

describe('scope_drift behaviour', () => {
  const issuer = 'okta:0oa-client';
  const history = (hours: number, scopes: string[]): TokenEvent[] => {
    const out: TokenEvent[] = [];
    for (let t = T0, i = 0; t < T0 + hours * HOUR; t += HOUR, i++) {
      out.push(ev({ time: t, token: `h${i}`, action: 'mint', issuer, scopes_granted: scopes }));
    }
    return out;
  };

  it('config defaults parse and every field is described', () => {
    const cfg = scopeDrift.config.parse({});
    expect(cfg.learning_hours).toBe(24);
    expect(cfg.learning_min_events).toBe(10);
    expect(cfg.alert_on_read_scopes).toBe(false);
    const shape = (scopeDrift.config as unknown as { shape: Record<string, { description?: string }> }).shape;
    for (const [k, f] of Object.entries(shape)) expect(f.description, k).toBeTruthy();
  });

  it('classifies privilege by pattern', () => {
    expect(classifyScope('okta.users.manage')).toBe('admin');
    expect(classifyScope('iam:*')).toBe('admin');
    expect(classifyScope('iam:CreateAccessKey')).toBe('admin');
    expect(classifyScope('Directory.ReadWrite.All')).toBe('admin');
    expect(classifyScope('RoleManagement.ReadWrite.Directory')).toBe('admin');
    expect(classifyScope('admin:org')).toBe('admin');
    expect(classifyScope('orders:write')).toBe('write');
    expect(classifyScope('write:orders')).toBe('write');
    expect(classifyScope('User.ReadWrite.All')).toBe('write');
    expect(classifyScope('s3:PutObject')).toBe('write');
    expect(classifyScope('records.delete')).toBe('write');
    expect(classifyScope('openid')).toBe('read');
    expect(classifyScope('profile')).toBe('read');
    expect(classifyScope('User.Read.All')).toBe('read');
    expect(classifyScope('s3:GetObject')).toBe('read');
    expect(classifyScope('https://www.googleapis.com/auth/cloud-platform.read-only')).toBe('read');
    expect(classifyScope('https://www.googleapis.com/auth/cloud-platform')).toBe('admin');
    expect(classifyScope('compute.instances')).toBe('other');
  });

  it('severity follows the highest-weight new scope', () => {
    const det = make();
    const drafts = run(det, [
      ...history(30, ['orders:read']),
      ev({ time: T0 + 31 * HOUR, token: 'x1', action: 'mint', issuer, scopes_granted: ['orders:read', 'orders:write'] }),
      ev({ time: T0 + 32 * HOUR, token: 'x2', action: 'mint', issuer, scopes_granted: ['orders:read', 'okta.users.manage'] }),
      ev({ time: T0 + 33 * HOUR, token: 'x3', action: 'mint', issuer, scopes_granted: ['orders:read', 'billing'] }),
    ]);
    expect(drafts.map((d) => [d.kind, d.severity])).toEqual([
      ['granted_beyond_baseline', 'high'],
      ['granted_beyond_baseline', 'critical'],
      ['granted_beyond_baseline', 'medium'],
    ]);
    expect(drafts[1]!.dedup_key).toBe(`granted_beyond_baseline:${issuer}:okta.users.manage`);
    expect(drafts[1]!.score).toBe(1);
    const b = drafts[1]!.baseline;
    expect(b.new_scopes).toEqual(['okta.users.manage']);
    expect(b.privilege).toEqual({ 'okta.users.manage': 'admin' });
    expect(b.known_scopes).toEqual(['orders:read', 'orders:write']);
    expect(b.events_seen).toBe(31);
    expect(b.learning_since).toBe(new Date(T0).toISOString());
  });

  it('needs both learning hours and learning events before judging grants', () => {
    // 30 hours but only 3 events: still learning.
    const sparse = [T0, T0 + 10 * HOUR, T0 + 20 * HOUR].map((t, i) =>
      ev({ time: t, token: `s${i}`, action: 'mint', issuer, scopes_granted: ['orders:read'] }),
    );
    const late = ev({ time: T0 + 30 * HOUR, token: 'late', action: 'mint', issuer, scopes_granted: ['orders:write'] });
    expect(run(make(), [...sparse, late])).toEqual([]);
    // Many events in 2 hours: still learning.
    const dense = Array.from({ length: 20 }, (_, i) =>
      ev({ time: T0 + i * 5 * MIN, token: `d${i}`, action: 'mint', issuer, scopes_granted: ['orders:read'] }),
    );
    const early = ev({ time: T0 + 2 * HOUR, token: 'early', action: 'mint', issuer, scopes_granted: ['orders:write'] });
    expect(run(make(), [...dense, early])).toEqual([]);
    expect(run(make({ learning_hours: 1 }), [...dense, early]).map((d) => d.kind)).toEqual(['granted_beyond_baseline']);
  });

  it('a use of a scope outside the token grant is high even for a read scope', () => {
    const drafts = run(make(), [
      ev({ time: T0, token: 't', action: 'mint', issuer, scopes_granted: ['orders:read'] }),
      ev({ time: T0 + MIN, token: 't', issuer, scopes_used: ['customers:read'] }),
    ]);
    expect(drafts).toHaveLength(1);
    expect(drafts[0]!.severity).toBe('high');
    expect(drafts[0]!.baseline.not_granted_to_token).toEqual(['customers:read']);
    expect(drafts[0]!.token_fp).toBe(ev({ time: 0, token: 't' }).token.fp);
  });

  it('drafts become valid alerts (shape check) and never carry raw tokens', () => {
    const drafts = runCase(scopeDrift.cases.positive[2]!);
    for (const d of drafts) {
      const alert = {
        schema_version: 1,
        alert_id: '0'.repeat(32),
        detector: scopeDrift.meta.id,
        detector_version: scopeDrift.meta.version,
        kind: d.kind,
        severity: d.severity ?? scopeDrift.meta.kinds[d.kind]!.severity,
        score: d.score,
        title: d.title,
        summary: d.summary,
        token_fp: d.token_fp,
        issuer: d.issuer,
        first_seen: new Date(d.events[0]!.time).toISOString(),
        last_seen: new Date(d.events[d.events.length - 1]!.time).toISOString(),
        evidence: { events: [], baseline: d.baseline },
        mitre_attack: [...scopeDrift.meta.mitre_attack],
        owasp_nhi: [...scopeDrift.meta.owasp_nhi],
        runbook: scopeDrift.meta.runbook,
        dedup_key: d.dedup_key,
      };
      expect(Alert.safeParse(alert).success).toBe(true);
      expect(d.token_fp).toMatch(/^tw1:[0-9a-f]{32}$/);
    }
  });

  it('snapshot/restore mid-stream gives the same alerts as an uninterrupted run', () => {
    for (const c of scopeDrift.cases.positive) {
      const whole = runCase(c);
      const cut = Math.floor(c.events.length / 2);
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

  it('bounds issuers, scopes per issuer and tokens per issuer', () => {
    const det = make({ max_issuers: 5, max_scopes_per_issuer: 4, max_tokens_per_issuer: 3 });
    for (let i = 0; i < 20; i++) {
      det.process(ev({ time: T0 + i, token: `k${i}`, action: 'mint', issuer: `issuer-${i}`, scopes_granted: ['a.read'] }));
    }
    expect(det.size()).toBe(5);
    for (let i = 0; i < 10; i++) {
      det.process(ev({ time: T0 + 100 + i, token: `m${i}`, action: 'mint', issuer: 'big', scopes_granted: [`s${i}.read`] }));
    }
    const snap = det.snapshot() as { issuers: [string, { value: { scopes: unknown[]; tokens: unknown[] } }][] };
    const big = snap.issuers.find(([k]) => k === 'big')![1].value;
    expect(big.scopes).toHaveLength(4);
    expect(big.tokens).toHaveLength(3);
  });

  it('forgets issuers idle beyond the TTL in event time', () => {
    const det = make({ issuer_idle_ttl_hours: 24 });
    det.process(ev({ time: T0, token: 'a', action: 'mint', issuer, scopes_granted: ['orders:read'] }));
    det.advance(T0 + DAY - 1);
    expect(det.size()).toBe(1);
    det.advance(T0 + DAY + 1);
    expect(det.size()).toBe(0);
  });
});
