/**
 * Alert → OCSF 1.8.0 Detection Finding (class_uid 2004), a pure function: the same alert
 * always gives the same finding (times are the alert's event times, never the wall clock).
 *
 * Where the alert's fields go:
 *   alert_id → finding_info.uid and metadata.uid (one Create event per alert)
 *   detector/kind → finding_info.analytic; title/summary → finding_info.title/desc, message
 *   first_seen/last_seen → finding_info.first/last_seen_time, start/end_time; time = last_seen
 *   severity → severity_id; dedup_key → metadata.correlation_uid; owasp_nhi → finding_info.tags
 *   token_fp / issuer / service → resources; evidence events → evidences + related_events
 *   mitre_attack → attacks (and finding_info.attacks); runbook → remediation.desc
 *   score and evidence.baseline → unmapped: the baseline is a per-detector record (medians,
 *     known sets, home context) with no OCSF home — `enrichments` describe one attribute's
 *     value and need a string `value`, `anomaly_analyses` would flatten it into string
 *     observations — so it is kept whole and visible as `unmapped.baseline`.
 * Never a raw token: the alert holds only keyed fingerprints, and only those are copied.
 */
import { isIP } from 'node:net';
import type { Alert, EvidenceEvent, Severity } from '../../schemas/alert.js';
import { ATTACK_TECHNIQUES } from './attack-catalog.js';
import { OCSF_VERSION } from './validate.js';
import { TOKENWATCH_VERSION } from './product-version.js';

export const DETECTION_FINDING_CLASS_UID = 2004;
const CATEGORY_UID = 2; // Findings
const ACTIVITY_CREATE = 1;

const SEVERITY_ID: Record<Severity, number> = { low: 2, medium: 3, high: 4, critical: 5 };
const SEVERITY_CAPTION: Record<Severity, string> = { low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical' };

/** analytic.type_id: how each detector decides (OCSF 1 Rule, 2 Behavioral, 3 Statistical). */
const ANALYTIC_TYPE: Record<Alert['detector'], { id: number; caption: string }> = {
  mint_rate_spike: { id: 3, caption: 'Statistical' }, // robust seasonal baseline, MAD score
  credential_context: { id: 2, caption: 'Behavioral' }, // contexts new to a token's learned profile
  scope_drift: { id: 2, caption: 'Behavioral' }, // scopes beyond the issuer's history
  token_replay: { id: 1, caption: 'Rule' }, // use after revoke/expiry, one-time reuse
  cross_service_reuse: { id: 1, caption: 'Rule' }, // audience / workload binding rules
  policy_violation: { id: 1, caption: 'Rule' }, // the declared issuer policy
};

/** The finding as a plain JSON object (the OCSF schema, not TypeScript, is its contract). */
export type DetectionFinding = Record<string, unknown>;

/** An alert may carry how many repeats the engine folded into it (incidents work adds it). */
type AlertWithRepeats = Alert & { suppressed_repeats?: number };

export function toDetectionFinding(alert: Alert): DetectionFinding {
  const first = Date.parse(alert.first_seen);
  const last = Date.parse(alert.last_seen);
  const events = alert.evidence.events;
  const attacks = toAttacks(alert.mitre_attack);
  const analytic = ANALYTIC_TYPE[alert.detector];
  const repeats = (alert as AlertWithRepeats).suppressed_repeats;
  return {
    class_uid: DETECTION_FINDING_CLASS_UID,
    class_name: 'Detection Finding',
    category_uid: CATEGORY_UID,
    category_name: 'Findings',
    activity_id: ACTIVITY_CREATE,
    activity_name: 'Create',
    type_uid: DETECTION_FINDING_CLASS_UID * 100 + ACTIVITY_CREATE,
    type_name: 'Detection Finding: Create',
    time: last,
    start_time: first,
    end_time: last,
    ...(typeof repeats === 'number' && Number.isInteger(repeats) && repeats >= 0 && { count: 1 + repeats }),
    severity_id: SEVERITY_ID[alert.severity],
    severity: SEVERITY_CAPTION[alert.severity],
    status_id: 1,
    status: 'New',
    is_alert: true,
    // security_control profile: tokenwatch observes and reports, it blocks nothing
    action_id: 3,
    action: 'Observed',
    disposition_id: 15,
    disposition: 'Detected',
    message: alert.summary,
    metadata: {
      version: OCSF_VERSION,
      profiles: ['security_control'],
      product: { name: 'tokenwatch', vendor_name: 'tokenwatch', version: TOKENWATCH_VERSION },
      uid: alert.alert_id,
      correlation_uid: alert.dedup_key,
      original_time: alert.last_seen,
    },
    finding_info: {
      uid: alert.alert_id,
      title: alert.title,
      desc: alert.summary,
      analytic: {
        name: `${alert.detector}/${alert.kind}`,
        uid: `${alert.detector}:${alert.kind}`,
        type_id: analytic.id,
        type: analytic.caption,
        version: String(alert.detector_version),
      },
      types: [`tokenwatch/${alert.detector}/${alert.kind}`],
      first_seen_time: first,
      last_seen_time: last,
      data_sources: unique(events.map((e) => e.source)),
      related_events: events.map((e) => ({ uid: e.event_id, type: e.action, product: { name: e.source }, first_seen_time: Date.parse(e.time) })),
      related_events_count: events.length,
      ...(attacks.length > 0 && { attacks }),
      ...(alert.owasp_nhi.length > 0 && { tags: [{ name: 'owasp_nhi', values: [...alert.owasp_nhi] }] }),
    },
    // security_control profile: the same ATT&CK mapping at the top level too (a separate copy)
    ...(attacks.length > 0 && { attacks: toAttacks(alert.mitre_attack) }),
    resources: toResources(alert),
    observables: toObservables(alert),
    evidences: events.map((e) => toEvidence(alert, e)),
    remediation: { desc: alert.runbook },
    unmapped: { score: alert.score, baseline: alert.evidence.baseline },
  };
}

function toAttacks(ids: readonly string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const id of ids) {
    const dot = id.indexOf('.');
    const parentId = dot > 0 ? id.slice(0, dot) : id;
    const parent = ATTACK_TECHNIQUES[parentId];
    const self = ATTACK_TECHNIQUES[id];
    const technique = { uid: parentId, ...(parent && { name: parent.name }) };
    const sub = dot > 0 ? { sub_technique: { uid: id, ...(self && { name: self.name }) } } : {};
    const tactics = (self ?? parent)?.tactics ?? [];
    if (tactics.length === 0) out.push({ technique, ...sub });
    for (const t of tactics) out.push({ technique, ...sub, tactic: { uid: t.uid, name: t.name } });
  }
  return out;
}

function toResources(alert: Alert): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const kind = alert.evidence.baseline.token_kind;
  // role_id: 3 Affected (the credential, or the issuer when no single token), 4 Related, 1 Target
  if (alert.token_fp !== undefined) out.push({ uid: alert.token_fp, type: 'token', role_id: 3, role: 'Affected', ...(typeof kind === 'string' && { labels: [kind] }) });
  if (alert.issuer !== undefined) out.push({ uid: alert.issuer, type: 'token_issuer', ...(alert.token_fp !== undefined ? { role_id: 4, role: 'Related' } : { role_id: 3, role: 'Affected' }) });
  if (alert.service !== undefined) out.push({ name: alert.service, type: 'service', role_id: 1, role: 'Target' });
  return out;
}

function toObservables(alert: Alert): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const add = (type_id: number, type: string, name: string, value: string | undefined): void => {
    if (value === undefined || value === '') return;
    const key = `${type_id}\0${value}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ type_id, type, name, value });
  };
  add(10, 'Resource UID', 'resources.uid', alert.token_fp);
  add(10, 'Resource UID', 'resources.uid', alert.issuer);
  add(31, 'User Object: uid', 'evidences.actor.user.uid', alert.subject);
  for (const e of alert.evidence.events) {
    if (e.ip !== undefined && isIP(e.ip) !== 0) add(2, 'IP Address', 'evidences.src_endpoint.ip', e.ip);
    add(16, 'HTTP User-Agent', 'evidences.http_request.user_agent', e.user_agent);
  }
  return out;
}

function toEvidence(alert: Alert, e: EvidenceEvent): Record<string, unknown> {
  // `ip` may be a vendor network label (an AWS service principal) rather than an address
  const src = e.ip === undefined ? undefined : isIP(e.ip) !== 0 ? { ip: e.ip } : { name: e.ip };
  const session = alert.token_fp !== undefined || alert.issuer !== undefined ? { ...(alert.token_fp !== undefined && { credential_uid: alert.token_fp }), ...(alert.issuer !== undefined && { issuer: alert.issuer }) } : undefined;
  const actor = session || alert.subject !== undefined || e.workload !== undefined
    ? { ...(session && { session }), ...(alert.subject !== undefined && { user: { uid: alert.subject } }), ...(e.workload !== undefined && { app_name: e.workload }) }
    : undefined;
  return {
    uid: e.event_id,
    name: e.operation ?? e.action,
    ...(src && { src_endpoint: src }),
    ...(e.service !== undefined && { dst_endpoint: { svc_name: e.service } }),
    ...(e.user_agent !== undefined && { http_request: { user_agent: e.user_agent } }),
    ...(actor && { actor }),
    // the event as the alert holds it: the evidence constraint is met even with no endpoint or actor
    data: e,
  };
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}
