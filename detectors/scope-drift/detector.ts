/**
 * scope_drift, keyed by issuer. Per issuer: a bounded baseline of granted+used scopes (with
 * first/last seen), the scopes already reported as probed, and an LRU of recent tokens' grants.
 * The baseline is only trusted after a learning period in event time; after an alert the new
 * scope joins the baseline, so a sustained escalation alerts once per scope, not forever.
 *
 * A new scope is judged by privilege (privilege.ts: write/admin always alert) and by sensitivity
 * (sensitivity.ts): a read-only scope alerts when it is heavier in its class (pii, secrets, …)
 * than anything its issuer held before. Read-level alerts wait briefly for a deploy rollout
 * (rollout.ts) so a release adding a scope to many clients of one app does not page.
 */
import type { Severity } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { KeyedStore, fromStateKey, keyStateOf, putKeyState, toStateKey } from '../../src/core/keyed-store.js';
import { SHARED_STATE_KEY, type AlertDraft, type DetectorInstance } from '../types.js';
import type { ScopeDriftConfig } from './config.js';
import { scopeDriftMeta } from './meta.js';
import { PRIVILEGE_SEVERITY, PRIVILEGE_WEIGHT, classifyScope, highestPrivilege } from './privilege.js';
import type { PrivilegeLevel } from './privilege.js';
import { RolloutTracker } from './rollout.js';
import type { RolloutSnapshot } from './rollout.js';
import { createSensitivityClassifier, mergeSensitivePatterns } from './sensitivity.js';
import type { ScopeSensitivity } from './sensitivity.js';

const HOUR_MS = 3_600_000;
const MIN_MS = 60_000;
/** Scopes named per class in the evidence of what an issuer held before. */
const EVIDENCE_CLASS_SCOPES = 10;
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
  /** 1: before rollouts (restores with none pending). */
  version: 1 | 2;
  issuers: [string, { value: IssuerJson; touched: number }][];
  rollouts?: RolloutSnapshot;
}

/** What the issuer already held per sensitivity class: the heaviest weight and some of its scopes. */
type HeldClasses = Map<string, { weight: number; scopes: string[] }>;

/** How a set of new scopes is judged: which to report, and how loud. */
interface Judgement {
  reportable: string[];
  levels: Record<string, PrivilegeLevel>;
  top: PrivilegeLevel;
  /** Sensitivity of the reportable scopes that match a pattern. */
  sensitivity: Record<string, ScopeSensitivity>;
  /** Reportable read-level scopes heavier in their class than what the issuer held. */
  sensitiveNew: string[];
  /** Only built when a new read-level scope is sensitive enough to compare. */
  held: HeldClasses | undefined;
  severity: Severity;
  score: number;
}

/** The judgement of no new scopes (a use within the baseline: the common case, no allocation). */
const NOTHING_NEW: Judgement = Object.freeze({
  reportable: [], levels: {}, top: 'read', sensitivity: {}, sensitiveNew: [], held: undefined, severity: 'low', score: 0,
}) as Judgement;

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const maxSeverity = (a: Severity, b: Severity): Severity => (SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b);
const nonEmpty = (s: string): boolean => s.length > 0;
const uniq = (xs: readonly string[] | undefined): string[] => [...new Set((xs ?? []).filter(nonEmpty))];
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
  const issuers = new KeyedStore<IssuerState>(config.max_issuers, config.issuer_idle_ttl_hours * HOUR_MS);
  const learningMs = config.learning_hours * HOUR_MS;
  const sensitivityOf = createSensitivityClassifier(mergeSensitivePatterns(config.sensitive_patterns));
  const rollouts = new RolloutTracker({
    minIssuers: config.rollout_min_issuers,
    windowMs: config.rollout_window_minutes * MIN_MS,
    holdMs: config.rollout_hold_minutes * MIN_MS,
    maxScopes: config.max_rollout_scopes,
    maxPending: config.max_pending_alerts,
  });

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

  /** Whether no scope of `used` is outside the token's grant (when known) or, once learned, new to the issuer. */
  function withinBaseline(st: IssuerState, used: readonly string[], grant: TokenGrant | undefined, learned: boolean): boolean {
    for (const s of used) {
      if (s.length === 0) continue;
      if (grant !== undefined && !grant.granted.includes(s) && !grant.flagged.includes(s)) return false;
      if (learned && !st.scopes.has(s)) return false;
    }
    return true;
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

  const isReadLevel = (level: PrivilegeLevel): boolean => level === 'read' || level === 'other';

  /** Per sensitivity class, the heaviest scope the issuer already holds (only built when a new scope is sensitive). */
  function heldClasses(st: IssuerState): HeldClasses {
    const held: HeldClasses = new Map();
    for (const scope of st.scopes.keys()) {
      const sens = sensitivityOf(scope);
      if (!sens) continue;
      const h = held.get(sens.class);
      if (!h) held.set(sens.class, { weight: sens.weight, scopes: [scope] });
      else {
        h.weight = Math.max(h.weight, sens.weight);
        if (h.scopes.length < EVIDENCE_CLASS_SCOPES) h.scopes.push(scope);
      }
    }
    return held;
  }

  /**
   * Judges scopes new to the issuer's baseline: write/admin always, read/unclassified per the
   * alert_on_* switches, and any read-level scope heavier in its sensitivity class than what the
   * issuer held before (a PII read scope for a client that never read PII).
   */
  function judgeFresh(st: IssuerState, fresh: string[]): Judgement {
    const levels = levelsOf(fresh);
    const sensitivity: Record<string, ScopeSensitivity> = {};
    let held: HeldClasses | undefined;
    const sensitiveNew: string[] = [];
    const reportable: string[] = [];
    for (const s of fresh) {
      const sens = sensitivityOf(s);
      if (sens) sensitivity[s] = sens;
      let report = alertable(levels[s]!);
      if (sens && isReadLevel(levels[s]!) && sens.weight >= config.sensitive_min_weight) {
        held ??= heldClasses(st);
        if (sens.weight > (held.get(sens.class)?.weight ?? 0)) {
          sensitiveNew.push(s);
          report = true;
        }
      }
      if (report) reportable.push(s);
    }
    for (const s of Object.keys(sensitivity)) if (!reportable.includes(s)) delete sensitivity[s];
    const top = highestPrivilege(reportable.map((s) => levels[s]!));
    let severity = PRIVILEGE_SEVERITY[top];
    let weight = PRIVILEGE_WEIGHT[top];
    for (const s of reportable) weight = Math.max(weight, sensitivity[s]?.weight ?? 0);
    for (const s of sensitiveNew) severity = maxSeverity(severity, sensitivity[s]!.weight >= 0.75 ? 'high' : 'medium');
    return { reportable, levels, top, sensitivity, sensitiveNew, held, severity, score: 0.3 + 0.7 * weight };
  }

  /** `customers.pii.read (pii, weight 0.8; okta:x held no pii scope)` for each sensitive new scope. */
  function explainSensitive(issuer: string, j: Judgement): string {
    if (j.sensitiveNew.length === 0) return '';
    const parts = [...j.sensitiveNew].sort().map((s) => {
      const sens = j.sensitivity[s]!;
      const h = j.held?.get(sens.class);
      const before = h
        ? `its ${sens.class} scopes so far weighed at most ${h.weight} (${[...h.scopes].sort().join(', ')})`
        : `${issuer} held no ${sens.class} scope before`;
      return `${s} (${sens.class}, matched "${sens.pattern}", weight ${sens.weight}; ${before})`;
    });
    return ` Sensitive: ${parts.join('; ')}.`;
  }

  /** `Baseline: 3 scope(s) seen since …: a, b, c.` */
  function explainBaseline(st: IssuerState): string {
    const known = [...st.scopes.keys()].sort();
    const shown = known.slice(0, 12).join(', ');
    return ` Baseline: ${known.length} scope(s) seen since ${iso(st.first_time)}${known.length ? `: ${shown}${known.length > 12 ? ', …' : ''}` : ''}.`;
  }

  const sensitivityEvidence = (j: Judgement): Record<string, unknown> => ({
    sensitivity: j.sensitivity,
    sensitive_new: [...j.sensitiveNew].sort(),
    // per class, the heaviest weight the issuer held before and some of those scopes
    ...(j.held
      ? { held_sensitivity: Object.fromEntries([...j.held].sort(([a], [b]) => a.localeCompare(b)).map(([c, h]) => [c, { weight: h.weight, scopes: [...h.scopes].sort() }])) }
      : {}),
  });

  /**
   * Write/admin drafts go out at once; read-level ones are held for a rollout (rollout.ts). The
   * authority (the IdP or authorization server) stands for "the same app's clients".
   */
  function emitOrHold(d: AlertDraft, j: Judgement, event: TokenEvent, issuer: string, out: AlertDraft[]): void {
    if (!isReadLevel(j.top)) {
      out.push(d);
      return;
    }
    const authority = event.authority ?? event.platform;
    const keys = j.reportable.map((s) => RolloutTracker.key(authority, s));
    for (const k of keys) rollouts.note(k, issuer, event.time);
    for (const held of rollouts.hold(d, keys, event.time)) out.push(held);
  }

  function onMint(st: IssuerState, event: TokenEvent, issuer: string, learned: boolean, out: AlertDraft[]): void {
    const granted = uniq(event.scopes_granted);
    // Probing is only judged when the grant is known: an absent grant is not a refusal.
    if (event.scopes_granted !== undefined) {
      const grantedSet = new Set(granted);
      const missing = uniq(event.scopes_requested).filter((s) => !grantedSet.has(s) && !st.probed.has(s));
      const levels = levelsOf(missing);
      const reportable: string[] = [];
      const sensitivity: Record<string, ScopeSensitivity> = {};
      let sensitiveRefused = false;
      for (const s of missing) {
        markProbed(st, s, event.time);
        const sens = sensitivityOf(s);
        // a refused sensitive read scope is probing once the issuer's own requests are known
        const sensitive = learned && sens !== undefined && sens.weight >= config.sensitive_min_weight;
        if (!alertable(levels[s]!) && !sensitive) continue;
        reportable.push(s);
        if (sens) sensitivity[s] = sens;
        sensitiveRefused ||= sensitive;
      }
      if (reportable.length > 0) {
        const top = highestPrivilege(reportable.map((s) => levels[s]!));
        const severity: Severity = top === 'admin' || top === 'write' ? 'high' : top === 'other' || sensitiveRefused ? 'medium' : 'low';
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
              sensitivity,
              requested: uniq(event.scopes_requested).sort(),
              granted: [...granted].sort(),
            }),
          ),
        );
      }
    }

    const fresh = granted.filter((s) => !st.scopes.has(s));
    if (learned && fresh.length > 0) {
      const j = judgeFresh(st, fresh);
      if (j.reportable.length > 0) {
        const d = draft(
          'granted_beyond_baseline',
          event,
          issuer,
          j.reportable,
          j.severity,
          j.score,
          `${issuer} was granted ${j.reportable.length} scope(s) it never had before (highest privilege: ${j.top}): ` +
            `${[...j.reportable].sort().join(', ')}.${explainSensitive(issuer, j)}${explainBaseline(st)}`,
          baselineOf(st, learned, { new_scopes: [...j.reportable].sort(), privilege: j.levels, ...sensitivityEvidence(j) }),
        );
        emitOrHold(d, j, event, issuer, out);
      }
    }
    for (const s of granted) remember(st, s, event.time);
    if (granted.length > 0) setTokenGrant(st, event.token.fp, granted);
  }

  function onUse(st: IssuerState, event: TokenEvent, issuer: string, learned: boolean, out: AlertDraft[]): void {
    const raw = event.scopes_used;
    if (raw === undefined || !raw.some(nonEmpty)) return; // as before: no scope, no touch of the token's grant
    const grant = tokenGrant(st, event.token.fp, true);
    // The common case — every scope used is granted to the token and known to the issuer — needs
    // no sets, filters or copies: one allocation-free pass decides it (a fifth of stage 2's garbage
    // came from this function before).
    if (withinBaseline(st, raw, grant, learned)) {
      for (const s of raw) if (s.length > 0) remember(st, s, event.time);
      return;
    }
    const used = uniq(raw);
    const grantSet = new Set(grant?.granted ?? []);
    const flaggedSet = new Set(grant?.flagged ?? []);
    // Using a scope the token was never granted is suspicious whatever its privilege and
    // whether or not the issuer is still learning.
    const notGranted = grant ? used.filter((s) => !grantSet.has(s) && !flaggedSet.has(s)) : [];
    const fresh = learned ? used.filter((s) => !st.scopes.has(s) && !notGranted.includes(s)) : [];
    const j = fresh.length > 0 ? judgeFresh(st, fresh) : NOTHING_NEW;
    const reportable = [...notGranted, ...j.reportable];
    if (reportable.length > 0) {
      const levels = { ...levelsOf(notGranted), ...j.levels };
      const top = highestPrivilege(reportable.map((s) => levels[s]!));
      const severity = notGranted.length > 0 ? maxSeverity(maxSeverity(PRIVILEGE_SEVERITY[top], j.severity), 'high') : j.severity;
      const score = Math.max(j.score, 0.3 + 0.7 * PRIVILEGE_WEIGHT[top]) + (notGranted.length > 0 ? 0.15 : 0);
      const d = draft(
        'used_beyond_baseline',
        event,
        issuer,
        reportable,
        severity,
        score,
        `A token of ${issuer} used ${reportable.length} scope(s) outside the baseline (highest privilege: ${top}): ` +
          `${[...reportable].sort().join(', ')}` +
          (notGranted.length > 0 ? `; not granted to this token: ${[...notGranted].sort().join(', ')}.` : '.') +
          `${explainSensitive(issuer, j)}${explainBaseline(st)}`,
        baselineOf(st, learned, {
          new_scopes: [...reportable].sort(),
          not_granted_to_token: [...notGranted].sort(),
          token_granted: grant ? [...grant.granted].sort() : null,
          privilege: levels,
          ...sensitivityEvidence(j),
        }),
      );
      // a scope outside the token's own grant is never a rollout
      if (notGranted.length > 0) out.push(d);
      else emitOrHold(d, { ...j, top }, event, issuer, out);
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
      return rollouts.release(watermark);
    },
    snapshot(): ScopeDriftSnapshot {
      return {
        version: 2,
        issuers: [...issuers.entries()].map(([k, e]) => [k, { value: toJson(e.value), touched: e.touched }]),
        rollouts: rollouts.snapshot(),
      };
    },
    restore(state: ScopeDriftSnapshot): void {
      issuers.load(state.issuers.map(([k, e]) => [k, { value: fromJson(e.value), touched: e.touched }]));
      rollouts.restore(state.rollouts);
    },
    size(): number {
      return issuers.size + rollouts.size;
    },
    /** State keys: the issuer; SHARED_STATE_KEY for the task's rollout waves and held alerts. */
    changedKeys(): string[] {
      const keys = issuers.drainChanged().map(toStateKey);
      if (rollouts.takeChanged()) keys.push(SHARED_STATE_KEY);
      return keys;
    },
    getKey(key: string): unknown {
      const issuer = fromStateKey(key);
      if (issuer !== undefined) return keyStateOf(issuers, issuer, toJson);
      return key === SHARED_STATE_KEY && rollouts.size > 0 ? rollouts.snapshot() : undefined;
    },
    putKey(key: string, state: unknown): void {
      const issuer = fromStateKey(key);
      if (issuer !== undefined) putKeyState(issuers, issuer, state, fromJson);
      else if (key === SHARED_STATE_KEY) rollouts.put(state as RolloutSnapshot);
    },
  };
}
