/**
 * mint_rate_spike configuration. Defaults separate benign load changes (diurnal ~3×, autoscaling
 * ~2×, hourly refresh bursts, pod start-up bursts, deploys) from abuse: a bucket must be ≥
 * threshold robust sigmas (the learned variability) AND ≥ min_ratio × expected AND ≥ min_count
 * mints for sustain_buckets consecutive buckets (spike); hours are judged against the same hours
 * on earlier days (ramp); mints from an ASN, or a network and client, new to the issuer
 * (new_context).
 */
import { z } from 'zod';

export const MintRateSpikeConfig = z
  .object({
    bucket_minutes: z
      .number()
      .int()
      .min(1)
      .max(1440)
      .default(5)
      .describe('Bucket size in minutes; buckets are aligned to UTC and must divide a day (1440 minutes).'),
    baseline_hours: z
      .number()
      .int()
      .min(1)
      .max(168)
      .default(24)
      .describe('Hours of recent buckets kept per issuer for the non-seasonal baseline (24 covers a whole day curve).'),
    learning_buckets: z
      .number()
      .int()
      .min(1)
      .default(72)
      .describe(
        'Buckets of history an issuer needs before it can alert (default 72 = 6 hours of 5-minute buckets); everything seen while learning is learned.',
      ),
    min_count: z
      .number()
      .int()
      .min(1)
      .default(10)
      .describe('A bucket with fewer mints than this never alerts (minimum volume).'),
    min_ratio: z
      .number()
      .min(1)
      .default(2)
      .describe(
        'A bucket must hold at least this multiple of the expected count (a relative-increase floor; the robust z against the learned variability does the real work).',
      ),
    threshold: z
      .number()
      .positive()
      .default(6)
      .describe('Robust z-score ((count − median) / robust sigma) a bucket must reach; it maps to score 0.5.'),
    sustain_buckets: z
      .number()
      .int()
      .min(1)
      .max(48)
      .default(3)
      .describe(
        'Consecutive anomalous buckets needed before alerting; 3 ignores one-off bursts such as pods minting at start-up.',
      ),
    seasonality: z
      .enum(['hour_of_day', 'hour_of_week', 'none'])
      .default('hour_of_day')
      .describe(
        'Seasonal baseline: the same hour on earlier days (daily cycle), the same hour of the week on earlier weeks (weekday/weekend cycle: the issuer learns for seasonality_min_days weeks before it can alert, and keeps more state), or none.',
      ),
    seasonality_min_days: z
      .number()
      .int()
      .min(1)
      .max(31)
      .default(3)
      .describe('Earlier periods (days, or weeks with hour_of_week) of the same slot needed before the seasonal baseline replaces the recent one.'),
    seasonality_max_days: z
      .number()
      .int()
      .min(1)
      .max(31)
      .default(7)
      .describe('Earlier periods (days, or weeks with hour_of_week) of hourly means kept per slot.'),
    max_issuers: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe('Issuers tracked at once; the least recently active is evicted beyond this.'),
    issuer_idle_ttl_hours: z
      .number()
      .positive()
      .default(72)
      .describe('Issuers with no mint for this many event-time hours are forgotten (they re-learn on return).'),
    level_shift_hours: z
      .number()
      .min(0)
      .max(168)
      .default(24)
      .describe(
        'A new level that has stayed anomalous this many hours, and held steady (not still rising day over day), is learned as the new normal; 0 never learns one.',
      ),
    trend_threshold: z
      .number()
      .positive()
      .default(4)
      .describe(
        'z an hour window (1, 3, 6, 12 or 24 hours) must reach against the same hours on earlier days and a week earlier, with the noise learned per issuer (ramp); the window must also reach its ratio (×2.5 for 1 hour … ×1.5 for 12–24 hours) and min(min_count, 7) extra mints. The running 30 minutes, judged at every bucket, need z this high, ×3 and the same extra mints; the last 15 minutes, judged at every mint against the same hour\'s usual densest 15 minutes, need the same extra mints (z only scores them).',
      ),
    trend_min_days: z
      .number()
      .int()
      .min(1)
      .max(7)
      .default(3)
      .describe('Earlier days of the same hours needed before the hourly trend judges an issuer.'),
    deploy_allowance: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(3)
      .describe(
        'Mints a first-seen workload (new pod, instance, CI run) may make in its first bucket without counting: a deploy stampede is many new workloads minting once, an attack is the same workloads minting more.',
      ),
    max_workloads_per_issuer: z
      .number()
      .int()
      .min(1)
      .default(512)
      .describe('Workloads remembered per issuer for deploy-awareness (least recently seen forgotten first).'),
    context_min_hours: z
      .number()
      .min(0)
      .default(24)
      .describe('Hours since an issuer\'s first mint before a new mint context (ASN, network, client) can alert.'),
    context_min_mints: z
      .number()
      .int()
      .min(1)
      .default(50)
      .describe('Mints an issuer needs before a new mint context can alert.'),
    max_contexts_per_issuer: z
      .number()
      .int()
      .min(1)
      .default(256)
      .describe('ASNs, networks and clients remembered per issuer (least recently seen forgotten first).'),
    edge_sketch_buckets: z
      .number()
      .int()
      .min(16)
      .max(65536)
      .default(512)
      .describe(
        'Buckets per row of the MIDAS-R count-min sketches that score issuer → audience / network / client edges (2 rows; fixed memory of 6 × 2 × buckets numbers for all issuers).',
      ),
    max_evidence: z
      .number()
      .int()
      .min(1)
      .max(50)
      .default(20)
      .describe('Sample mint events kept per open bucket as alert evidence (first ones plus the latest).'),
  })
  .refine((c) => 1440 % c.bucket_minutes === 0, { message: 'bucket_minutes must divide 1440', path: ['bucket_minutes'] })
  .refine((c) => c.seasonality_min_days <= c.seasonality_max_days, {
    message: 'seasonality_min_days must be ≤ seasonality_max_days',
    path: ['seasonality_min_days'],
  });

export type MintRateSpikeConfig = z.infer<typeof MintRateSpikeConfig>;
