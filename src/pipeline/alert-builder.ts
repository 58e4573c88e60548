/**
 * AlertDraft → Alert: deterministic id, evidence reduced to what an analyst needs, and the
 * detector's ATT&CK / OWASP NHI mapping. The id hashes the detector, kind, dedup key and the
 * triggering event id, so a crash-and-replay re-derives the same id and sinks can dedupe.
 */
import { sha256Hex } from '../core/hash.js';
import { isoTime } from '../core/time.js';
import type { Alert, EvidenceEvent } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { AlertDraft, DetectorMeta } from '../../detectors/types.js';
import { enrichmentVersions } from '../enrich/provenance.js';

const MAX_EVIDENCE = 20;

export function toEvidence(e: TokenEvent): EvidenceEvent {
  const scopes = e.scopes_used ?? e.scopes_granted ?? e.scopes_requested;
  return {
    event_id: e.event_id,
    time: isoTime(e.time),
    source: e.source,
    action: e.action,
    ...(e.operation !== undefined && { operation: e.operation }),
    ...(e.network?.ip !== undefined ? { ip: e.network.ip } : e.network?.label !== undefined ? { ip: e.network.label } : {}),
    ...(e.user_agent !== undefined && { user_agent: e.user_agent }),
    ...(e.service !== undefined && { service: e.service }),
    ...(e.workload !== undefined && { workload: `${e.workload.kind}:${e.workload.id}` }),
    ...(scopes !== undefined && { scopes }),
  };
}

export function buildAlert(meta: DetectorMeta, draft: AlertDraft): Alert {
  const events = draft.events.length > MAX_EVIDENCE ? [...draft.events.slice(0, 1), ...draft.events.slice(-(MAX_EVIDENCE - 1))] : draft.events;
  const first = events[0];
  const trigger = events[events.length - 1];
  const kindMeta = meta.kinds[draft.kind];
  if (!kindMeta) throw new Error(`detector ${meta.id} emitted undeclared kind "${draft.kind}"`);
  const attack = kindMeta.mitre_attack ?? meta.mitre_attack;
  return {
    schema_version: 1,
    alert_id: sha256Hex(`${meta.id}\0${draft.kind}\0${draft.dedup_key}\0${trigger?.event_id ?? ''}`),
    detector: meta.id,
    detector_version: meta.version,
    kind: draft.kind,
    severity: draft.severity ?? kindMeta.severity,
    score: Math.min(1, Math.max(0, Number.isFinite(draft.score) ? draft.score : 0)),
    title: draft.title,
    summary: draft.summary,
    ...(draft.token_fp !== undefined && { token_fp: draft.token_fp }),
    ...(draft.issuer !== undefined && { issuer: draft.issuer }),
    ...(draft.subject !== undefined && { subject: draft.subject }),
    ...(draft.service !== undefined && { service: draft.service }),
    first_seen: isoTime(first?.time ?? 0),
    last_seen: isoTime(trigger?.time ?? 0),
    evidence: { events: events.map(toEvidence), baseline: withEnrichment(draft.baseline) },
    mitre_attack: [...attack],
    owasp_nhi: [...meta.owasp_nhi],
    runbook: meta.runbook,
    dedup_key: `${meta.id}:${draft.dedup_key}`,
  };
}

/** The versions of the IP enrichment data the events were enriched with, when it is loaded. */
function withEnrichment(baseline: Record<string, unknown>): Record<string, unknown> {
  const enrichment = enrichmentVersions();
  return enrichment === undefined ? baseline : { ...baseline, enrichment };
}
