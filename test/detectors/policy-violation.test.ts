/** policy_violation beyond its cases: rule naming, workload rules, IPv6, and folding of repeats in the engine. */
import { describe, expect, it } from 'vitest';
import { policyViolation } from '../../detectors/policy-violation/index.js';
import { HOUR, MIN, T0, ev } from '../../detectors/case-helpers.js';
import { DEFAULT_ENGINE_OPTIONS, DetectionEngine } from '../../src/pipeline/detection-engine.js';
import { feedDetector } from './feed-detector.js';

const create = (policy: unknown) => policyViolation.create(policyViolation.config.parse({ policy }));

describe('policy_violation', () => {
  it('names the first matching rule and the values outside it in summary and baseline', () => {
    const det = create({ rules: [{ id: 'ci-deploy', issuer: 'aws:role/gha-*', token_kinds: ['sts_session'], max_lifetime_seconds: 3600 }] });
    const [d, ...rest] = feedDetector(det, [
      ev({ time: T0, token: { fp: 'tw1:' + 'a'.repeat(32), kind: 'sts_session' }, action: 'mint', issuer: 'aws:role/gha-deploy', issued_at: T0, expires_at: T0 + 12 * HOUR }),
    ]);
    expect(rest).toEqual([]);
    expect(d!.kind).toBe('lifetime_exceeded');
    expect(d!.summary).toBe('aws:role/gha-deploy minted a token living 43200 s; policy rule "ci-deploy" allows at most 3600 s.');
    expect(d!.baseline).toMatchObject({ rule: 'ci-deploy', violation: { kind: 'lifetime_exceeded', values: ['43200'], allowed: [3600] }, lifetime_seconds: 43200 });
  });

  it('matches workload rules by id or kind:id and judges IPv6 networks', () => {
    const det = create({ rules: [{ id: 'orders-pods', workload: 'k8s_pod:orders/*', networks: ['2001:db8:10::/48'] }] });
    const pod = { kind: 'k8s_pod', id: 'orders/api-7f9c' } as const;
    const drafts = feedDetector(det, [
      ev({ time: T0, token: 'in', action: 'mint', workload: pod, network: { ip: '2001:db8:10::17' } }),
      ev({ time: T0 + MIN, token: 'out', action: 'mint', workload: pod, network: { ip: '2001:db8:99::17' } }),
      ev({ time: T0 + 2 * MIN, token: 'other', action: 'mint', workload: { kind: 'k8s_pod', id: 'tools/debug' }, network: { ip: '2001:db8:99::17' } }),
    ]);
    expect(drafts.map((d) => [d.kind, d.baseline.rule])).toEqual([['network_not_allowed', 'orders-pods']]);
  });

  it('folds repeats of one violation into one alert within the suppression window, and raises distinct ones', () => {
    const engine = new DetectionEngine({
      ...DEFAULT_ENGINE_OPTIONS,
      detectors: [{ definition: policyViolation, config: policyViolation.config.parse({ policy: { rules: [{ id: 'r', issuer: 'okta:c', scopes: ['read'] }] } }) }],
    });
    const mint = (n: number, scopes: string[]) => ev({ time: T0 + n * MIN, token: `t${n}`, action: 'mint', issuer: 'okta:c', scopes_granted: scopes, event_id: `m${n}` });
    const alerts = [mint(1, ['read', 'admin']), mint(2, ['admin', 'read']), mint(3, ['read', 'admin']), mint(4, ['export'])].flatMap((e) => engine.ingest(e));
    alerts.push(...engine.finish());
    expect(alerts.map((a) => a.summary)).toEqual([
      'okta:c minted a token with admin, outside policy rule "r" (allowed scopes: read).',
      'okta:c minted a token with export, outside policy rule "r" (allowed scopes: read).',
    ]);
    expect(engine.stats().suppressed).toBe(2);
  });
});
