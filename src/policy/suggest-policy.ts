/**
 * Least-privilege policy from observed mints: per issuer, exactly the token kinds, scopes and
 * audiences it was seen minting, its longest lifetime, and the networks it minted from (/24 or
 * /48 blocks, or ASNs; vendor labels for the non-address values CloudTrail puts where the IP
 * goes). A dimension never observed is left out of the rule (not restricted). Sets are bounded
 * per issuer; an issuer that overflows one keeps that dimension unrestricted and is reported.
 */
import type { Policy, PolicyRule } from '../../schemas/policy.js';
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';
import { isIP } from 'node:net';
import { mintLifetimeSeconds, mintScopes } from './evaluate-policy.js';
import { blockOf, normalizeAsn } from './network-match.js';

export type NetworkGranularity = 'block' | 'asn';

export interface SuggestOptions {
  /** block: IPs as their /24 (/48); asn: IPs with a known ASN as the ASN, others as their block. */
  networks: NetworkGranularity;
  /** Values kept per issuer and dimension before the dimension is left unrestricted. */
  maxValues: number;
  default: Policy['default'];
}

export const DEFAULT_SUGGEST_OPTIONS: SuggestOptions = { networks: 'block', maxValues: 256, default: 'allow' };

interface IssuerSeen {
  mints: number;
  kinds: Set<TokenKind>;
  scopes: Set<string> | null; // null: overflowed
  audiences: Set<string> | null;
  maxLifetime?: number;
  networks: Set<string> | null;
  asns: Set<string> | null;
  labels: Set<string> | null;
  sawScopes: boolean;
  sawAudience: boolean;
  sawNetwork: boolean;
}

export interface SuggestSummary {
  mints: number;
  issuers: number;
  mints_without_issuer: number;
  /** issuer → dimensions left unrestricted because they exceeded maxValues. */
  overflowed: Record<string, string[]>;
}

/** Rule id from an issuer: the policy's id alphabet, ≤128 chars, unique. */
function ruleId(issuer: string, used: Set<string>): string {
  const base = issuer.replace(/[^A-Za-z0-9._:/@-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 120) || 'issuer';
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
  used.add(id);
  return id;
}

export class PolicySuggester {
  private readonly issuers = new Map<string, IssuerSeen>();
  private readonly summary: SuggestSummary = { mints: 0, issuers: 0, mints_without_issuer: 0, overflowed: {} };

  constructor(private readonly opts: SuggestOptions = DEFAULT_SUGGEST_OPTIONS) {}

  private add(seen: IssuerSeen, dim: 'scopes' | 'audiences' | 'networks' | 'asns' | 'labels', value: string, issuer: string): void {
    const set = seen[dim];
    if (set === null || set.has(value)) return;
    if (set.size >= this.opts.maxValues) {
      seen[dim] = null;
      (this.summary.overflowed[issuer] ??= []).push(dim);
      return;
    }
    set.add(value);
  }

  /** Fold one event in; only successful mints teach the policy. */
  observe(e: TokenEvent): void {
    if (e.action !== 'mint' || e.outcome === 'failure') return;
    this.summary.mints++;
    const issuer = e.issuer;
    if (issuer === undefined) {
      this.summary.mints_without_issuer++;
      return;
    }
    let seen = this.issuers.get(issuer);
    if (!seen) {
      seen = { mints: 0, kinds: new Set(), scopes: new Set(), audiences: new Set(), networks: new Set(), asns: new Set(), labels: new Set(), sawScopes: false, sawAudience: false, sawNetwork: false };
      this.issuers.set(issuer, seen);
    }
    seen.mints++;
    if (e.token.kind !== 'unknown') seen.kinds.add(e.token.kind);
    const scopes = mintScopes(e);
    if (scopes) {
      seen.sawScopes = true;
      for (const s of scopes) this.add(seen, 'scopes', s, issuer);
    }
    if (e.audience) {
      seen.sawAudience = true;
      for (const a of e.audience) this.add(seen, 'audiences', a, issuer);
    }
    const life = mintLifetimeSeconds(e);
    if (life !== undefined) seen.maxLifetime = Math.max(seen.maxLifetime ?? 0, life);
    const n = e.network;
    if (n) {
      const ip = n.ip?.trim();
      const isAddress = ip !== undefined && isIP(ip) !== 0;
      if (isAddress) {
        seen.sawNetwork = true;
        if (this.opts.networks === 'asn' && n.asn !== undefined) this.add(seen, 'asns', `AS${normalizeAsn(n.asn)}`, issuer);
        else this.add(seen, 'networks', blockOf(ip)!, issuer);
      } else if (ip || n.label) {
        seen.sawNetwork = true;
        // a service principal / vendor label where the IP goes: allow that label
        this.add(seen, 'labels', n.label ?? ip!, issuer);
      } else if (n.asn !== undefined) {
        seen.sawNetwork = true;
        this.add(seen, 'asns', `AS${normalizeAsn(n.asn)}`, issuer);
      }
    }
  }

  policy(): Policy {
    const used = new Set<string>();
    const rules: PolicyRule[] = [];
    for (const issuer of [...this.issuers.keys()].sort()) {
      const s = this.issuers.get(issuer)!;
      const rule: PolicyRule = { id: ruleId(issuer, used), issuer };
      if (s.kinds.size > 0) rule.token_kinds = [...s.kinds].sort();
      if (s.sawScopes && s.scopes) rule.scopes = [...s.scopes].sort();
      if (s.sawAudience && s.audiences) rule.audiences = [...s.audiences].sort();
      if (s.maxLifetime !== undefined && s.maxLifetime > 0) rule.max_lifetime_seconds = s.maxLifetime;
      // a network dimension that overflowed leaves the rule's networks unrestricted as a whole
      if (s.sawNetwork && s.networks && s.asns && s.labels) {
        if (s.networks.size > 0) rule.networks = [...s.networks].sort();
        if (s.asns.size > 0) rule.asns = [...s.asns].sort();
        if (s.labels.size > 0) rule.network_labels = [...s.labels].sort();
      }
      rules.push(rule);
    }
    return { version: 1, default: this.opts.default, rules };
  }

  stats(): SuggestSummary {
    return { ...this.summary, issuers: this.issuers.size };
  }
}
