import { z } from 'zod';

export const ScopeDriftConfig = z.object({
  learning_hours: z
    .number()
    .nonnegative()
    .default(24)
    .describe("Event-time hours after an issuer's first event during which its scopes only build the baseline."),
  learning_min_events: z
    .number()
    .int()
    .nonnegative()
    .default(10)
    .describe('Events an issuer must have produced before its baseline is trusted (both this and learning_hours).'),
  alert_on_read_scopes: z
    .boolean()
    .default(false)
    .describe(
      'Alert (low) on new read-only scopes. Off by default: deploys routinely add read scopes, which are then ' +
        'absorbed into the baseline silently. New write/admin scopes always alert.',
    ),
  alert_on_unclassified_scopes: z
    .boolean()
    .default(true)
    .describe('Alert (medium) on new scopes no privilege pattern recognises; off treats them like read scopes.'),
  max_issuers: z.number().int().positive().default(50_000).describe('Most issuers held; least recently seen evicted first.'),
  issuer_idle_ttl_hours: z
    .number()
    .positive()
    .default(720)
    .describe('Issuers silent this long (event time) are forgotten and relearn their baseline.'),
  max_scopes_per_issuer: z
    .number()
    .int()
    .positive()
    .default(512)
    .describe('Most baseline scopes kept per issuer; the least recently seen is dropped when full.'),
  max_tokens_per_issuer: z
    .number()
    .int()
    .positive()
    .default(256)
    .describe("Most tokens per issuer whose granted scopes are remembered (LRU), to check uses against the token's grant."),
});
export type ScopeDriftConfig = z.infer<typeof ScopeDriftConfig>;
