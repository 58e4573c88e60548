/**
 * The issuer policy compiled for the hot path: globs and network lists are built once, and a
 * mint is judged by its first matching rule. Pure (no I/O, no clock): the policy_violation
 * detector and `tokenwatch policy check` share it.
 */
import type { Policy, PolicyRule } from '../../schemas/policy.js';
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';
import { compileGlob, compileGlobs, type GlobMatcher } from './glob.js';
import { compileNetworkList, type NetworkVerdict } from './network-match.js';

export type ViolationKind = 'token_kind_not_allowed' | 'scope_not_allowed' | 'audience_not_allowed' | 'lifetime_exceeded' | 'network_not_allowed' | 'unlisted_issuer';

export interface Violation {
  kind: ViolationKind;
  /** The rule that judged the mint ("default" for an issuer no rule names under default: deny). */
  rule: string;
  /** The values outside the rule (scopes, audiences, the kind, the lifetime, the network). */
  values: string[];
  /** What the rule allows for this dimension, for the alert's baseline. */
  allowed: readonly (string | number)[];
}

interface CompiledRule {
  rule: PolicyRule;
  issuer?: GlobMatcher;
  workload?: GlobMatcher;
  kinds?: ReadonlySet<TokenKind>;
  scopes?: GlobMatcher;
  audiences?: GlobMatcher;
  network?: (n: TokenEvent['network']) => NetworkVerdict;
}

export interface CompiledPolicy {
  /** The rule that governs this event's issuer/workload, if any. */
  ruleFor(event: TokenEvent): PolicyRule | undefined;
  /** Violations of one mint; [] when it is allowed or not a judged mint. */
  judge(event: TokenEvent): Violation[];
}

/** The scopes a mint carries: what was granted, else what was asked for. */
export const mintScopes = (e: TokenEvent): readonly string[] | undefined => e.scopes_granted ?? e.scopes_requested;

/** Lifetime in whole seconds (rounded up), when the mint says when it expires. */
export function mintLifetimeSeconds(e: TokenEvent): number | undefined {
  if (e.expires_at === undefined) return undefined;
  return Math.max(0, Math.ceil((e.expires_at - (e.issued_at ?? e.time)) / 1000));
}

export const workloadLabel = (w: NonNullable<TokenEvent['workload']>): string => `${w.kind}:${w.id}`;

export function compilePolicy(policy: Policy): CompiledPolicy {
  const rules: CompiledRule[] = policy.rules.map((rule) => {
    const c: CompiledRule = { rule };
    if (rule.issuer !== undefined) c.issuer = compileGlob(rule.issuer);
    if (rule.workload !== undefined) c.workload = compileGlob(rule.workload);
    if (rule.token_kinds !== undefined) c.kinds = new Set(rule.token_kinds);
    if (rule.scopes !== undefined) c.scopes = compileGlobs(rule.scopes);
    if (rule.audiences !== undefined) c.audiences = compileGlobs(rule.audiences);
    if (rule.networks !== undefined || rule.asns !== undefined || rule.network_labels !== undefined) {
      c.network = compileNetworkList({ cidrs: rule.networks, asns: rule.asns, labels: rule.network_labels });
    }
    return c;
  });

  function match(event: TokenEvent): CompiledRule | undefined {
    for (const c of rules) {
      if (c.issuer && (event.issuer === undefined || !c.issuer(event.issuer))) continue;
      if (c.workload && (event.workload === undefined || !(c.workload(event.workload.id) || c.workload(workloadLabel(event.workload))))) continue;
      return c;
    }
    return undefined;
  }

  return {
    ruleFor: (event) => match(event)?.rule,
    judge(event) {
      if (event.action !== 'mint') return [];
      const c = match(event);
      if (!c) {
        if (policy.default !== 'deny' || event.issuer === undefined) return [];
        return [{ kind: 'unlisted_issuer', rule: 'default', values: [event.issuer], allowed: [] }];
      }
      const out: Violation[] = [];
      const id = c.rule.id;
      if (c.kinds && event.token.kind !== 'unknown' && !c.kinds.has(event.token.kind)) {
        out.push({ kind: 'token_kind_not_allowed', rule: id, values: [event.token.kind], allowed: [...c.kinds] });
      }
      const scopes = mintScopes(event);
      if (c.scopes && scopes) {
        const bad = scopes.filter((s) => !c.scopes!(s));
        if (bad.length > 0) out.push({ kind: 'scope_not_allowed', rule: id, values: bad, allowed: c.rule.scopes ?? [] });
      }
      if (c.audiences && event.audience) {
        const bad = event.audience.filter((a) => !c.audiences!(a));
        if (bad.length > 0) out.push({ kind: 'audience_not_allowed', rule: id, values: bad, allowed: c.rule.audiences ?? [] });
      }
      const lifetime = mintLifetimeSeconds(event);
      const max = c.rule.max_lifetime_seconds;
      if (max !== undefined && lifetime !== undefined && lifetime > max) {
        out.push({ kind: 'lifetime_exceeded', rule: id, values: [String(lifetime)], allowed: [max] });
      }
      if (c.network && c.network(event.network) === 'outside') {
        const n = event.network!;
        const where = [n.ip, n.asn !== undefined ? `AS${n.asn.replace(/^as/i, '')}` : undefined, n.label].filter((x): x is string => x !== undefined);
        out.push({ kind: 'network_not_allowed', rule: id, values: where, allowed: [...(c.rule.networks ?? []), ...(c.rule.asns ?? []), ...(c.rule.network_labels ?? [])] });
      }
      return out;
    },
  };
}
