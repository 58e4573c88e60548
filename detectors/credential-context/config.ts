/** credential_context configuration; `CredentialContextConfig.parse({})` gives the defaults (no estate-specific settings). */
import { z } from 'zod';

export const CredentialContextConfig = z.object({
  learning_hours: z.number().nonnegative().default(24).describe('An issuer is only judged once it has been seen this long (event time)…'),
  min_observations: z.number().int().nonnegative().default(20).describe('…and its credentials have shown this many contexts.'),
  suspect_surprise: z
    .number()
    .positive()
    .default(3)
    .describe('Surprise (sum of −ln P(new value) per new dimension, P learned per issuer) at which a new context is suspect; it alerts when the earlier context is used again within the window.'),
  alert_surprise: z.number().positive().default(7).describe('Surprise at which a new context alerts at once.'),
  trusted_after_tokens: z.number().int().min(1).default(2).describe('A context value counts as the issuer’s own once this many of its credentials used it (a single stolen credential cannot teach its context).'),
  context_window_minutes: z.number().positive().default(60).describe('Two contexts count as active at once when the earlier one is used again this soon after the new one appeared.'),
  concurrency_min_gap_seconds: z
    .number()
    .nonnegative()
    .default(300)
    .describe('The earlier context must be used this long after the new one appeared (a move with requests in flight, or skewed clocks, interleaves briefly; a new shared egress is meanwhile used by other credentials of the issuer).'),
  max_values_per_dimension: z.number().int().min(4).max(4096).default(64).describe('Values remembered per issuer/workload and dimension; least recently seen evicted first.'),
  max_contexts_per_token: z.number().int().min(2).max(64).default(8).describe('Contexts remembered per token.'),
  max_issuers: z.number().int().positive().default(50_000).describe('Issuer profiles held; least recently seen evicted first.'),
  issuer_idle_ttl_days: z.number().positive().default(30).describe('Issuer profiles idle this long are forgotten.'),
  max_workloads: z.number().int().positive().default(100_000).describe('Workload profiles held.'),
  workload_idle_ttl_days: z.number().positive().default(7).describe('Workload profiles idle this long are forgotten.'),
  max_tokens: z.number().int().positive().default(100_000).describe('Tokens held; least recently seen evicted first.'),
  token_idle_ttl_hours: z.number().positive().default(24).describe('Tokens idle this long are forgotten.'),
});
export type CredentialContextConfig = z.infer<typeof CredentialContextConfig>;
