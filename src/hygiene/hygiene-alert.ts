/**
 * A hygiene finding as a delivered alert (`type: "hygiene_finding"`), for the webhook and Splunk
 * HEC sinks and `replay --hygiene-out`. Not an `Alert`: detector alerts come from I/O-free
 * detectors over events (schemas/alert.ts binds `detector` to the registered detectors), while
 * these come from queries over the whole stored inventory (see README "Token hygiene").
 *
 * `finding_id` is stable for one finding (kind, token, issuer, subject, service): a finding
 * found again by a later pass has the same id, so receivers and HygieneJob deduplicate by it.
 */
import { createHash } from 'node:crypto';
import type { HygieneFinding } from './hygiene-report.js';

export interface HygieneAlert extends Omit<HygieneFinding, 'seen_at'> {
  schema_version: 1;
  type: 'hygiene_finding';
  finding_id: string;
  /** ISO-8601: the reference time the finding was judged at. */
  as_of: string;
  /** ISO-8601: when it was last evidenced. */
  seen_at: string;
}

export function hygieneFindingId(f: Pick<HygieneFinding, 'finding' | 'token_fp' | 'issuer' | 'subject' | 'service'>): string {
  return createHash('sha256').update(['hygiene', f.finding, f.token_fp, f.issuer, f.subject, f.service].join('\u0000')).digest('hex').slice(0, 32);
}

export function hygieneAlert(f: HygieneFinding, asOfSeconds: number): HygieneAlert {
  return {
    schema_version: 1,
    type: 'hygiene_finding',
    finding_id: hygieneFindingId(f),
    as_of: new Date(asOfSeconds * 1000).toISOString(),
    finding: f.finding,
    severity: f.severity,
    owasp_nhi: f.owasp_nhi,
    token_fp: f.token_fp,
    token_kind: f.token_kind,
    issuer: f.issuer,
    subject: f.subject,
    service: f.service,
    age_days: f.age_days,
    seen_at: new Date(f.seen_at * 1000).toISOString(),
    detail: f.detail,
  };
}

export function isHygieneAlert(r: object): r is HygieneAlert {
  return (r as { type?: unknown }).type === 'hygiene_finding';
}
