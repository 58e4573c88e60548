import { z } from 'zod';
import { describeDefaultPatterns } from './sensitivity.js';

const SensitivePatternConfig = z.object({
  pattern: z.string().trim().min(1).max(200),
  class: z.string().regex(/^[a-z][a-z0-9_]*$/, 'a lower-case class name such as pii, secrets, admin, export, write'),
  weight: z.number().min(0).max(1),
});

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
      'Alert (low) on every new read-only scope. Off by default: deploys routinely add read scopes, which are then ' +
        'absorbed into the baseline silently unless sensitive (see sensitive_patterns). New write/admin scopes always alert.',
    ),
  sensitive_patterns: z
    .array(SensitivePatternConfig)
    .max(1000)
    .default([])
    .describe(
      'Scope sensitivity patterns {pattern, class, weight 0..1}, merged over the defaults (same pattern replaces a ' +
        'default, weight 0 turns it off). A word matches a whole word of the scope (or its plural; `_` joins words), ' +
        'anything else is a glob over the whole scope (`*` any characters), `*` alone a wildcard scope. A new scope ' +
        "heavier than what its issuer already holds in that class alerts even when read-only. Defaults: " +
        describeDefaultPatterns() +
        '.',
    ),
  sensitive_min_weight: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('Sensitivity weight from which a new read-only or unclassified scope alerts (0.75 and above: high).'),
  rollout_min_issuers: z
    .number()
    .int()
    .min(2)
    .default(3)
    .describe(
      'Issuers of one authority gaining the same new read-level scope within rollout_window_minutes that make it a ' +
        'deploy rollout, absorbed without an alert (in Kafka: issuers of one task).',
    ),
  rollout_window_minutes: z.number().positive().default(60).describe('Event-time window in which issuers gaining one scope count as one rollout.'),
  rollout_hold_minutes: z
    .number()
    .nonnegative()
    .default(10)
    .describe('How long (event time) a read-level new-scope alert waits for a rollout before it is emitted; 0 emits at once.'),
  max_pending_alerts: z.number().int().positive().default(1000).describe('Most held alerts; the oldest is emitted early when full.'),
  max_rollout_scopes: z.number().int().positive().default(4096).describe('Most (authority, scope) rollout waves tracked; least recently seen dropped first.'),
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
