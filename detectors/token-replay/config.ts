/** token_replay configuration; `TokenReplayConfig.parse({})` gives the defaults. */
import { z } from 'zod';
import { parseCidr } from '../network.js';

const Cidr = z.string().refine((s) => parseCidr(s) !== undefined, { message: 'must be an IPv4/IPv6 CIDR (e.g. 203.0.113.0/28)' });

export const TokenReplayConfig = z.object({
  context_window_minutes: z.number().positive().default(60).describe('A second context only counts while another context of the token was active this recently.'),
  egress_ranges: z
    .array(z.object({ name: z.string().min(1).max(128), cidrs: z.array(Cidr).min(1) }))
    .default([]).describe('Declared NAT/egress ranges: IPs inside one range are one network.'),
  same_subnet_is_same_network: z.boolean().default(false).describe('Treat IPs in the same /24 (IPv4) or /48 (IPv6) as one network.'),
  max_contexts_per_token: z.number().int().min(2).max(64).default(8).describe('Distinct contexts remembered per token (the home context always stays).'),
  refresh_grace_seconds: z.number().nonnegative().default(30).describe('After a refresh, the old token may still be used from the refreshing context this long.'),
  clock_skew_seconds: z
    .number()
    .nonnegative()
    .default(150)
    .describe('Tolerance for clock differences between the revoking/issuing system and the observer (survives gateway nodes ±2 min off).'),
  clock_skew_seconds_by_source: z
    .record(z.string(), z.number().nonnegative())
    .default({})
    .describe('Per-source tolerance overriding clock_skew_seconds (e.g. {kong: 300} for a gateway fleet without NTP).'),
  max_learned_skew_seconds: z
    .number()
    .nonnegative()
    .default(300)
    .describe('Skew learned per source (a use logged before its own mint by another source) widens that source’s tolerance up to this.'),
  max_tokens: z.number().int().positive().default(100_000).describe('Most tokens held; least recently seen evicted first.'),
  token_idle_ttl_hours: z.number().positive().default(24).describe('Tokens idle (no event) this long are forgotten.'),
});
export type TokenReplayConfig = z.infer<typeof TokenReplayConfig>;
