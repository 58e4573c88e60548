/**
 * Exceptions as data: an operator's decision that a detector's alert is expected for a given
 * issuer / network / user agent / workload, with the reason, who owns the decision and when it
 * lapses. Loaded from a YAML/JSON file (`exceptions.file` in the config); `tokenwatch exceptions
 * add|list|expired` edits and reports it. The id is an operator-chosen label (it becomes a
 * metric label): never a token or key.
 */
import { z } from 'zod';
import { DetectorId } from './alert.js';
import { isCidr } from '../src/policy/network-match.js';

/** `2026-03-31` (valid through the end of that UTC day) or a full ISO-8601 instant. */
const ExpiryDate = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}(T.+)?$/.test(s) && Number.isFinite(Date.parse(s)), { message: 'must be an ISO date (2026-03-31) or date-time' });

export const ExceptionEntry = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ - (max 64): it becomes a metric label').describe('operator-chosen label, unique in the file'),
    detector: DetectorId.describe('the detector whose alerts it excepts'),
    kind: z.string().min(1).optional().describe('only this alert kind (default: every kind of the detector)'),
    issuer: z.string().min(1).optional().describe('issuer, exact or glob (* and ?)'),
    network: z.array(z.string().refine(isCidr, 'must be an IPv4/IPv6 CIDR (e.g. 203.0.113.0/24)')).min(1).optional().describe("CIDRs the trigger event's IP must lie in"),
    asn: z.array(z.string().regex(/^(AS)?\d+$/i, 'must be an ASN like AS16509')).min(1).optional().describe("ASNs the trigger event's network must belong to"),
    user_agent: z.string().min(1).optional().describe("user-agent family (the product before the first '/') or a glob over the whole user agent"),
    workload: z.string().min(1).optional().describe('workload id or kind:id, exact or glob'),
    reason: z.string().min(3).describe('why the alert is expected'),
    owner: z.string().min(1).describe('who owns the decision (team or person)'),
    expires: ExpiryDate.describe('when the exception lapses; an expired exception no longer applies'),
  })
  .strict();
export type ExceptionEntry = z.infer<typeof ExceptionEntry>;

/** The file: `{ exceptions: [...] }` (a bare list is accepted too). Ids are unique. */
export const ExceptionFile = z
  .preprocess((v) => (Array.isArray(v) ? { exceptions: v } : (v ?? { exceptions: [] })), z.object({ exceptions: z.array(ExceptionEntry).default([]) }).strict())
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.exceptions.forEach((e, i) => {
      if (seen.has(e.id)) ctx.addIssue({ code: 'custom', path: ['exceptions', i, 'id'], message: `duplicate exception id "${e.id}"` });
      seen.add(e.id);
    });
  });
export type ExceptionFile = z.infer<typeof ExceptionFile>;

/** Epoch ms from which the exception no longer applies (a bare date covers its whole UTC day). */
export function expiresAt(e: Pick<ExceptionEntry, 'expires'>): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(e.expires) ? Date.parse(`${e.expires}T00:00:00Z`) + 86_400_000 : Date.parse(e.expires);
}
