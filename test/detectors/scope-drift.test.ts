import { describe, expect, it } from 'vitest';
import { feedDetector } from './feed-detector.js';
import { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { TokenEvent as TokenEventSchema } from '../../schemas/token-event.js';
import { DAY, HOUR, MIN, T0, ev } from '../../detectors/case-helpers.js';
import { scopeDrift } from '../../detectors/scope-drift/index.js';
import type { ScopeDriftConfig } from '../../detectors/scope-drift/index.js';
import { classifyScope } from '../../detectors/scope-drift/privilege.js';
import { createSensitivityClassifier, DEFAULT_SENSITIVE_PATTERNS, mergeSensitivePatterns } from '../../detectors/scope-drift/sensitivity.js';
import type { AlertDraft, DetectorCase, DetectorInstance } from '../../detectors/types.js';

const make = (overrides: Partial<ScopeDriftConfig> = {}): DetectorInstance =>
  scopeDrift.create(scopeDrift.config.parse(overrides));

/** Like the engine at the end of a replay: finally advance a day past the last event, releasing held alerts. */
const run = (det: DetectorInstance, events: readonly TokenEvent[]): AlertDraft[] => feedDetector(det, events, DAY);

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
      const before = feedDetector(first, c.events.slice(0, cut));
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

describe('scope_drift sensitivity', () => {
  const classify = createSensitivityClassifier(mergeSensitivePatterns([]));
  const issuer = 'okta:0oa-client';
  const BASE = ['orders:read', 'orders:write', 'openid'];
  /** 30 hours of hourly mints with `scopes`: learned, with `scopes` as the baseline. */
  const learned = (scopes: string[], who = issuer, from = T0): TokenEvent[] =>
    Array.from({ length: 30 }, (_, i) => ev({ time: from + i * HOUR, token: `${who}:h${i}`, action: 'mint', issuer: who, scopes_granted: scopes }));
  const AFTER = T0 + 30 * HOUR;

  it('classifies scopes by the heaviest matching default pattern', () => {
    const cls = (s: string) => classify(s) && [classify(s)!.class, classify(s)!.weight];
    expect(cls('customers.pii.read')).toEqual(['pii', 0.8]);
    expect(cls('Customer.Read.All')).toEqual(['pii', 0.6]);
    expect(cls('read:customers')).toEqual(['pii', 0.6]);
    expect(cls('patients.health.read')).toEqual(['pii', 0.8]);
    expect(cls('secretsmanager:GetSecretValue')).toEqual(['secrets', 0.9]);
    expect(cls('kms:Decrypt')).toEqual(['secrets', 0.8]);
    expect(cls('okta.apiTokens.read')).toEqual(['secrets', 0.7]);
    expect(cls('Directory.ReadWrite.All')).toEqual(['admin', 1]);
    expect(cls('iam:*')).toEqual(['admin', 1]);
    expect(cls('AmazonS3FullAccess')).toEqual(['admin', 1]);
    expect(cls('iam:ListRoles')).toEqual(['admin', 0.7]);
    expect(cls('reports.export')).toEqual(['export', 0.7]);
    expect(cls('db.dump')).toEqual(['export', 0.8]);
    expect(cls('orders:write')).toEqual(['write', 0.6]);
    // words only: no match inside another word
    expect(classify('orders.read')).toBeUndefined();
    expect(classify('keyboard.layouts.read')).toBeUndefined();
    expect(classify('tokenizer.read')).toBeUndefined();
    expect(classify('openid')).toBeUndefined();
  });

  it('merges configured patterns over the defaults: replace, turn off, add', () => {
    const custom = createSensitivityClassifier(
      mergeSensitivePatterns([
        { pattern: 'Customer', class: 'pii', weight: 0.9 },
        { pattern: 'all', class: 'export', weight: 0 },
        { pattern: 'ledger', class: 'finance', weight: 0.8 },
        { pattern: 'hr.*.read', class: 'pii', weight: 0.7 },
      ]),
    );
    expect(custom('customers.read')).toEqual({ class: 'pii', weight: 0.9, pattern: 'customer' });
    expect(custom('Sites.Read.All')).toBeUndefined();
    expect(custom('ledger.entries.read')).toEqual({ class: 'finance', weight: 0.8, pattern: 'ledger' });
    expect(custom('HR.Salaries.Read')).toEqual({ class: 'pii', weight: 0.7, pattern: 'hr.*.read' });
    expect(mergeSensitivePatterns([]).length).toBe(DEFAULT_SENSITIVE_PATTERNS.length);
  });

  it('rejects a malformed pattern entry with its path', () => {
    const r = scopeDrift.config.safeParse({ sensitive_patterns: [{ pattern: 'x', class: 'Not A Class', weight: 2 }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['sensitive_patterns.0.class', 'sensitive_patterns.0.weight']);
  });

  it('one new PII read scope: one high alert that names the class and the issuer baseline', () => {
    const drafts = run(make(), [
      ...learned(BASE),
      ev({ time: AFTER, token: 'pii', action: 'mint', issuer, scopes_granted: [...BASE, 'customers.pii.read'] }),
      ev({ time: AFTER + MIN, token: 'pii', issuer, scopes_used: ['customers.pii.read'] }),
      ev({ time: AFTER + HOUR, token: 'pii-2', action: 'mint', issuer, scopes_granted: [...BASE, 'customers.pii.read'] }),
    ]);
    expect(drafts).toHaveLength(1);
    const d = drafts[0]!;
    expect([d.kind, d.severity]).toEqual(['granted_beyond_baseline', 'high']);
    expect(d.dedup_key).toBe(`granted_beyond_baseline:${issuer}:customers.pii.read`);
    expect(d.score).toBeCloseTo(0.3 + 0.7 * 0.8, 10);
    expect(d.summary).toContain('customers.pii.read (pii, matched "pii", weight 0.8; okta:0oa-client held no pii scope before)');
    expect(d.summary).toContain('Baseline: 3 scope(s) seen since 2026-01-05T00:00:00.000Z: openid, orders:read, orders:write.');
    expect(d.baseline.sensitivity).toEqual({ 'customers.pii.read': { class: 'pii', weight: 0.8, pattern: 'pii' } });
    expect(d.baseline.sensitive_new).toEqual(['customers.pii.read']);
    expect(d.baseline.held_sensitivity).toEqual({ write: { weight: 0.6, scopes: ['orders:write'] } });
    expect(d.baseline.known_scopes).toEqual(BASE.slice().sort());
    expect(d.events.map((e) => e.time)).toEqual([AFTER]);
  });

  it('judges the class per issuer: heavier than held alerts (naming what was held), lighter or equal stays quiet', () => {
    const withCustomers = [...BASE, 'customers:read'];
    const heavier = run(make(), [...learned(withCustomers), ev({ time: AFTER, token: 'x', action: 'mint', issuer, scopes_granted: [...withCustomers, 'customers.ssn.read'] })]);
    expect(heavier.map((d) => d.severity)).toEqual(['high']);
    expect(heavier[0]!.summary).toContain('its pii scopes so far weighed at most 0.6 (customers:read)');
    const same = run(make(), [...learned(withCustomers), ev({ time: AFTER, token: 'x', action: 'mint', issuer, scopes_granted: [...withCustomers, 'customers.notes.read'] })]);
    expect(same).toEqual([]);
    // the same scope for an issuer that never held customer data alerts (medium: weight 0.6)
    const fresh = run(make(), [...learned(BASE), ev({ time: AFTER, token: 'x', action: 'mint', issuer, scopes_granted: [...BASE, 'customers.notes.read'] })]);
    expect(fresh.map((d) => d.severity)).toEqual(['medium']);
  });

  it('sensitive_min_weight sets where sensitivity starts', () => {
    const events = [...learned(BASE), ev({ time: AFTER, token: 'x', action: 'mint', issuer, scopes_granted: [...BASE, 'contacts.email.read'] })];
    expect(run(make(), events).map((d) => d.severity)).toEqual(['medium']);
    expect(run(make({ sensitive_min_weight: 0.6 }), events)).toEqual([]);
  });

  describe('deploy rollouts', () => {
    const clients = ['okta:0oa-a', 'okta:0oa-b', 'okta:0oa-c', 'okta:0oa-d'];
    const history = (cs: string[]) => cs.flatMap((c) => learned(['contacts:read'], c)).sort((a, b) => a.time - b.time);
    const gain = (cs: string[], spacingMs: number, scope = 'customers.pii.read') =>
      cs.map((c, i) => ev({ time: AFTER + i * spacingMs, token: `${c}:gain`, action: 'mint', issuer: c, scopes_granted: ['contacts:read', scope] }));

    it('a scope reaching rollout_min_issuers clients within the hold is absorbed; fewer, or too slowly, alert', () => {
      expect(run(make(), [...history(clients.slice(0, 3)), ...gain(clients.slice(0, 3), 2 * MIN)])).toEqual([]);
      expect(run(make(), [...history(clients.slice(0, 2)), ...gain(clients.slice(0, 2), 2 * MIN)]).map((d) => d.issuer)).toEqual(clients.slice(0, 2));
      // the third client 20 minutes later: the first two were already reported (hold 10 min), the third is absorbed
      expect(run(make(), [...history(clients.slice(0, 3)), ...gain(clients.slice(0, 3), 20 * MIN)]).map((d) => d.issuer)).toEqual(clients.slice(0, 2));
      // a rollout is judged as of each alert's hold: with a 45-minute hold the slow rollout is absorbed, with 30 the first is not
      expect(run(make({ rollout_hold_minutes: 45 }), [...history(clients.slice(0, 3)), ...gain(clients.slice(0, 3), 20 * MIN)])).toEqual([]);
      expect(run(make({ rollout_hold_minutes: 30 }), [...history(clients.slice(0, 3)), ...gain(clients.slice(0, 3), 20 * MIN)]).map((d) => d.issuer)).toEqual(clients.slice(0, 1));
    });

    it('clients of another authority do not make a rollout', () => {
      // each client behind its own authorization server
      const events = [...history(clients.slice(0, 3)), ...gain(clients.slice(0, 3), MIN)].map((e) => ({ ...e, authority: `okta:aus-${e.issuer}` }));
      expect(run(make(), events).map((d) => d.issuer)).toEqual(clients.slice(0, 3));
    });

    it('write and admin scopes are never held or absorbed as a rollout', () => {
      const det = make();
      feedDetector(det, history(clients.slice(0, 3)));
      const out = gain(clients.slice(0, 3), MIN, 'customers.write').map((e) => det.process(e).length);
      expect(out).toEqual([1, 1, 1]);
    });

    it('a held alert is emitted when the watermark passes its hold, and survives a snapshot/restore', () => {
      const det = make();
      feedDetector(det, history(clients.slice(0, 1)));
      const [g] = gain(clients.slice(0, 1), 0);
      expect(det.process(g!)).toEqual([]);
      expect(det.advance(AFTER + 9 * MIN)).toEqual([]);
      const copy = make();
      copy.restore(JSON.parse(JSON.stringify(det.snapshot())));
      const released = copy.advance(AFTER + 10 * MIN);
      expect(released.map((d) => [d.kind, d.issuer])).toEqual([['granted_beyond_baseline', clients[0]]]);
      expect(copy.advance(AFTER + DAY)).toEqual([]);
    });

    it('with rollout_hold_minutes 0 a read-level alert is emitted at once', () => {
      const det = make({ rollout_hold_minutes: 0 });
      feedDetector(det, history(clients.slice(0, 1)));
      expect(det.process(gain(clients.slice(0, 1), 0)[0]!).map((d) => d.kind)).toEqual(['granted_beyond_baseline']);
    });

    it('bounds held alerts: the oldest is emitted early rather than lost', () => {
      const det = make({ max_pending_alerts: 2, rollout_min_issuers: 10 });
      const many = clients.slice(0, 4);
      feedDetector(det, history(many));
      const early = gain(many, MIN).flatMap((e) => det.process(e));
      expect(early.map((d) => d.issuer)).toEqual(many.slice(0, 2));
      expect(det.advance(AFTER + DAY).map((d) => d.issuer)).toEqual(many.slice(2));
    });
  });

  it('restores a version 1 snapshot (no rollout state)', () => {
    const det = make();
    feedDetector(det, learned(BASE));
    const v1: Record<string, unknown> = { ...(JSON.parse(JSON.stringify(det.snapshot())) as Record<string, unknown>), version: 1 };
    delete v1.rollouts;
    const copy = make();
    copy.restore(v1);
    expect(run(copy, [ev({ time: AFTER, token: 'x', action: 'mint', issuer, scopes_granted: [...BASE, 'customers.pii.read'] })]).map((d) => d.kind)).toEqual(['granted_beyond_baseline']);
  });
});
