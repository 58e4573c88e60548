import { isIP } from 'node:net';
import { z } from 'zod';
import { Platform, TokenKind } from '../../schemas/token-event.js';

/** `10.0.0.0/8`, `2001:db8::/32`; a bare address is a /32 (/128). */
export function parseCidr(s: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } | undefined {
  const [address, bits, ...rest] = s.trim().split('/');
  if (address === undefined || rest.length > 0) return undefined;
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, type: v === 4 ? 'ipv4' : 'ipv6' };
}

const Cidr = z.string().refine((s) => parseCidr(s) !== undefined, 'must be a CIDR like 10.0.0.0/8 or 2001:db8::/32');

export const CrossServiceReuseConfig = z.object({
  max_tokens: z.number().int().positive().default(100_000).describe('Most tokens held; least recently seen evicted first.'),
  token_idle_ttl_hours: z
    .number()
    .positive()
    .default(24)
    .describe('Tokens silent this long (event time) are forgotten; long-lived keys stay while in use.'),
  audience_aliases: z
    .record(z.string(), z.array(z.string()))
    .default({ '00000003-0000-0000-c000-000000000000': ['graph.microsoft.com'] })
    .describe('Audience → services considered the same (compared after normalising hosts, URL origins and api:// forms).'),
  generic_audiences: z
    .array(z.string())
    .default(['api://default', 'sts.amazonaws.com', 'https://kubernetes.default.svc', 'https://kubernetes.default.svc.cluster.local'])
    .describe('Audiences naming an authorization server or platform rather than one service; never compared.'),
  audience_bound_kinds: z
    .array(TokenKind)
    .default(['oauth_access', 'id_token'])
    .describe('Token kinds whose audience restricts where they may be used (AWS sessions, for one, are not).'),
  workload_networks: z
    .array(Cidr)
    .default([])
    .describe("Optional: CIDRs of the estate's VPCs and NAT egress; an EC2 instance-role session used from elsewhere escaped. Empty (default): credential_context judges where workload credentials are used from what it learned."),
  cluster_networks: z
    .array(Cidr)
    .default([])
    .describe('Optional: CIDRs of the Kubernetes clusters (pods, nodes); a pod token used from elsewhere escaped. Empty (default): learned by credential_context instead.'),
  ci_networks: z
    .array(Cidr)
    .default([])
    .describe('CIDRs CI runners egress from; empty (default: hosted runners have no fixed range) skips the network check.'),
  ci_job_window_minutes: z
    .number()
    .positive()
    .default(60)
    .describe('How long a CI OIDC credential lives for its job when the mint reports no expiry.'),
  clock_skew_minutes: z.number().nonnegative().default(5).describe('Grace after a CI credential window before a use is late.'),
  trusted_network_labels: z
    .array(z.string())
    .default(['AWS Internal', '*.amazonaws.com'])
    .describe('Network labels (or non-IP source addresses) meaning the call came from the provider itself; `*.` matches a suffix.'),
  allowed_platform_pairs: z
    .array(z.tuple([Platform, Platform]))
    .default([
      ['okta', 'gateway'],
      ['azure', 'gateway'],
      ['auth0', 'gateway'],
    ])
    .describe('Platform pairs (unordered) one token may legitimately span, e.g. an IdP-minted token used at the gateway.'),
});
export type CrossServiceReuseConfig = z.infer<typeof CrossServiceReuseConfig>;
