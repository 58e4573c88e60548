/**
 * policy_violation: each successful mint judged against the declared issuer policy. Stateless
 * by design (the policy is the baseline), so snapshots are trivial and replays are exact;
 * repeats of one violation fold in the engine's suppression window via the dedup key.
 */
import type { Severity } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { compilePolicy, mintLifetimeSeconds, mintScopes, type Violation } from '../../src/policy/evaluate-policy.js';
import type { AlertDraft, DetectorInstance } from '../types.js';
import type { PolicyViolationConfig } from './config.js';
import { policyViolationMeta } from './meta.js';

export interface PolicyViolationSnapshot {
  version: 1;
}

const SCORE: Record<Severity, number> = { low: 0.4, medium: 0.6, high: 0.8, critical: 0.95 };

function describe(v: Violation, issuer: string): string {
  const vals = v.values.join(', ');
  const allowed = v.allowed.length > 0 ? v.allowed.join(', ') : 'none';
  switch (v.kind) {
    case 'token_kind_not_allowed':
      return `${issuer} minted a ${vals} token; policy rule "${v.rule}" allows ${allowed}.`;
    case 'scope_not_allowed':
      return `${issuer} minted a token with ${vals}, outside policy rule "${v.rule}" (allowed scopes: ${allowed}).`;
    case 'audience_not_allowed':
      return `${issuer} minted a token for ${vals}, outside policy rule "${v.rule}" (allowed audiences: ${allowed}).`;
    case 'lifetime_exceeded':
      return `${issuer} minted a token living ${vals} s; policy rule "${v.rule}" allows at most ${allowed} s.`;
    case 'network_not_allowed':
      return `${issuer} minted a token from ${vals}, outside the networks of policy rule "${v.rule}" (${allowed}).`;
    case 'unlisted_issuer':
      return `${issuer} minted a token but no policy rule names it and the policy default is deny.`;
  }
}

export function createPolicyViolation(config: PolicyViolationConfig): DetectorInstance<PolicyViolationSnapshot> {
  const policy = compilePolicy(config.policy);

  function draft(v: Violation, event: TokenEvent): AlertDraft {
    const meta = policyViolationMeta.kinds[v.kind]!;
    const issuer = event.issuer ?? event.workload?.id ?? 'an unnamed issuer';
    return {
      kind: v.kind,
      severity: meta.severity,
      score: SCORE[meta.severity],
      title: meta.title,
      summary: describe(v, issuer),
      // one alert per (rule, issuer, offending values); repeats fold in the suppression window
      dedup_key: `${v.kind}:${v.rule}:${issuer}:${v.values.join(',')}`,
      token_fp: event.token.fp,
      ...(event.issuer !== undefined ? { issuer: event.issuer } : {}),
      ...(event.subject !== undefined ? { subject: event.subject } : {}),
      ...(event.service !== undefined ? { service: event.service } : {}),
      events: [event],
      baseline: {
        rule: v.rule,
        violation: { kind: v.kind, values: v.values, allowed: v.allowed },
        token_kind: event.token.kind,
        scopes: mintScopes(event) ?? null,
        audience: event.audience ?? null,
        lifetime_seconds: mintLifetimeSeconds(event) ?? null,
        policy_default: config.policy.default,
      },
    };
  }

  return {
    process(event: TokenEvent): AlertDraft[] {
      if (event.action !== 'mint') return [];
      if (event.outcome === 'failure' && !config.judge_failed_mints) return [];
      const violations = policy.judge(event);
      return violations.length === 0 ? [] : violations.map((v) => draft(v, event));
    },
    advance(): AlertDraft[] {
      return [];
    },
    snapshot(): PolicyViolationSnapshot {
      return { version: 1 };
    },
    restore(): void {
      // nothing to restore: the policy is the whole baseline
    },
    size(): number {
      return 0;
    },
    // stateless: no key ever holds anything
    changedKeys(): string[] {
      return [];
    },
    getKey(): unknown {
      return undefined;
    },
    putKey(): void {},
  };
}
