/**
 * Issuer policy: which issuers (roles, OAuth clients, service accounts) and workloads may mint
 * which token kinds, scopes and audiences, for how long, from which networks. Rules are checked
 * in order; the first rule whose issuer/workload patterns match a mint judges it. A field left
 * out does not restrict; an empty list allows nothing. `tokenwatch policy suggest` writes one
 * from observed logs; the `policy_violation` detector enforces it.
 */
import { z } from 'zod';
import { TokenKind } from './token-event.js';
import { isCidr } from '../src/policy/network-match.js';

export const PolicyRule = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/, 'letters, digits and . _ : / @ - (max 128)').describe('rule name, quoted in every violation'),
    issuer: z.string().min(1).optional().describe('issuer, exact or glob (* and ?)'),
    workload: z.string().min(1).optional().describe('workload id or kind:id, exact or glob'),
    token_kinds: z.array(TokenKind).optional().describe('token kinds it may mint'),
    scopes: z.array(z.string().min(1)).optional().describe('scopes (globs) every granted/requested scope must match'),
    audiences: z.array(z.string().min(1)).optional().describe('audiences (globs) every audience must match'),
    max_lifetime_seconds: z.number().int().positive().optional().describe('longest lifetime (expires − issued) a minted token may have'),
    networks: z.array(z.string().refine(isCidr, 'must be an IPv4/IPv6 CIDR (e.g. 203.0.113.0/24)')).optional().describe('CIDRs it may mint from'),
    asns: z.array(z.string().regex(/^(AS)?\d+$/i, 'must be an ASN like AS16509')).optional().describe('ASNs it may mint from'),
    network_labels: z.array(z.string().min(1)).optional().describe('vendor network labels it may mint from (CloudTrail service principals: ec2.amazonaws.com, AWS Internal)'),
  })
  .strict()
  .refine((r) => r.issuer !== undefined || r.workload !== undefined, { message: 'a rule needs an issuer or a workload pattern' });
export type PolicyRule = z.infer<typeof PolicyRule>;

export const Policy = z
  .object({
    version: z.literal(1).default(1),
    /** allow: mints by issuers no rule names are not judged; deny: they are violations. */
    default: z.enum(['allow', 'deny']).default('allow').describe('mints no rule matches: allow (not judged) or deny (unlisted_issuer)'),
    rules: z.array(PolicyRule).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.rules.forEach((r, i) => {
      if (seen.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}"` });
      seen.add(r.id);
    });
  });
export type Policy = z.infer<typeof Policy>;
