/**
 * mint_rate_spike: per issuer, mints per event-time bucket against the issuer's own robust
 * baseline (src/scoring/robust-scorer.ts). A bucket [s, s+size) is judged when the watermark
 * reaches s+size (or when a later event of the same issuer arrives, since events are in order
 * per key). Empty buckets count as 0 and are folded in lazily when the issuer's next bucket
 * closes, at most one baseline window of them: an empty bucket can never alert, so this gives
 * the same alerts as closing every empty bucket eagerly.
 *
 * Emits one draft per alerting bucket (dedup_key = issuer; the runtime folds repeats).
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { isoTime } from '../../src/core/time.js';
import { RobustScorer, type Assessment, type RobustScorerOptions, type RobustScorerState } from '../../src/scoring/robust-scorer.js';
import { KeyedState, type KeyedEntry } from '../../src/core/keyed-state.js';
import type { AlertDraft, DetectorInstance } from '../types.js';
import type { MintRateSpikeConfig } from './config.js';
import { meta } from './meta.js';

const MIN_MS = 60_000;
const HOUR_MS = 60 * MIN_MS;

interface OpenBucket {
  start: number;
  count: number;
  /** First max_evidence − 1 mints of the bucket, plus the latest one last. */
  sample: TokenEvent[];
}

interface IssuerState {
  open: OpenBucket | null;
  /** Start of the first bucket not yet folded into the baseline; null before the first close. */
  next: number | null;
  /** Consecutive anomalous buckets up to the last closed one. */
  streak: number;
  scorer: RobustScorerState;
}

interface LiveIssuer {
  open: OpenBucket | null;
  next: number | null;
  streak: number;
  scorer: RobustScorer;
}

export interface MintRateSpikeState {
  v: 1;
  /** Highest bucket boundary the watermark has closed through; null before the first advance. */
  closed_through: number | null;
  /** An event opened a bucket that already ends at or before closed_through. */
  pending_late: boolean;
  late_events: number;
  issuers: [string, KeyedEntry<IssuerState>][];
}

export function scorerOptions(config: MintRateSpikeConfig): RobustScorerOptions {
  return {
    window: Math.round((config.baseline_hours * 60) / config.bucket_minutes),
    // A weekly baseline only judges well once it exists: until then a quiet weekend would make
    // every Monday morning a spike against the recent baseline, so learning lasts that long.
    minHistory:
      config.seasonality === 'hour_of_week'
        ? Math.max(config.learning_buckets, Math.round((config.seasonality_min_days * 7 * 24 * 60) / config.bucket_minutes))
        : config.learning_buckets,
    threshold: config.threshold,
    minRatio: config.min_ratio,
    // min_count gates alerting only (in close()): a low-volume bucket far above normal is still
    // kept out of the baseline and does not break a run of anomalous buckets.
    seasonality: config.seasonality,
    seasonalMinPeriods: config.seasonality_min_days,
    seasonalMaxPeriods: config.seasonality_max_days,
    countData: true,
  };
}

export class MintRateSpikeDetector implements DetectorInstance<MintRateSpikeState> {
  private readonly sizeMs: number;
  private readonly window: number;
  private readonly scorerOpts: RobustScorerOptions;
  private issuers: KeyedState<LiveIssuer>;
  private closedThrough = Number.NEGATIVE_INFINITY;
  private pendingLate = false;
  /** Mints older than their issuer's already-judged buckets (counted, not scored). */
  lateEvents = 0;

  constructor(private readonly config: MintRateSpikeConfig) {
    this.sizeMs = config.bucket_minutes * MIN_MS;
    this.scorerOpts = scorerOptions(config);
    this.window = this.scorerOpts.window!;
    this.issuers = new KeyedState<LiveIssuer>(config.max_issuers, config.issuer_idle_ttl_hours * HOUR_MS);
  }

  process(event: TokenEvent): AlertDraft[] {
    if (event.action !== 'mint' || !event.issuer) return [];
    const issuer = event.issuer;
    const start = Math.floor(event.time / this.sizeMs) * this.sizeMs;
    const st = this.issuers.touch(issuer, event.time, () => ({
      open: null,
      next: null,
      streak: 0,
      scorer: new RobustScorer(this.scorerOpts),
    }));
    if ((st.next !== null && start < st.next) || (st.open && start < st.open.start)) {
      this.lateEvents++;
      return [];
    }
    const drafts: AlertDraft[] = [];
    if (st.open && start > st.open.start) {
      // In order per key: the open bucket can get no more events, judge it now.
      const d = this.close(issuer, st);
      if (d) drafts.push(d);
    }
    if (!st.open) {
      st.open = { start, count: 0, sample: [] };
      if (start + this.sizeMs <= this.closedThrough) this.pendingLate = true;
    }
    const b = st.open;
    b.count++;
    if (b.sample.length < this.config.max_evidence) b.sample.push(event);
    else b.sample[b.sample.length - 1] = event;
    return drafts;
  }

  advance(watermark: number): AlertDraft[] {
    const boundary = Math.floor(watermark / this.sizeMs) * this.sizeMs;
    if (boundary <= this.closedThrough && !this.pendingLate) return [];
    this.closedThrough = Math.max(this.closedThrough, boundary);
    this.pendingLate = false;
    const drafts: AlertDraft[] = [];
    for (const [issuer, entry] of this.issuers.entries()) {
      const st = entry.value;
      if (st.open && st.open.start + this.sizeMs <= watermark) {
        const d = this.close(issuer, st);
        if (d) drafts.push(d);
      }
    }
    this.issuers.evictIdle(watermark);
    return drafts;
  }

  snapshot(): MintRateSpikeState {
    const issuers: [string, KeyedEntry<IssuerState>][] = [];
    for (const [k, e] of this.issuers.entries()) {
      const v = e.value;
      issuers.push([
        k,
        {
          touched: e.touched,
          value: {
            open: v.open ? { start: v.open.start, count: v.open.count, sample: structuredClone(v.open.sample) } : null,
            next: v.next,
            streak: v.streak,
            scorer: v.scorer.snapshot(),
          },
        },
      ]);
    }
    return {
      v: 1,
      // JSON has no -Infinity: null stands for "nothing closed yet".
      closed_through: Number.isFinite(this.closedThrough) ? this.closedThrough : null,
      pending_late: this.pendingLate,
      late_events: this.lateEvents,
      issuers,
    };
  }

  restore(state: MintRateSpikeState): void {
    if (state.v !== 1) throw new TypeError('unsupported mint_rate_spike state version');
    this.closedThrough = typeof state.closed_through === 'number' ? state.closed_through : Number.NEGATIVE_INFINITY;
    this.pendingLate = state.pending_late;
    this.lateEvents = state.late_events;
    const fresh = new KeyedState<LiveIssuer>(this.config.max_issuers, this.config.issuer_idle_ttl_hours * HOUR_MS);
    fresh.load(
      state.issuers.map(([k, e]) => [
        k,
        {
          touched: e.touched,
          value: {
            open: e.value.open ? { ...e.value.open, sample: structuredClone(e.value.open.sample) } : null,
            next: e.value.next,
            streak: e.value.streak,
            scorer: RobustScorer.fromState(e.value.scorer, this.scorerOpts),
          },
        },
      ]),
    );
    this.issuers = fresh;
  }

  size(): number {
    return this.issuers.size;
  }

  /** Fold empty buckets since the last close, judge the open bucket, return a draft if it alerts. */
  private close(issuer: string, st: LiveIssuer): AlertDraft | undefined {
    const b = st.open;
    if (!b) return undefined;
    st.open = null;
    if (st.next !== null && st.next < b.start) {
      const empty = Math.round((b.start - st.next) / this.sizeMs);
      // Bounded work for long gaps: older empties would fall out of the window anyway.
      const fill = Math.min(empty, this.window);
      st.scorer.skip(empty - fill);
      for (let t = b.start - fill * this.sizeMs; t < b.start; t += this.sizeMs) st.scorer.learn(t, 0);
      st.streak = 0;
    }
    const a = st.scorer.assess(b.start, b.count);
    st.next = b.start + this.sizeMs;
    st.streak = a.anomalous ? st.streak + 1 : 0;
    if (!a.anomalous || st.streak < this.config.sustain_buckets || b.count < this.config.min_count) return undefined;
    return this.draft(issuer, b, a, st.streak);
  }

  private draft(issuer: string, b: OpenBucket, a: Assessment, streak: number): AlertDraft {
    const c = this.config;
    const last = b.sample[b.sample.length - 1];
    const round = (x: number): number => Math.round(x * 1000) / 1000;
    const since = b.start - (streak - 1) * this.sizeMs;
    const kind = meta.kinds.spike!;
    return {
      kind: 'spike',
      score: a.score,
      title: kind.title,
      summary:
        `${issuer} minted ${b.count} tokens in the ${c.bucket_minutes}-minute bucket at ${isoTime(b.start)}, ` +
        `${round(a.ratio)}× the expected ${round(a.expected)} (robust z ${round(a.z)}, ` +
        `${a.seasonal ? 'same hour on earlier days' : 'recent baseline'}); anomalous for ${streak} consecutive buckets since ${isoTime(since)}.`,
      dedup_key: issuer,
      issuer,
      ...(last?.subject ? { subject: last.subject } : {}),
      ...(last?.service ? { service: last.service } : {}),
      events: b.sample.slice(),
      baseline: {
        count: b.count,
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
      },
    };
  }
}

export function createMintRateSpike(config: MintRateSpikeConfig): MintRateSpikeDetector {
  return new MintRateSpikeDetector(config);
}
