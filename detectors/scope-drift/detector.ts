/**
 * scope_drift, keyed by issuer. Per issuer: a bounded baseline of granted+used scopes (with
 * first/last seen), the scopes already reported as probed, and an LRU of recent tokens' grants.
 * The baseline is only trusted after a learning period in event time; after an alert the new
 * scope joins the baseline, so a sustained escalation alerts once per scope, not forever.
 */
import type { Severity } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { KeyedState } from '../../src/core/keyed-state.js';
import type { AlertDraft, DetectorInstance } from '../types.js';
import type { ScopeDriftConfig } from './config.js';
import { scopeDriftMeta } from './meta.js';
import { PRIVILEGE_SEVERITY, PRIVILEGE_WEIGHT, classifyScope, highestPrivilege } from './privilege.js';
import type { PrivilegeLevel } from './privilege.js';

const HOUR_MS = 3_600_000;
/** Known scopes listed in an alert's baseline; the count is always given in full. */
const EVIDENCE_KNOWN_SCOPES = 50;

interface ScopeSeen {
  first_seen: number;
  last_seen: number;
}

interface TokenGrant {
  granted: string[];
  /** Scopes this token already alerted for using without a grant. */
  flagged: string[];
}

interface IssuerState {
  first_time: number;
  events: number;
  scopes: Map<string, ScopeSeen>;
  /** Scopes already reported as requested-not-granted → time reported. */
  probed: Map<string, number>;
  /** Token fp → its grant; Map order is LRU order. */
  tokens: Map<string, TokenGrant>;
}

interface IssuerJson {
  first_time: number;
  events: number;
  scopes: [string, number, number][];
  probed: [string, number][];
  tokens: [string, string[], string[]][];
}

export interface ScopeDriftSnapshot {
  version: 1;
  issuers: [string, { value: IssuerJson; touched: number }][];
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const maxSeverity = (a: Severity, b: Severity): Severity => (SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b);
const uniq = (xs: readonly string[] | undefined): string[] => [...new Set((xs ?? []).filter((s) => s.length > 0))];
const iso = (t: number): string => new Date(t).toISOString();

function toJson(s: IssuerState): IssuerJson {
  return {
    first_time: s.first_time,
    events: s.events,
    scopes: [...s.scopes].map(([k, v]) => [k, v.first_seen, v.last_seen]),
    probed: [...s.probed],
    tokens: [...s.tokens].map(([fp, t]) => [fp, [...t.granted], [...t.flagged]]),
  };
}

function fromJson(j: IssuerJson): IssuerState {
  return {
    first_time: j.first_time,
    events: j.events,
    scopes: new Map(j.scopes.map(([k, f, l]) => [k, { first_seen: f, last_seen: l }])),
    probed: new Map(j.probed),
    tokens: new Map(j.tokens.map(([fp, g, f]) => [fp, { granted: [...g], flagged: [...f] }])),
  };
}

export function createScopeDrift(config: ScopeDriftConfig): DetectorInstance<ScopeDriftSnapshot> {
  const issuers = new KeyedState<IssuerState>(config.max_issuers, config.issuer_idle_ttl_hours * HOUR_MS);
  const learningMs = config.learning_hours * HOUR_MS;

  /** Whether a new scope of this level is worth an alert (write/admin always are). */
  const alertable = (level: PrivilegeLevel): boolean =>
    level === 'read' ? config.alert_on_read_scopes : level === 'other' ? config.alert_on_unclassified_scopes : true;

  function remember(st: IssuerState, scope: string, time: number): void {
    const seen = st.scopes.get(scope);
    if (seen) {
      seen.last_seen = Math.max(seen.last_seen, time);
      seen.first_seen = Math.min(seen.first_seen, time);
      return;
    }
    if (st.scopes.size >= config.max_scopes_per_issuer) {
      let oldest: string | undefined;
      let oldestTime = Infinity;
      for (const [k, v] of st.scopes) {
        if (v.last_seen < oldestTime) {
          oldest = k;
          oldestTime = v.last_seen;
        }
      }
      if (oldest !== undefined) st.scopes.delete(oldest);
    }
    st.scopes.set(scope, { first_seen: time, last_seen: time });
  }

  function markProbed(st: IssuerState, scope: string, time: number): void {
    st.probed.delete(scope);
    st.probed.set(scope, time);
    if (st.probed.size > config.max_scopes_per_issuer) {
      const oldest = st.probed.keys().next().value;
      if (oldest !== undefined) st.probed.delete(oldest);
    }
  }

  function tokenGrant(st: IssuerState, fp: string, touch: boolean): TokenGrant | undefined {
    const g = st.tokens.get(fp);
    if (g && touch) {
      st.tokens.delete(fp);
      st.tokens.set(fp, g);
    }
    return g;
  }

  function setTokenGrant(st: IssuerState, fp: string, granted: string[]): void {
    const prev = st.tokens.get(fp);
    st.tokens.delete(fp);
    // A token's grant only grows across events (re-mint / refresh with the same fp).
    const merged = prev ? uniq([...prev.granted, ...granted]) : granted;
    st.tokens.set(fp, { granted: merged, flagged: prev?.flagged ?? [] });
    if (st.tokens.size > config.max_tokens_per_issuer) {
      const oldest = st.tokens.keys().next().value;
      if (oldest !== undefined) st.tokens.delete(oldest);
    }
  }

  function baselineOf(st: IssuerState, learned: boolean, extra: Record<string, unknown>): Record<string, unknown> {
    const known = [...st.scopes.keys()].sort();
    return {
      known_scopes: known.slice(0, EVIDENCE_KNOWN_SCOPES),
      known_scope_count: known.length,
      learning_since: iso(st.first_time),
      events_seen: st.events,
      learned,
      ...extra,
    };
  }

  function draft(
    kind: keyof typeof scopeDriftMeta.kinds & string,
    event: TokenEvent,
    issuer: string,
    scopes: string[],
    severity: Severity,
    score: number,
    summary: string,
    baseline: Record<string, unknown>,
  ): AlertDraft {
    const sorted = [...scopes].sort();
    return {
      kind,
      severity,
      score: Math.max(0, Math.min(1, score)),
      title: `${scopeDriftMeta.kinds[kind]?.title ?? kind}: ${sorted.join(', ')}`,
      summary,
      dedup_key: `${kind}:${issuer}:${sorted.join(',')}`,
      token_fp: event.token.fp,
      issuer,
      ...(event.subject !== undefined ? { subject: event.subject } : {}),
      ...(event.service !== undefined ? { service: event.service } : {}),
      events: [event],
      baseline,
    };
  }

  const levelsOf = (scopes: string[]): Record<string, PrivilegeLevel> =>
    Object.fromEntries(scopes.map((s) => [s, classifyScope(s)]));

  function onMint(st: IssuerState, event: TokenEvent, issuer: string, learned: boolean, out: AlertDraft[]): void {
    const granted = uniq(event.scopes_granted);
    // Probing is only judged when the grant is known: an absent grant is not a refusal.
    if (event.scopes_granted !== undefined) {
      const grantedSet = new Set(granted);
      const missing = uniq(event.scopes_requested).filter((s) => !grantedSet.has(s) && !st.probed.has(s));
      const levels = levelsOf(missing);
      const reportable = missing.filter((s) => alertable(levels[s]!));
      for (const s of missing) markProbed(st, s, event.time);
      if (reportable.length > 0) {
        const top = highestPrivilege(reportable.map((s) => levels[s]!));
        const severity: Severity = top === 'admin' || top === 'write' ? 'high' : top === 'other' ? 'medium' : 'low';
        out.push(
          draft(
            'requested_not_granted',
            event,
            issuer,
            reportable,
            severity,
            0.2 + 0.6 * PRIVILEGE_WEIGHT[top],
            `${issuer} requested ${reportable.length} scope(s) it was refused (highest privilege: ${top}): ` +
              `${[...reportable].sort().join(', ')}. A client asking for more than it may have is probing.`,
            baselineOf(st, learned, {
              new_scopes: [...reportable].sort(),
              privilege: levels,
              requested: uniq(event.scopes_requested).sort(),
              granted: [...granted].sort(),
            }),
          ),
        );
      }
    }

    const fresh = granted.filter((s) => !st.scopes.has(s));
    if (learned && fresh.length > 0) {
      const levels = levelsOf(fresh);
      const reportable = fresh.filter((s) => alertable(levels[s]!));
      if (reportable.length > 0) {
        const top = highestPrivilege(reportable.map((s) => levels[s]!));
        out.push(
          draft(
            'granted_beyond_baseline',
            event,
            issuer,
            reportable,
            PRIVILEGE_SEVERITY[top],
            0.3 + 0.7 * PRIVILEGE_WEIGHT[top],
            `${issuer} was granted ${reportable.length} scope(s) it never had before (highest privilege: ${top}): ` +
              `${[...reportable].sort().join(', ')}.`,
            baselineOf(st, learned, { new_scopes: [...reportable].sort(), privilege: levels }),
          ),
        );
      }
    }
    for (const s of granted) remember(st, s, event.time);
    if (granted.length > 0) setTokenGrant(st, event.token.fp, granted);
  }

  function onUse(st: IssuerState, event: TokenEvent, issuer: string, learned: boolean, out: AlertDraft[]): void {
    const used = uniq(event.scopes_used);
    if (used.length === 0) return;
    const grant = tokenGrant(st, event.token.fp, true);
    const grantSet = new Set(grant?.granted ?? []);
    const flaggedSet = new Set(grant?.flagged ?? []);
    // Using a scope the token was never granted is suspicious whatever its privilege and
    // whether or not the issuer is still learning.
    const notGranted = grant ? used.filter((s) => !grantSet.has(s) && !flaggedSet.has(s)) : [];
    const fresh = learned ? used.filter((s) => !st.scopes.has(s) && !notGranted.includes(s)) : [];
    const levels = levelsOf([...notGranted, ...fresh]);
    const reportable = [...notGranted, ...fresh.filter((s) => alertable(levels[s]!))];
    if (reportable.length > 0) {
      const top = highestPrivilege(reportable.map((s) => levels[s]!));
      const severity = notGranted.length > 0 ? maxSeverity(PRIVILEGE_SEVERITY[top], 'high') : PRIVILEGE_SEVERITY[top];
      const score = 0.3 + 0.7 * PRIVILEGE_WEIGHT[top] + (notGranted.length > 0 ? 0.15 : 0);
      out.push(
        draft(
          'used_beyond_baseline',
          event,
          issuer,
          reportable,
          severity,
          score,
          `A token of ${issuer} used ${reportable.length} scope(s) outside the baseline (highest privilege: ${top}): ` +
            `${[...reportable].sort().join(', ')}` +
            (notGranted.length > 0 ? `; not granted to this token: ${[...notGranted].sort().join(', ')}.` : '.'),
          baselineOf(st, learned, {
            new_scopes: [...reportable].sort(),
            not_granted_to_token: [...notGranted].sort(),
            token_granted: grant ? [...grant.granted].sort() : null,
            privilege: levels,
          }),
        ),
      );
    }
    if (grant && notGranted.length > 0) grant.flagged = uniq([...grant.flagged, ...notGranted]);
    for (const s of used) remember(st, s, event.time);
  }

  return {
    process(event: TokenEvent): AlertDraft[] {
      const issuer = event.issuer;
      if (issuer === undefined || issuer.length === 0) return [];
      const st = issuers.touch(issuer, event.time, () => ({
        first_time: event.time,
        events: 0,
        scopes: new Map(),
        probed: new Map(),
        tokens: new Map(),
      }));
      st.first_time = Math.min(st.first_time, event.time);
      const learned = st.events >= config.learning_min_events && event.time - st.first_time >= learningMs;
      const out: AlertDraft[] = [];
      if (event.action === 'mint') onMint(st, event, issuer, learned, out);
      else if (event.action === 'use') onUse(st, event, issuer, learned, out);
      st.events++;
      return out;
    },
    advance(watermark: number): AlertDraft[] {
      issuers.evictIdle(watermark);
      return [];
    },
    snapshot(): ScopeDriftSnapshot {
      return {
        version: 1,
        issuers: [...issuers.entries()].map(([k, e]) => [k, { value: toJson(e.value), touched: e.touched }]),
      };
    },
    restore(state: ScopeDriftSnapshot): void {
      issuers.load(state.issuers.map(([k, e]) => [k, { value: fromJson(e.value), touched: e.touched }]));
    },
    size(): number {
      return issuers.size;
    },
  };
}
