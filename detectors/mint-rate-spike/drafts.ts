/** The three alert drafts of mint_rate_spike: spike (buckets), ramp (hours), new_context (a mint). */
import type { TokenEvent } from '../../schemas/token-event.js';
import { isoTime } from '../../src/core/time.js';
import { zToScore, type Assessment } from '../../src/scoring/robust-scorer.js';
import type { AlertDraft } from '../types.js';
import type { MintRateSpikeConfig } from './config.js';
import type { MintContext, Novelty } from './context.js';
import { meta } from './meta.js';
import type { TrendAssessment } from './trend.js';
import { BURST_MINUTES, BURST_PEAK_MINUTES, BURST_PEAK_RATIO, BURST_REST_RATIO, type BurstAssessment } from './burst-window.js';

const round = (x: number): number => Math.round(x * 1000) / 1000;

export interface BucketFacts {
  start: number;
  count: number;
  /** Mints that count: count minus the start-up mints of first-seen workloads. */
  judged: number;
  sample: readonly TokenEvent[];
  /** Highest MIDAS-R edge score (0..1) of the bucket's issuer → audience/network/client edges. */
  edge: number;
  /** Of `judged`, start-up mints of a release (a user agent new to the issuer), left out of running windows. */
  fresh?: number;
}

function common(issuer: string, events: readonly TokenEvent[]): Pick<AlertDraft, 'issuer' | 'subject' | 'service' | 'events'> {
  const last = events[events.length - 1];
  return {
    issuer,
    ...(last?.subject ? { subject: last.subject } : {}),
    ...(last?.service ? { service: last.service } : {}),
    events: events.slice(),
  };
}

export function spikeDraft(c: MintRateSpikeConfig, issuer: string, b: BucketFacts, a: Assessment, streak: number, sizeMs: number): AlertDraft {
  const since = b.start - (streak - 1) * sizeMs;
  const discounted = b.count - b.judged;
  return {
    kind: 'spike',
    score: a.score,
    title: meta.kinds.spike!.title,
    summary:
      `${issuer} minted ${b.count} tokens in the ${c.bucket_minutes}-minute bucket at ${isoTime(b.start)}` +
      `${discounted > 0 ? ` (${b.judged} counted: ${discounted} were start-up mints of new workloads)` : ''}, ` +
      `${round(a.ratio)}× the expected ${round(a.expected)} (robust z ${round(a.z)}, ` +
      `${a.seasonal ? 'same hour on earlier days' : 'recent baseline'}); anomalous for ${streak} consecutive buckets since ${isoTime(since)}.`,
    dedup_key: issuer,
    ...common(issuer, b.sample),
    baseline: {
      count: b.count,
      counted: b.judged,
      new_workload_mints: discounted,
      median: round(a.median),
      mad: round(a.mad),
      expected: round(a.expected),
      sigma: round(a.sigma),
      z: round(a.z),
      ratio: round(a.ratio),
      threshold: c.threshold,
      min_ratio: c.min_ratio,
      min_count: c.min_count,
      seasonal: a.seasonal,
      buckets_of_history: a.history,
      baseline_points: a.baseline_points,
      bucket_start: isoTime(b.start),
      bucket_minutes: c.bucket_minutes,
      consecutive_buckets: streak,
      anomalous_since: isoTime(since),
      edge_burst_score: round(b.edge),
    },
  };
}

export function rampDraft(c: MintRateSpikeConfig, issuer: string, b: BucketFacts, t: TrendAssessment): AlertDraft {
  const end = t.window_end ?? t.hour_start + 3_600_000;
  const span = t.window_hours < 1 ? `${Math.round(t.window_hours * 60)} minutes` : `${t.window_hours} hours`;
  const unit = t.window_hours < 1 ? `${Math.round(t.window_hours * 60)}-minute` : `${t.window_hours}-hour`;
  return {
    kind: 'ramp',
    score: zToScore(t.z, c.trend_threshold),
    title: meta.kinds.ramp!.title,
    summary:
      `${issuer} minted ${t.observed} tokens in the ${span} to ${isoTime(end)}, ${round(t.ratio)}× the ` +
      `${round(t.expected)} of the same hours on earlier days (z ${round(t.z)} over ${t.days} days; a ${unit} window needs ×${t.min_ratio}); ` +
      (t.window_end !== undefined ? `judged while it runs (without its densest 10 minutes ${round(t.rest_ratio ?? 0)}×).` : `anomalous for ${t.streak} consecutive hours.`),
    dedup_key: issuer,
    ...common(issuer, b.sample),
    baseline: {
      window_hours: round(t.window_hours),
      window_end: isoTime(end),
      observed: t.observed,
      expected: round(t.expected),
      spread: round(t.spread),
      dispersion: round(t.dispersion),
      z: round(t.z),
      ratio: round(t.ratio),
      min_ratio: t.min_ratio,
      threshold: c.trend_threshold,
      earlier_days: t.days,
      consecutive_hours: t.streak,
      ...(t.rest_ratio !== undefined ? { ratio_without_densest_10_min: round(t.rest_ratio), release_startup_mints_left_out: b.fresh ?? 0 } : {}),
      edge_burst_score: round(b.edge),
    },
  };
}

/** A ramp judged on the last 15 minutes at a mint (./burst-window.ts). */
export function burstDraft(c: MintRateSpikeConfig, issuer: string, b: BucketFacts, a: BurstAssessment): AlertDraft {
  return {
    kind: 'ramp',
    score: zToScore(a.z, c.trend_threshold),
    title: meta.kinds.ramp!.title,
    summary:
      `${issuer} minted ${a.observed} tokens in the ${BURST_MINUTES} minutes to ${isoTime(a.window_end)}, ${round(a.ratio)}× the ` +
      `${round(a.peak_expected)} of the densest ${BURST_MINUTES} minutes of the same hour on earlier days (median over ${a.days} days; ` +
      `needs ×${BURST_PEAK_RATIO}) and ${round(a.observed / Math.max(a.expected, 1))}× its expected ${round(a.expected)}; without its densest ` +
      `${BURST_PEAK_MINUTES} minutes still ${round(a.rest_ratio)}× (needs ×${BURST_REST_RATIO}), so not a restart or a refresh storm.`,
    dedup_key: issuer,
    ...common(issuer, b.sample),
    baseline: {
      window_hours: round(BURST_MINUTES / 60),
      window_end: isoTime(a.window_end),
      observed: a.observed,
      expected: round(a.expected),
      usual_densest_window: round(a.peak_expected),
      ratio: round(a.ratio),
      min_ratio: BURST_PEAK_RATIO,
      [`densest_${BURST_PEAK_MINUTES}_min`]: a.densest,
      [`ratio_without_densest_${BURST_PEAK_MINUTES}_min`]: round(a.rest_ratio),
      min_rest_ratio: BURST_REST_RATIO,
      z: round(a.z),
      dispersion: round(a.dispersion),
      threshold: c.trend_threshold,
      earlier_days: a.days,
      release_startup_mints_left_out: b.fresh ?? 0,
      edge_burst_score: round(b.edge),
    },
  };
}

export function contextDraft(
  issuer: string,
  e: TokenEvent,
  ctx: MintContext,
  n: Novelty,
  edge: number,
  known: { asns: number; networks: number; clients: number; mints: number },
): AlertDraft {
  const parts: string[] = [];
  if (n.asn) parts.push(`ASN ${ctx.asn}`);
  if (n.network) parts.push(`network ${ctx.network}`);
  if (n.client) parts.push(`client ${ctx.client}`);
  return {
    kind: 'new_context',
    score: 1 - (1 - n.score) * (1 - edge),
    title: meta.kinds.new_context!.title,
    summary:
      `${issuer} had a token minted from ${parts.join(' and ')} new to it, after ${known.mints} mints from ` +
      `${known.asns} ASN(s), ${known.networks} network(s) and ${known.clients} client(s).`,
    dedup_key: `${issuer}|${parts.join('|')}`,
    // The minted token itself: what to revoke first.
    token_fp: e.token.fp,
    ...common(issuer, [e]),
    baseline: {
      new_asn: n.asn,
      new_network: n.network,
      new_client: n.client,
      novelty: round(n.score),
      ...(ctx.asn ? { asn: ctx.asn } : {}),
      ...(ctx.network ? { network: ctx.network } : {}),
      ...(ctx.client ? { client: ctx.client } : {}),
      known_asns: known.asns,
      known_networks: known.networks,
      known_clients: known.clients,
      issuer_mints: known.mints,
      edge_burst_score: round(edge),
    },
  };
}
