/**
 * An incident: alerts that share a token, an issuer or a mint→use chain (a token and the token
 * it was minted from) within an event-time window, GuardDuty attack-sequence style. Written to
 * ClickHouse (`incidents`), to the alert topic (header `type: incident`) and by
 * `replay --incidents FILE`. Built by src/incidents/incident-builder.ts.
 */
import { z } from 'zod';
import { Alert, DetectorId, Severity } from './alert.js';

/** Why an alert joined the incident: the key it shared with an alert already in it. */
export const IncidentLink = z.enum(['first', 'token', 'issuer', 'chain']);
export type IncidentLink = z.infer<typeof IncidentLink>;

/** A member alert, reduced; the full alert is in the `alerts` table / on the topic under its id. */
export const IncidentAlert = Alert.pick({
  alert_id: true,
  detector: true,
  kind: true,
  severity: true,
  score: true,
  title: true,
  token_fp: true,
  issuer: true,
  first_seen: true,
  last_seen: true,
}).extend({
  /** Repeats of this alert's (detector, dedup key) the engine suppressed while the incident was open. */
  suppressed_repeats: z.number().int().nonnegative(),
  linked_by: IncidentLink,
});
export type IncidentAlert = z.infer<typeof IncidentAlert>;

export const TimelineEntry = z.object({
  time: z.string(), // ISO-8601 event time: the alert's first evidence event
  alert_id: z.string(),
  detector: DetectorId,
  kind: z.string(),
  severity: Severity,
  title: z.string(),
});
export type TimelineEntry = z.infer<typeof TimelineEntry>;

export const Incident = z.object({
  schema_version: z.literal(1),
  /** sha256 of the first alert's id: the same alert stream always gives the same incident ids. */
  incident_id: z.string().regex(/^[0-9a-f]{32}$/),
  title: z.string(),
  /** The highest member severity, raised one level when two or more detector families agree. */
  severity: Severity,
  max_alert_severity: Severity,
  detectors: z.array(DetectorId),
  token_fps: z.array(z.string()),
  issuers: z.array(z.string()),
  first_seen: z.string(),
  last_seen: z.string(),
  alert_count: z.number().int().positive(),
  /** Sum of the member alerts' suppressed repeats. */
  suppressed_repeats: z.number().int().nonnegative(),
  /** Member alerts, first 100 (alert_count counts all). */
  alerts: z.array(IncidentAlert).max(100),
  /** Member alerts by first evidence time, first 100. */
  timeline: z.array(TimelineEntry).max(100),
});
export type Incident = z.infer<typeof Incident>;
