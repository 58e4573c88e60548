/**
 * The alert every detector emits, as written to NDJSON, ClickHouse and the Kafka alert topic.
 * Every alert explains itself: evidence events, the baseline it was judged against, and
 * its ATT&CK / OWASP NHI mapping.
 */
import { z } from 'zod';
import { SourceFormat, TokenAction } from './token-event.js';

export const DETECTOR_IDS = ['mint_rate_spike', 'token_replay', 'scope_drift', 'cross_service_reuse', 'credential_context', 'policy_violation'] as const;
export const DetectorId = z.enum(DETECTOR_IDS);
export type DetectorId = z.infer<typeof DetectorId>;

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

/** A token event reduced to what an analyst needs; never a raw token. */
export const EvidenceEvent = z.object({
  event_id: z.string(),
  time: z.string(), // ISO-8601, event time
  source: SourceFormat,
  action: TokenAction,
  operation: z.string().optional(),
  ip: z.string().optional(),
  user_agent: z.string().optional(),
  service: z.string().optional(),
  workload: z.string().optional(),
  scopes: z.array(z.string()).optional(),
});
export type EvidenceEvent = z.infer<typeof EvidenceEvent>;

export const Alert = z.object({
  schema_version: z.literal(1),
  /** sha256 of detector, kind, dedup key and window: the same input always gives the same id. */
  alert_id: z.string().regex(/^[0-9a-f]{32}$/),
  detector: DetectorId,
  detector_version: z.number().int().positive(),
  kind: z.string().min(1),
  severity: Severity,
  score: z.number().min(0).max(1),
  title: z.string(),
  summary: z.string(),
  token_fp: z.string().optional(),
  issuer: z.string().optional(),
  subject: z.string().optional(),
  service: z.string().optional(),
  first_seen: z.string(), // ISO-8601 event time of the first evidence event
  last_seen: z.string(),
  evidence: z.object({
    events: z.array(EvidenceEvent).max(50),
    baseline: z.record(z.string(), z.unknown()),
  }),
  mitre_attack: z.array(z.string()),
  owasp_nhi: z.array(z.string()),
  runbook: z.string(),
  dedup_key: z.string(),
  /**
   * Repeats of this (detector, dedup key) folded into this alert within the suppression window.
   * Absent on the alert as first published (its repeats come later); set on the alert's entry in
   * its incident (schemas/incident.ts), which is written once the incident closes.
   */
  suppressed_repeats: z.number().int().nonnegative().optional(),
});
export type Alert = z.infer<typeof Alert>;
