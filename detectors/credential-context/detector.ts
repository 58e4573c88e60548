/**
 * credential_context, keyed by issuer: every token of one issuer (role, OAuth client, service
 * account) reaches the same task, so the issuer's learned contexts, its workloads' contexts and
 * each token's own contexts live side by side.
 *
 * A use from a context the token already had only refreshes what was learned. A use from a new
 * context is judged against the issuer and the workload: each dimension that is new to the token
 * and not yet the issuer's (or the workload's) own adds −ln P(new value), with P the issuer's
 * learned novelty rate. High surprise alerts at once; moderate surprise makes the context a
 * suspect that alerts when the token's earlier context is used again within the window (two
 * contexts active at once — a copy, not a move: after a NAT or region change the old context
 * falls silent).
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { KeyedStore, keyStateOf, putKeyState, type KeyedEntry } from '../../src/core/keyed-store.js';
import { isoTime } from '../../src/core/time.js';
import type { AlertDraft, DetectorInstance } from '../types.js';
import { evidenceOf } from '../evidence.js';
import { Evidence, EvidenceInterner, timeAt, timeOffset, toTokenEvent, type EvidenceTail, type TimeOffset } from '../interned-evidence.js';
import type { CredentialContextConfig } from './config.js';
import { contextOf, describeContext, DIMENSIONS, sameContext, valueOf, type Dimension, type UseContext } from './context.js';
import { meta, type CredentialContextKind } from './meta.js';
import { findValue, isTrusted, newProfile, noveltyRate, observe, refresh, summarizeProfile, type ContextProfile } from './profile.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MAX_TRIGGER_EVENTS = 6;

export interface TokenContext extends UseContext {
  first: number;
  last: number;
  /** Seen on the token's mint (the caller's context), not on a use. */
  mint?: true;
}

interface Suspect<E = TokenEvent, C = TokenContext> {
  context: C;
  surprise: number;
  novel: Dimension[];
  event: E;
  /** The issuer/workload baseline the new context was judged against, for the alert. */
  profiles: { issuer: unknown; workload: unknown };
}

/** A token's record as state JSON (snapshot, getKey) carries it; live, the detector keeps Rec. */
export interface TokenRecord {
  contexts: TokenContext[];
  workload?: string;
  first_event?: TokenEvent;
  suspect?: Suspect;
  alerted_at?: number;
}

/** The members of a use context, in order (the interner's shared copy of one). */
const PLACE_FIELDS: readonly (keyof UseContext)[] = ['ip', 'network', 'asn', 'cloud', 'ua', 'private'];

/** The place of a context seen on a mint: a use context marked `mint` (one shared copy per distinct place too). */
type MintPlace = UseContext & { mint?: true };
const MINT_PLACE_FIELDS: readonly (keyof MintPlace)[] = [...PLACE_FIELDS, 'mint'];

/**
 * A context of a token as the detector keeps it: the place (a shared, interned UseContext, marked
 * when seen on the mint) and when; a token's contexts are a list linked through `later` (no array
 * per token).
 */
class Ctx implements TokenContext {
  /** The token's next context (not `next`: bench/heap-breakdown.ts does not follow list links). */
  later: Ctx | undefined = undefined;
  /** `last` as an offset from `first` (see timeOffset). */
  private lastAt: TimeOffset;

  constructor(
    readonly place: Readonly<MintPlace>,
    readonly first: number,
    last: number,
  ) {
    this.lastAt = timeOffset(last, first);
  }

  get last(): number {
    return timeAt(this.lastAt, this.first);
  }

  set last(t: number) {
    this.lastAt = timeOffset(t, this.first);
  }

  get mint(): true | undefined {
    return this.place.mint;
  }

  get ip(): string | undefined {
    return this.place.ip;
  }

  get network(): string | undefined {
    return this.place.network;
  }

  get asn(): string | undefined {
    return this.place.asn;
  }

  get cloud(): string | undefined {
    return this.place.cloud;
  }

  get ua(): string | undefined {
    return this.place.ua;
  }

  get private(): boolean {
    return this.place.private;
  }
}

const NO_CONTEXTS: readonly Ctx[] = Object.freeze([]);
const NO_DRAFTS: readonly AlertDraft[] = Object.freeze([]);

/** A token's live record: fixed shape, its contexts a linked list, compact evidence. */
class Rec {
  private earliest: Ctx | undefined = undefined;
  workload: string | undefined = undefined;
  /** The first event's members, inline (no Evidence object per token): id, time, shared tail. */
  private firstId: string | undefined = undefined;
  private firstTime = 0;
  private firstTail: EvidenceTail | undefined = undefined;
  suspect: Suspect<Evidence, Ctx> | undefined = undefined;
  alerted_at: number | undefined = undefined;

  /** A new Evidence view of the inline members. */
  get first_event(): Evidence | undefined {
    return this.firstId === undefined ? undefined : new Evidence(this.firstId, this.firstTime, this.firstTail!);
  }

  set first_event(e: Evidence | undefined) {
    this.firstId = e?.event_id;
    this.firstTime = e?.time ?? 0;
    this.firstTail = e?.tail;
  }

  get hasFirstEvent(): boolean {
    return this.firstId !== undefined;
  }

  /** The token's contexts, in order (a new array: set `contexts` to change them). */
  get contexts(): readonly Ctx[] {
    if (this.earliest === undefined) return NO_CONTEXTS;
    const out: Ctx[] = [];
    for (let c: Ctx | undefined = this.earliest; c !== undefined; c = c.later) out.push(c);
    return out;
  }

  /** The first context the token was used from (not requested from) that is the same as `ctx` — no array. */
  usedFrom(ctx: UseContext): Ctx | undefined {
    for (let c = this.earliest; c !== undefined; c = c.later) if (c.mint !== true && sameContext(c, ctx)) return c;
    return undefined;
  }

  /** The first context the token was requested from that is the same as `ctx`. */
  mintedFrom(ctx: UseContext): Ctx | undefined {
    for (let c = this.earliest; c !== undefined; c = c.later) if (c.mint === true && sameContext(c, ctx)) return c;
    return undefined;
  }

  set contexts(list: readonly Ctx[]) {
    for (let i = 0; i < list.length; i++) list[i]!.later = list[i + 1];
    this.earliest = list[0];
  }
}

function contextJson(c: Ctx): TokenContext {
  const { mint, ...place } = c.place;
  const o = { ...place, first: c.first, last: c.last } as TokenContext;
  if (mint) o.mint = true;
  return o;
}

function recordJson(r: Rec, fp: string): TokenRecord {
  const o: TokenRecord = { contexts: r.contexts.map(contextJson) };
  if (r.workload !== undefined) o.workload = r.workload;
  if (r.first_event !== undefined) o.first_event = toTokenEvent(r.first_event, fp);
  if (r.suspect !== undefined) o.suspect = { ...r.suspect, context: contextJson(r.suspect.context), event: toTokenEvent(r.suspect.event, fp) };
  if (r.alerted_at !== undefined) o.alerted_at = r.alerted_at;
  return o;
}

/** A profile as state JSON carries it: a holder suspect's event expanded. */
function profileJson(p: ContextProfile): ContextProfile {
  return p.suspect === undefined ? p : { ...p, suspect: { ...p.suspect, event: toTokenEvent(p.suspect.event as Evidence, p.suspect.fp) } };
}

export interface CredentialContextState {
  version: 1;
  issuers: [string, KeyedEntry<ContextProfile>][];
  workloads: [string, KeyedEntry<ContextProfile>][];
  tokens: [string, KeyedEntry<TokenRecord>][];
}

/** The token was used from this value (a mint's context is where it was requested, not used). */
const tokenHas = (rec: Rec, d: Dimension, v: string): boolean => rec.contexts.some((c) => c.mint !== true && valueOf(c, d) === v);
const shortFp = (fp: string): string => `${fp.slice(0, 12)}…`;

function describe(c: UseContext): string {
  const parts = [c.ip, c.asn, c.cloud, c.ua].filter((p) => p !== undefined);
  return parts.length > 0 ? parts.join(', ') : 'an unknown context';
}

export class CredentialContextDetector implements DetectorInstance<CredentialContextState> {
  private readonly issuers: KeyedStore<ContextProfile>;
  private readonly workloads: KeyedStore<ContextProfile>;
  private readonly tokens: KeyedStore<Rec>;
  /** Shared strings, places and evidence heads of this instance's state. */
  private readonly interner = new EvidenceInterner();
  private readonly windowMs: number;
  private readonly learningMs: number;
  private readonly gapMs: number;

  constructor(private readonly config: CredentialContextConfig) {
    this.issuers = new KeyedStore(config.max_issuers, config.issuer_idle_ttl_days * DAY_MS);
    this.workloads = new KeyedStore(config.max_workloads, config.workload_idle_ttl_days * DAY_MS);
    this.tokens = new KeyedStore(config.max_tokens, config.token_idle_ttl_hours * HOUR_MS);
    this.windowMs = config.context_window_minutes * 60_000;
    this.learningMs = config.learning_hours * HOUR_MS;
    this.gapMs = config.concurrency_min_gap_seconds * 1000;
  }

  process(event: TokenEvent): AlertDraft[] {
    if (event.issuer === undefined) return [];
    if (event.action === 'mint') {
      this.seedFromMint(event);
      return [];
    }
    if (event.action !== 'use') return [];
    const ctx = contextOf(event);
    if (ctx === undefined) return [];
    const t = event.time;
    const issuer = this.issuers.touch(event.issuer, t, () => newProfile(t));
    // The holder the credential belongs to: its workload (instance, pod, CI run) or, for user-bound
    // tokens, its subject; every credential minted for one holder is compared with the others.
    const workloadKey =
      event.workload !== undefined && event.workload.kind !== 'other'
        ? `${event.issuer}\0${event.workload.kind}:${event.workload.id}`
        : event.subject !== undefined && event.subject !== event.issuer
          ? `${event.issuer}\0subject:${event.subject}`
          : undefined;
    const workload = workloadKey !== undefined ? this.workloads.touch(workloadKey, t, () => newProfile(t)) : undefined;
    const fp = event.token.fp;
    const rec = this.tokens.touch(fp, t, () => new Rec());
    if (!rec.hasFirstEvent) rec.first_event = this.interner.evidence(event, fp);
    if (workloadKey !== undefined && rec.workload !== workloadKey) rec.workload = this.interner.str(workloadKey);
    if (rec.suspect !== undefined && t - rec.suspect.event.time > this.windowMs) rec.suspect = undefined;
    const out = workload !== undefined ? this.confirmHolderSuspect(workload, issuer, fp, ctx, event) : [];

    const known = rec.usedFrom(ctx);
    // The owner back in a context the token had before the suspect (its own earlier use, or where it was requested).
    const older = known ?? rec.mintedFrom(ctx);
    const confirmed = older !== undefined ? this.confirmSuspect(rec, fp, older, event, issuer) : NO_DRAFTS;
    if (known !== undefined) {
      if (t > known.last) known.last = t;
      refresh(issuer, ctx, t);
      if (workload) refresh(workload, ctx, t);
      return confirmed.length === 0 ? out : out.concat(confirmed);
    }
    return out.concat(confirmed, this.newContext(rec, fp, ctx, event, issuer, workload));
  }

  /**
   * Another credential of the holder used from a context the holder had before its suspect
   * appeared: the holder is still where it was, so the suspect credential is a copy.
   */
  private confirmHolderSuspect(holder: ContextProfile, issuer: ContextProfile, fp: string, ctx: UseContext, event: TokenEvent): AlertDraft[] {
    const s = holder.suspect;
    if (s === undefined) return [];
    const t = event.time;
    if (t - s.time > this.windowMs) {
      delete holder.suspect;
      return [];
    }
    if (fp === s.fp || t - s.time < this.gapMs) return [];
    // In one of the new dimensions, this use has a value the holder had before the suspect appeared.
    let before: number | undefined;
    for (const d of s.novel) {
      const v = valueOf(ctx, d);
      if (v === undefined || v === s.values[d]) continue;
      const known = findValue(holder, d, v);
      if (known !== undefined && known.first < s.time) before = Math.min(before ?? known.first, known.first);
    }
    if (before === undefined) return [];
    delete holder.suspect;
    if (this.nowShared(issuer, s.novel, s.values)) return [];
    const rec = this.tokens.get(s.fp);
    this.tokens.mark(s.fp); // alert() stamps alerted_at
    const fresh = rec?.contexts.find((c) => s.novel.every((d) => valueOf(c, d) === s.values[d]));
    if (rec === undefined || fresh === undefined) return [];
    const previous: TokenContext = { ...ctx, first: before, last: t };
    return this.alert(rec, s.fp, event, fresh, previous, s.novel, s.surprise, true, s.profiles, s.event as Evidence);
  }

  /**
   * The context a token was requested from (an AssumeRole call from the workload's egress with its
   * SDK) is where its owner is: a first use from elsewhere is then judged against it. It teaches
   * the issuer nothing (a grant is seen from the IdP's vantage point, not where tokens are used).
   */
  private seedFromMint(event: TokenEvent): void {
    const ctx = contextOf(event);
    if (ctx === undefined || ctx.network === undefined) return;
    const fp = event.token.fp;
    const rec = this.tokens.touch(fp, event.time, () => new Rec());
    if (rec.contexts.length > 0) return;
    rec.contexts = [new Ctx(this.interner.flat(MINT_PLACE_FIELDS, { ...ctx, mint: true }), event.time, event.time)];
    if (!rec.hasFirstEvent) rec.first_event = this.interner.evidence(event, fp);
  }

  advance(watermark: number): AlertDraft[] {
    this.tokens.evictIdle(watermark);
    this.workloads.evictIdle(watermark);
    this.issuers.evictIdle(watermark);
    return [];
  }

  snapshot(): CredentialContextState {
    const workloads = this.workloads.toJSON().map(([k, e]): [string, KeyedEntry<ContextProfile>] => [k, { value: profileJson(e.value), touched: e.touched }]);
    const tokens = this.tokens.toJSON().map(([k, e]): [string, KeyedEntry<TokenRecord>] => [k, { value: recordJson(e.value, k), touched: e.touched }]);
    return structuredClone({ version: 1, issuers: this.issuers.toJSON(), workloads, tokens });
  }

  restore(state: CredentialContextState): void {
    if (state.version !== 1) throw new Error(`credential_context: unsupported state version ${String(state.version)}`);
    const s = structuredClone(state);
    this.issuers.load(s.issuers);
    this.workloads.load(s.workloads.map(([k, e]): [string, KeyedEntry<ContextProfile>] => [k, { value: this.profileFromJson(e.value), touched: e.touched }]));
    this.tokens.load(s.tokens.map(([k, e]): [string, KeyedEntry<Rec>] => [k, { value: this.recordFromJson(k, e.value), touched: e.touched }]));
  }

  /** The live record of a TokenRecord (state JSON). */
  private recordFromJson(fp: string, j: TokenRecord): Rec {
    const r = new Rec();
    r.contexts = j.contexts.map((c) => this.ctxOf(c));
    r.workload = this.interner.opt(j.workload);
    if (j.first_event !== undefined) r.first_event = this.interner.evidence(j.first_event, fp);
    if (j.suspect !== undefined) r.suspect = { ...j.suspect, context: this.ctxOf(j.suspect.context), event: this.interner.evidence(j.suspect.event, fp) };
    r.alerted_at = j.alerted_at;
    return r;
  }

  private ctxOf(c: TokenContext): Ctx {
    const place: MintPlace = { private: c.private };
    if (c.ip !== undefined) place.ip = c.ip;
    if (c.network !== undefined) place.network = c.network;
    if (c.asn !== undefined) place.asn = c.asn;
    if (c.cloud !== undefined) place.cloud = c.cloud;
    if (c.ua !== undefined) place.ua = c.ua;
    if (c.mint) place.mint = true;
    return new Ctx(this.interner.flat(c.mint ? MINT_PLACE_FIELDS : PLACE_FIELDS, place), c.first, c.last);
  }

  /** A holder profile from state JSON: its suspect's event compact again. */
  private profileFromJson(p: ContextProfile): ContextProfile {
    if (p.suspect !== undefined) p.suspect.event = this.interner.evidence(p.suspect.event as TokenEvent, p.suspect.fp);
    return p;
  }

  size(): number {
    return this.tokens.size + this.issuers.size + this.workloads.size;
  }

  /** State keys: `i:` issuer, `w:` holder (issuer\0workload), `t:` token fingerprint. */
  changedKeys(): string[] {
    const keys: string[] = [];
    for (const k of this.issuers.drainChanged()) keys.push(`i:${k}`);
    for (const k of this.workloads.drainChanged()) keys.push(`w:${k}`);
    for (const k of this.tokens.drainChanged()) keys.push(`t:${k}`);
    return keys;
  }

  getKey(key: string): unknown {
    const k = key.slice(2);
    switch (key.slice(0, 2)) {
      case 'i:':
        return keyStateOf(this.issuers, k, (v) => v);
      case 'w:':
        return keyStateOf(this.workloads, k, profileJson);
      case 't:':
        return keyStateOf(this.tokens, k, (v) => recordJson(v, k));
      default:
        return undefined;
    }
  }

  putKey(key: string, state: unknown): void {
    const k = key.slice(2);
    switch (key.slice(0, 2)) {
      case 'i:':
        return putKeyState(this.issuers, k, state, (v: ContextProfile) => v);
      case 'w:':
        return putKeyState(this.workloads, k, state, (v: ContextProfile) => this.profileFromJson(v));
      case 't:':
        return putKeyState(this.tokens, k, state, (v: TokenRecord) => this.recordFromJson(k, v));
    }
  }

  private learning(p: ContextProfile, t: number): boolean {
    return t - p.first_seen < this.learningMs || p.observations < this.config.min_observations;
  }

  private newContext(rec: Rec, fp: string, use: UseContext, event: TokenEvent, issuer: ContextProfile, workload: ContextProfile | undefined): AlertDraft[] {
    const t = event.time;
    // one shared copy per distinct context: what the record and the profiles keep points into it
    const ctx = this.interner.flat(PLACE_FIELDS, use);
    const trusted = this.config.trusted_after_tokens;
    // With no earlier use of its own, a token is compared with its holder's other credentials, or
    // with where it was requested from.
    const used = rec.contexts.some((c) => c.mint !== true);
    const holderHistory = workload !== undefined && workload.observations > 0;
    const mintedElsewhere = rec.contexts.some((c) => c.mint === true && !sameContext(c, ctx));
    const comparable = used || holderHistory || mintedElsewhere;
    const novel: Dimension[] = [];
    let surprise = 0;
    for (const d of DIMENSIONS) {
      const v = valueOf(ctx, d);
      if (v === undefined || tokenHas(rec, d, v) || isTrusted(issuer, d, v, trusted)) continue;
      if (workload !== undefined && isTrusted(workload, d, v, trusted)) continue;
      novel.push(d);
      surprise += -Math.log(noveltyRate(issuer, d));
    }
    const judged = comparable && novel.length > 0 && !this.learning(issuer, t);
    const baselineIssuer = judged ? summarizeProfile(issuer, novel) : null;
    const baselineWorkload = judged ? summarizeProfile(workload, novel) : null;

    const alreadyHad = (d: Dimension, v: string): boolean => tokenHas(rec, d, v);
    observe(issuer, ctx, t, this.config.max_values_per_dimension, alreadyHad);
    if (workload) observe(workload, ctx, t, this.config.max_values_per_dimension, alreadyHad);
    const stored = new Ctx(ctx, t, t);
    // concat: an exactly-sized array (push() onto [] reserves room for 16 more, per token)
    const contexts = rec.contexts.concat(stored);
    if (contexts.length > this.config.max_contexts_per_token) {
      let oldest = 0;
      for (let i = 1; i < contexts.length; i++) if (contexts[i]!.last < contexts[oldest]!.last) oldest = i;
      contexts.splice(oldest, 1);
    }
    rec.contexts = contexts;
    if (!judged || surprise < this.config.suspect_surprise) return [];
    // At once only against the owner's own uses: where a token was requested says less (a grant
    // is seen from the IdP's side), so a first use elsewhere waits for the owner to show up.
    if (surprise >= this.config.alert_surprise && (used || holderHistory)) {
      const previous = this.mostRecentOther(rec, stored);
      return this.alert(rec, fp, event, stored, previous, novel, surprise, false, { issuer: baselineIssuer, workload: baselineWorkload });
    }
    const profiles = { issuer: baselineIssuer, workload: baselineWorkload };
    if (used || mintedElsewhere) rec.suspect = { context: stored, surprise, novel, event: this.interner.evidence(event, fp), profiles };
    if (!used && workload !== undefined) {
      // A credential whose first use is already elsewhere: its holder's other credentials must show concurrency.
      const values: Partial<Record<Dimension, string>> = {};
      for (const d of novel) values[d] = valueOf(ctx, d);
      workload.suspect = { fp, time: t, values, surprise, novel, event: this.interner.evidence(event, fp), profiles };
    }
    return [];
  }

  /** The token's earlier context used again after a suspect appeared: two contexts at once. */
  private confirmSuspect(rec: Rec, fp: string, known: Ctx, event: TokenEvent, issuer: ContextProfile): AlertDraft[] {
    const s = rec.suspect;
    if (s === undefined || sameContext(s.context, known) || known.first >= s.context.first) return [];
    // A new public egress is confirmed by the old public egress when the token had one: a move from
    // one NAT to another never brings the old one back, while the VPC-endpoint (private) traffic of
    // the same instance carries on either way.
    if (!s.context.private && known.private && rec.contexts.some((c) => !c.private && c !== s.context && c.first < s.context.first)) return [];
    // Requests in flight during a move (and skewed clocks) interleave for a moment; a copy keeps going.
    if (event.time - s.context.first < this.gapMs) return [];
    rec.suspect = undefined; // not delete: a fixed-shape record stays fast and small
    if (this.nowShared(issuer, s.novel, s.context)) return [];
    return this.alert(rec, fp, event, s.context, known, s.novel, s.surprise, true, s.profiles, s.event);
  }

  /**
   * Meanwhile other credentials of the issuer use the suspect's new values too: a new shared egress
   * (a NAT gateway of a new fleet, a new region), not a copy of one credential.
   */
  private nowShared(issuer: ContextProfile, novel: readonly Dimension[], values: UseContext | Partial<Record<Dimension, string>>): boolean {
    for (const d of novel) {
      const v = 'private' in values ? valueOf(values as UseContext, d) : (values as Partial<Record<Dimension, string>>)[d];
      if (v === undefined || !isTrusted(issuer, d, v, this.config.trusted_after_tokens)) return false;
    }
    return novel.length > 0;
  }

  private mostRecentOther(rec: Rec, self: Ctx): Ctx | undefined {
    let best: Ctx | undefined;
    for (const c of rec.contexts) if (c !== self && (best === undefined || c.last > best.last)) best = c;
    return best;
  }

  private alert(
    rec: Rec,
    fp: string,
    trigger: TokenEvent,
    fresh: TokenContext,
    previous: TokenContext | undefined,
    novel: Dimension[],
    surprise: number,
    concurrent: boolean,
    profiles: { issuer: unknown; workload: unknown } | null,
    suspectEvent?: Evidence,
  ): AlertDraft[] {
    const t = trigger.time;
    if (rec.alerted_at !== undefined && t - rec.alerted_at < this.windowMs) return [];
    rec.alerted_at = t;
    const holder = rec.workload?.split('\0')[1];
    const kind: CredentialContextKind = holder !== undefined && !holder.startsWith('subject:') ? 'workload_credential_exfiltration' : 'new_context';
    const critical = kind === 'workload_credential_exfiltration' || novel.includes('asn') || concurrent;
    const kept: Evidence[] = [];
    for (const e of [rec.first_event, suspectEvent]) if (e !== undefined && e.event_id !== trigger.event_id && !kept.some((x) => x.event_id === e.event_id)) kept.push(e);
    kept.sort((a, b) => a.time - b.time);
    const events = kept.map((e) => toTokenEvent(e, fp));
    events.push(evidenceOf(trigger));
    const workloadText = holder !== undefined ? ` (${holder.startsWith('subject:') ? holder.replace(':', ' ') : `workload ${holder}`})` : '';
    return [
      {
        kind,
        severity: critical ? 'critical' : 'high',
        score: Math.min(1, 0.5 + surprise / 20 + (concurrent ? 0.2 : 0)),
        title: meta.kinds[kind]!.title,
        summary:
          `Token ${shortFp(fp)}${workloadText} was used from ${describe(fresh)}, new to the token and to its issuer ` +
          `(new ${novel.join(', ')}; surprise ${surprise.toFixed(1)})` +
          (concurrent && previous ? `, while its earlier context ${describe(previous)} stayed in use.` : '.'),
        dedup_key: `${kind}:${fp}`,
        token_fp: fp,
        ...(trigger.issuer !== undefined && { issuer: trigger.issuer }),
        ...(trigger.subject !== undefined && { subject: trigger.subject }),
        ...(trigger.service !== undefined && { service: trigger.service }),
        events: events.slice(-MAX_TRIGGER_EVENTS),
        baseline: {
          new_context: describeContext(fresh),
          previous_context: previous ? { ...describeContext(previous), last_seen: isoTime(previous.last) } : null,
          new_dimensions: novel,
          surprise: Number(surprise.toFixed(2)),
          thresholds: { suspect: this.config.suspect_surprise, alert: this.config.alert_surprise },
          both_contexts_active: concurrent,
          token_contexts: rec.contexts.length,
          ...(profiles ? { issuer_profile: profiles.issuer, workload_profile: profiles.workload } : {}),
        },
      },
    ];
  }
}

export function createCredentialContext(config: CredentialContextConfig): CredentialContextDetector {
  return new CredentialContextDetector(config);
}
