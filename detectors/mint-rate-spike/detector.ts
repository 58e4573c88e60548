/**
 * mint_rate_spike: per issuer, three views of token minting.
 *
 * - spike: mints per event-time bucket against the issuer's own robust baseline
 *   (src/scoring/robust-scorer.ts: recent window + same hour on earlier days, learned
 *   variability, level shifts learned once steady for level_shift_hours). A bucket [s, s+size)
 *   is judged when the watermark reaches s+size (or when a later event of the same issuer
 *   arrives, since events are in order per key). Empty buckets count as 0 and are folded in
 *   lazily when the issuer's next bucket closes, at most one baseline window of them.
 * - ramp: the closed buckets' counts per hour against the same hours on earlier days and a week
 *   earlier (./trend.ts), for slow ramps and bursts too small for a bucket to show; the running
 *   30 minutes at every closed bucket (./running-window.ts), and the last 15 minutes at every
 *   counted mint against the same hour's usual densest 15 minutes (./burst-window.ts).
 * - new_context: a mint from an ASN, or a network and client, new to an established issuer
 *   (./context.ts); issuer → audience / network / client edges are also scored by MIDAS-R
 *   (src/scoring/midas-r.ts) for how bursty they are.
 *
 * Deploy-awareness: a workload (pod, instance, CI run) seen for the first time may mint
 * deploy_allowance tokens in its first bucket without counting toward spike/ramp: a deploy's
 * stampede is many new workloads minting once; the same workloads minting more still counts.
 *
 * State is explicit, bounded and JSON-serializable; no I/O; event time only.
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { RobustScorer, type RobustScorerOptions, type RobustScorerState } from '../../src/scoring/robust-scorer.js';
import { MidasR, normalizeScore, type MidasRState } from '../../src/scoring/midas-r.js';
import { KeyedStore, fromStateKey, keyStateOf, putKeyState, toStateKey, type KeyedEntry } from '../../src/core/keyed-store.js';
import { SHARED_STATE_KEY, type AlertDraft, type DetectorInstance } from '../types.js';
import type { MintRateSpikeConfig } from './config.js';
import { NOVELTY_ALERT, contextOf, keyOf, learnContext, noveltyOf, type MintContext } from './context.js';
import { burstDraft, contextDraft, rampDraft, spikeDraft } from './drafts.js';
import { addBucket, newTrendState, type TrendOptions, type TrendState } from './trend.js';
import { addRunningBucket, newRunningState, type RunningState } from './running-window.js';
import { BURST_MINUTES, addBurstMint, newBurstState, type BurstState } from './burst-window.js';

const MIN_MS = 60_000;
const HOUR_MS = 60 * MIN_MS;
/** User agents remembered per issuer for release start-up (releaseMint). */
const MAX_RELEASES = 16;
/** How long after a user agent's first mint its mints count as a release starting up. */
const RELEASE_FRESH_MS = 10 * MIN_MS;
/** Raw MIDAS-R edge score mapped to 0.5 (see normalizeScore). */
const EDGE_HALF_SCORE = 100;

interface OpenBucket {
  start: number;
  count: number;
  /** count minus start-up mints of first-seen workloads. */
  judged: number;
  /** Of `judged`, mints by a user agent new to the issuer (a new release starting up): not counted by the running windows. */
  fresh: number;
  /** Highest normalised MIDAS-R edge score of the bucket's mints. */
  edge: number;
  /** First max_evidence − 1 mints of the bucket, plus the latest one last. */
  sample: TokenEvent[];
}

interface WorkloadSeen {
  /** Start of the bucket the workload was first seen in. */
  first: number;
  /** Mints in that first bucket. */
  n: number;
  /** Time of its last mint (absent in checkpoints from before the 15-minute window). */
  last?: number;
}

/** How a mint stands with its workload: uncounted start-up, its refresh (first in the burst window), a repeat, or no workload known. */
type WorkloadMint = 'startup' | 'refresh' | 'repeat' | undefined;

interface ContextKinds {
  asn: boolean;
  network: boolean;
  client: boolean;
}

interface IssuerCommon {
  open: OpenBucket | null;
  /** Start of the first bucket not yet folded into the baseline; null before the first close. */
  next: number | null;
  /** Consecutive anomalous buckets up to the last closed one. */
  streak: number;
  trend: TrendState;
  /** User agents seen minting (first 128 characters → first mint time), least recently seen first; bounded. */
  releases: [string, number][];
  /** The last two hours of buckets for the running 30/60-minute windows (./running-window.ts). */
  running: RunningState;
  /** Per-minute counts of the last 15 minutes and each hour's densest 15 minutes (./burst-window.ts). */
  burst: BurstState;
  kinds: ContextKinds;
  first_mint: number;
  mints: number;
}

interface IssuerState extends IssuerCommon {
  scorer: RobustScorerState;
  workloads: [string, WorkloadSeen][];
  contexts: [string, number][];
}

interface LiveIssuer extends IssuerCommon {
  scorer: RobustScorer;
  workloads: Map<string, WorkloadSeen>;
  contexts: Map<string, number>;
}

/** The per-task state shared by all issuers (SHARED_STATE_KEY). */
interface SharedState {
  /** Highest bucket boundary the watermark has closed through; null before the first advance. */
  closed_through: number | null;
  /** An event opened a bucket that already ends at or before closed_through. */
  pending_late: boolean;
  late_events: number;
  /** Event time of tick 1 of the edge sketches; null before the first mint. */
  edge_origin: number | null;
  edges: MidasRState;
}

export interface MintRateSpikeState extends SharedState {
  v: 2;
  issuers: [string, KeyedEntry<IssuerState>][];
}

/** The state of mint_rate_spike v1 (spike baselines only), still accepted by restore(). */
export interface MintRateSpikeStateV1 {
  v: 1;
  closed_through: number | null;
  pending_late: boolean;
  late_events: number;
  issuers: [string, KeyedEntry<{ open: { start: number; count: number; sample: TokenEvent[] } | null; next: number | null; streak: number; scorer: RobustScorerState }>][];
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
    levelShiftAfter: Math.round((config.level_shift_hours * 60) / config.bucket_minutes),
  };
}

/**
 * Extra mints an hour window needs (at most min_count). The window's z against the learned noise
 * and its ratio do the judging; this floor only keeps a handful of mints from counting, so a
 * ~3.5× hour of an issuer that mints 3 an hour (8 extra) still can.
 */
const TREND_MIN_EXCESS = 7;

function trendOptions(config: MintRateSpikeConfig): TrendOptions {
  return {
    minDays: config.trend_min_days, threshold: config.trend_threshold, minExcess: Math.min(config.min_count, TREND_MIN_EXCESS),
    shiftHours: Math.round(config.level_shift_hours),
  };
}

export class MintRateSpikeDetector implements DetectorInstance<MintRateSpikeState> {
  private readonly sizeMs: number;
  private readonly window: number;
  private readonly scorerOpts: RobustScorerOptions;
  private readonly trendOpts: TrendOptions;
  private readonly issuers: KeyedStore<LiveIssuer>;
  private edges: MidasR;
  private edgeOrigin: number | null = null;
  private closedThrough = Number.NEGATIVE_INFINITY;
  private pendingLate = false;
  /** Mints older than their issuer's already-judged buckets (counted, not scored). */
  lateEvents = 0;
  /** The shared state (edges, watermark progress) changed since the last changedKeys(). */
  private sharedChanged = false;

  constructor(private readonly config: MintRateSpikeConfig) {
    this.sizeMs = config.bucket_minutes * MIN_MS;
    this.scorerOpts = scorerOptions(config);
    this.trendOpts = trendOptions(config);
    this.window = this.scorerOpts.window!;
    this.issuers = new KeyedStore<LiveIssuer>(config.max_issuers, config.issuer_idle_ttl_hours * HOUR_MS);
    this.edges = new MidasR({ rows: 2, buckets: config.edge_sketch_buckets, seed: 7 });
  }

  process(event: TokenEvent): AlertDraft[] {
    if (event.action !== 'mint' || !event.issuer) return [];
    const issuer = event.issuer;
    const start = Math.floor(event.time / this.sizeMs) * this.sizeMs;
    const st = this.issuers.touch(issuer, event.time, () => ({
      open: null,
      next: null,
      streak: 0,
      trend: newTrendState(),
      running: newRunningState(this.sizeMs),
      burst: newBurstState(),
      releases: [],
      kinds: { asn: false, network: false, client: false },
      first_mint: event.time,
      mints: 0,
      scorer: new RobustScorer(this.scorerOpts),
      workloads: new Map(),
      contexts: new Map(),
    }));
    // every mint that gets this far changes the shared state (late count, or edge sketches)
    this.sharedChanged = true;
    if ((st.next !== null && start < st.next) || (st.open && start < st.open.start)) {
      this.lateEvents++;
      return [];
    }
    const drafts: AlertDraft[] = [];
    if (st.open && start > st.open.start) {
      // In order per key: the open bucket can get no more events, judge it now.
      this.close(issuer, st, drafts);
    }
    if (!st.open) {
      st.open = { start, count: 0, judged: 0, fresh: 0, edge: 0, sample: [] };
      if (start + this.sizeMs <= this.closedThrough) this.pendingLate = true;
    }
    const b = st.open;
    b.count++;
    const release = this.releaseMint(st, event);
    const workload = this.workloadMint(st, event, start);
    let counted = false;
    if (workload !== 'startup') {
      b.judged++;
      if (release) b.fresh++;
      // What the running windows count: not a start-up mint of a new workload or release.
      else counted = true;
    }
    const ctx = contextOf(event);
    const edge = this.scoreEdges(issuer, ctx, event.time);
    if (edge > b.edge) b.edge = edge;
    this.judgeContext(issuer, st, event, ctx, edge, drafts);
    st.mints++;
    if (b.sample.length < this.config.max_evidence) b.sample.push(event);
    else b.sample[b.sample.length - 1] = event;
    // A fleet of named workloads refreshing together is each workload minting once: in the
    // 15-minute window only mints without a workload, and a workload's repeats, count.
    if (counted) {
      const burst = addBurstMint(st.burst, st.trend, event.time, workload === 'refresh' ? 0 : 1, this.trendOpts);
      if (burst) drafts.push(burstDraft(this.config, issuer, b, burst));
    }
    return drafts;
  }

  advance(watermark: number): AlertDraft[] {
    const boundary = Math.floor(watermark / this.sizeMs) * this.sizeMs;
    if (boundary <= this.closedThrough && !this.pendingLate) return [];
    this.closedThrough = Math.max(this.closedThrough, boundary);
    this.pendingLate = false;
    this.sharedChanged = true;
    const drafts: AlertDraft[] = [];
    for (const [issuer, entry] of this.issuers.entries()) {
      const st = entry.value;
      if (st.open && st.open.start + this.sizeMs <= watermark) {
        this.close(issuer, st, drafts);
        this.issuers.mark(issuer);
      }
    }
    this.issuers.evictIdle(watermark);
    return drafts;
  }

  snapshot(): MintRateSpikeState {
    const issuers: [string, KeyedEntry<IssuerState>][] = [];
    for (const [k, e] of this.issuers.entries()) issuers.push([k, { touched: e.touched, value: this.storedIssuer(e.value, true) }]);
    return { v: 2, ...this.sharedState(), issuers };
  }

  restore(input: MintRateSpikeState | MintRateSpikeStateV1): void {
    const state = input.v === 1 ? this.upgrade(input) : input;
    if (state.v !== 2) throw new TypeError('unsupported mint_rate_spike state version');
    this.putShared(state);
    this.sharedChanged = true;
    this.issuers.load(state.issuers.map(([k, e]) => [k, { touched: e.touched, value: this.liveIssuer(e.value) }]));
  }

  /** State keys: the issuer; SHARED_STATE_KEY for the task's watermark progress and edge sketches. */
  changedKeys(): string[] {
    const keys = this.issuers.drainChanged().map(toStateKey);
    if (this.sharedChanged) keys.push(SHARED_STATE_KEY);
    this.sharedChanged = false;
    return keys;
  }

  getKey(key: string): unknown {
    const issuer = fromStateKey(key);
    if (issuer !== undefined) return keyStateOf(this.issuers, issuer, (v) => this.storedIssuer(v, false));
    return key === SHARED_STATE_KEY ? this.sharedState() : undefined;
  }

  putKey(key: string, state: unknown): void {
    const issuer = fromStateKey(key);
    if (issuer !== undefined) putKeyState(this.issuers, issuer, state, (v: IssuerState) => this.liveIssuer(v));
    else if (key === SHARED_STATE_KEY) this.putShared(state as SharedState);
  }

  private sharedState(): SharedState {
    return {
      // JSON has no -Infinity: null stands for "nothing closed yet".
      closed_through: Number.isFinite(this.closedThrough) ? this.closedThrough : null,
      pending_late: this.pendingLate,
      late_events: this.lateEvents,
      edge_origin: this.edgeOrigin,
      edges: this.edges.snapshot(),
    };
  }

  private putShared(state: SharedState): void {
    this.closedThrough = typeof state.closed_through === 'number' ? state.closed_through : Number.NEGATIVE_INFINITY;
    this.pendingLate = state.pending_late;
    this.lateEvents = state.late_events;
    this.edgeOrigin = state.edge_origin;
    this.edges = MidasR.fromState(state.edges);
  }

  /** An issuer's JSON form; `copy`: share nothing with the live state (a snapshot outlives the call). */
  private storedIssuer(v: LiveIssuer, copy: boolean): IssuerState {
    return {
      open: v.open ? { ...v.open, sample: copy ? structuredClone(v.open.sample) : v.open.sample.slice() } : null,
      next: v.next,
      streak: v.streak,
      trend: { ...v.trend, counts: v.trend.counts.slice() },
      running: { ...v.running, buckets: v.running.buckets.slice() },
      burst: { ...v.burst, minutes: v.burst.minutes.slice(), peaks: v.burst.peaks.slice() },
      releases: v.releases.map(([u, t]) => [u, t]),
      kinds: { ...v.kinds },
      first_mint: v.first_mint,
      mints: v.mints,
      scorer: v.scorer.snapshot(),
      workloads: [...v.workloads].map(([w, s]) => [w, { ...s }]),
      contexts: [...v.contexts],
    };
  }

  private liveIssuer(v: IssuerState): LiveIssuer {
    return {
      open: v.open ? { ...v.open, fresh: v.open.fresh ?? 0, sample: structuredClone(v.open.sample) } : null,
      next: v.next,
      streak: v.streak,
      trend: { ...v.trend, counts: v.trend.counts.slice() },
      // A checkpoint from before the running windows starts them empty.
      running: v.running ? { ...v.running, buckets: v.running.buckets.slice() } : newRunningState(this.sizeMs),
      // A checkpoint from before the 15-minute window starts it empty (it re-learns its peaks).
      burst: v.burst ? { ...v.burst, minutes: v.burst.minutes.slice(), peaks: v.burst.peaks.slice() } : newBurstState(),
      releases: v.releases ? v.releases.map(([u, t]) => [u, t]) : [],
      kinds: { ...v.kinds },
      first_mint: v.first_mint,
      mints: v.mints,
      scorer: RobustScorer.fromState(v.scorer, this.scorerOpts),
      workloads: new Map(v.workloads.map(([w, s]) => [w, { ...s }])),
      contexts: new Map(v.contexts),
    };
  }

  size(): number {
    return this.issuers.size;
  }

  /** A v1 checkpoint (bucket baselines only) resumes with empty hourly trends, workloads and contexts. */
  private upgrade(v1: MintRateSpikeStateV1): MintRateSpikeState {
    return {
      v: 2,
      closed_through: v1.closed_through,
      pending_late: v1.pending_late,
      late_events: v1.late_events,
      edge_origin: null,
      edges: new MidasR({ rows: 2, buckets: this.config.edge_sketch_buckets, seed: 7 }).snapshot(),
      issuers: v1.issuers.map(([k, e]) => [
        k,
        {
          touched: e.touched,
          value: {
            open: e.value.open ? { ...e.value.open, judged: e.value.open.count, fresh: 0, edge: 0 } : null,
            next: e.value.next,
            streak: e.value.streak,
            scorer: e.value.scorer,
            trend: newTrendState(),
            running: newRunningState(this.sizeMs),
            burst: newBurstState(),
            releases: [],
            kinds: { asn: false, network: false, client: false },
            first_mint: e.touched,
            mints: 0,
            workloads: [],
            contexts: [],
          },
        },
      ]),
    };
  }

  /**
   * A start-up mint of a first-seen workload (within its allowance) does not count ('startup').
   * Otherwise, for a mint that names a workload: 'repeat' when the workload already minted within
   * the 15-minute window (./burst-window.ts), else 'refresh'. Workloads are only tracked with a
   * deploy_allowance (0 turns deploy-awareness off: every mint then counts as one without a workload).
   */
  private workloadMint(st: LiveIssuer, e: TokenEvent, start: number): WorkloadMint {
    const id = e.workload?.id;
    const allowance = this.config.deploy_allowance;
    if (!id || allowance === 0) return undefined;
    const key = `${e.workload!.kind}:${id}`;
    const seen = st.workloads.get(key);
    if (!seen) {
      st.workloads.set(key, { first: start, n: 1, last: e.time });
      if (st.workloads.size > this.config.max_workloads_per_issuer) st.workloads.delete(st.workloads.keys().next().value!);
      return 'startup';
    }
    st.workloads.delete(key);
    st.workloads.set(key, seen);
    const last = seen.last;
    seen.last = last === undefined ? e.time : Math.max(last, e.time);
    if (seen.first === start && seen.n < allowance) {
      seen.n++;
      return 'startup';
    }
    return last !== undefined && e.time - last < BURST_MINUTES * MIN_MS ? 'repeat' : 'refresh';
  }

  /**
   * A mint by a user agent the issuer has not minted with before, within RELEASE_FRESH_MS of that
   * agent's first mint: a new release (the version is in the agent) starting up, whose replicas all
   * mint at once — the OAuth-client counterpart of first-seen workloads, for grants that name no
   * workload. An issuer's first agent is never fresh.
   */
  private releaseMint(st: LiveIssuer, e: TokenEvent): boolean {
    const ua = e.user_agent;
    if (!ua) return false;
    const key = ua.length > 128 ? ua.slice(0, 128) : ua;
    const list = st.releases;
    let i = list.length - 1;
    while (i >= 0 && list[i]![0] !== key) i--;
    if (i < 0) {
      const isNew = list.length > 0;
      list.push([key, e.time]);
      if (list.length > MAX_RELEASES) list.shift();
      return isNew;
    }
    const entry = list[i]!;
    if (i !== list.length - 1) {
      list.splice(i, 1);
      list.push(entry);
    }
    return entry[1] !== st.first_mint && e.time - entry[1] < RELEASE_FRESH_MS;
  }

  /** Count issuer → audience / network / client edges in MIDAS-R; the highest normalised score. */
  private scoreEdges(issuer: string, ctx: MintContext, time: number): number {
    this.edgeOrigin ??= time;
    const tick = Math.floor((time - this.edgeOrigin) / this.sizeMs) + 1;
    let raw = 0;
    if (ctx.audience) raw = Math.max(raw, this.edges.score(issuer, `aud:${ctx.audience}`, tick));
    if (ctx.asn || ctx.network) raw = Math.max(raw, this.edges.score(issuer, ctx.asn ? keyOf.asn(ctx.asn) : keyOf.network(ctx.network!), tick));
    if (ctx.client) raw = Math.max(raw, this.edges.score(issuer, keyOf.client(ctx.client), tick));
    return normalizeScore(raw, EDGE_HALF_SCORE);
  }

  private judgeContext(issuer: string, st: LiveIssuer, e: TokenEvent, ctx: MintContext, edge: number, drafts: AlertDraft[]): void {
    const c = this.config;
    const established = e.time - st.first_mint >= c.context_min_hours * HOUR_MS && st.mints >= c.context_min_mints;
    if (established) {
      const n = noveltyOf(ctx, st.contexts, st.kinds);
      if (n.score >= NOVELTY_ALERT - 1e-9) {
        let asns = 0;
        let networks = 0;
        let clients = 0;
        for (const k of st.contexts.keys()) {
          if (k.startsWith('a:')) asns++;
          else if (k.startsWith('n:')) networks++;
          else clients++;
        }
        drafts.push(contextDraft(issuer, e, ctx, n, edge, { asns, networks, clients, mints: st.mints }));
      }
    }
    learnContext(ctx, st.contexts, e.time, c.max_contexts_per_issuer);
    if (ctx.asn) st.kinds.asn = true;
    if (ctx.network) st.kinds.network = true;
    if (ctx.client) st.kinds.client = true;
  }

  /** Fold empty buckets since the last close, judge the open bucket and its hour, push drafts. */
  private close(issuer: string, st: LiveIssuer, drafts: AlertDraft[]): void {
    const b = st.open;
    if (!b) return;
    st.open = null;
    if (st.next !== null && st.next < b.start) {
      const empty = Math.round((b.start - st.next) / this.sizeMs);
      // Bounded work for long gaps: older empties would fall out of the window anyway.
      const fill = Math.min(empty, this.window);
      st.scorer.skip(empty - fill);
      for (let t = b.start - fill * this.sizeMs; t < b.start; t += this.sizeMs) st.scorer.learn(t, 0);
      st.streak = 0;
    }
    const a = st.scorer.assess(b.start, b.judged);
    st.next = b.start + this.sizeMs;
    st.streak = a.anomalous ? st.streak + 1 : 0;
    if (a.anomalous && st.streak >= this.config.sustain_buckets && b.judged >= this.config.min_count) {
      drafts.push(spikeDraft(this.config, issuer, b, a, st.streak, this.sizeMs));
    }
    const lastOfHour = (b.start + this.sizeMs) % HOUR_MS === 0;
    const t = addBucket(st.trend, b.start, b.judged, lastOfHour, this.trendOpts);
    const r = addRunningBucket(st.running, st.trend, b.start, this.sizeMs, b.judged - b.fresh, this.trendOpts);
    if (t?.anomalous) drafts.push(rampDraft(this.config, issuer, b, t));
    else if (r) drafts.push(rampDraft(this.config, issuer, b, r));
  }
}

export function createMintRateSpike(config: MintRateSpikeConfig): MintRateSpikeDetector {
  return new MintRateSpikeDetector(config);
}
