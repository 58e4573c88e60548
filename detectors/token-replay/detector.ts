/**
 * token_replay: per token fingerprint, remember where the token lives (home context), whether it
 * was revoked or when it expires, and whether it is one-time; flag uses that contradict that.
 * The contexts only qualify those findings (a refused use after revocation from the home context
 * is the revocation working); a use from a new context is credential_context's judgement.
 *
 * A mint event with parent_fp is also a use of the parent (a refresh token redeemed, AssumeRole
 * called with a session key). The runtime may deliver such an event once per key, to the same or
 * to different instances, so every call handles both roles. Re-applying an event is harmless:
 * its context already matches, a one-time redemption at the same time and context is the same
 * redemption, and repeated alerts are suppressed inside the context window.
 */
import { TOKEN_KINDS, type TokenEvent, type TokenKind } from '../../schemas/token-event.js';
import { isoTime } from '../../src/core/time.js';
import { KeyedStore, fromStateKey, keyStateOf, putKeyState, toStateKey, type KeyedEntry } from '../../src/core/keyed-store.js';
import { uaFamily } from '../ua-family.js';
import { Evidence, EvidenceInterner, timeAt, timeOffset, toTokenEvent, type EvidenceTail, type TimeOffset } from '../interned-evidence.js';
import { SHARED_STATE_KEY, type AlertDraft, type DetectorInstance } from '../types.js';
import type { TokenReplayConfig } from './config.js';
import { meta, type TokenReplayKind } from './meta.js';
import { createNetworkResolver, type NetworkInfo, type NetworkResolver } from '../network.js';

/** Where a token was used from; unknown dimensions are left out and never count as different. */
export interface TokenContext {
  ip?: string;
  /** Network comparison key (declared range, subnet or single IP). */
  network?: string;
  network_name?: string;
  /** Public IP outside every declared range. */
  external: boolean;
  asn?: string;
  ua_family?: string;
  workload?: string;
  first_seen: number;
  last_seen: number;
}

/**
 * A token's record as state JSON (snapshot, getKey) carries it. A remembered event holds only what
 * evidence needs (see evidenceOf): a token's record lives for hours and most tokens never alert.
 * Live, the detector keeps the compact form (Rec below).
 */
export interface TokenRecord {
  kind: TokenKind;
  one_time: boolean;
  first_event?: TokenEvent;
  home?: TokenContext;
  home_event?: TokenEvent;
  /** Non-home contexts, at most max_contexts_per_token - 1, least recently seen evicted first (absent: none yet). */
  others?: TokenContext[];
  /** Distinct contexts ever seen (including evicted ones). */
  contexts_seen: number;
  revoked_at?: number;
  revoke_event?: TokenEvent;
  /** When and by which source the token was minted (a use by another source logged before it reveals clock skew). */
  minted_at?: number;
  mint_source?: string;
  /** Latest accepted use (a revocation logged after it is judged against it). */
  last_accepted_use?: number;
  expires_at?: number;
  /** First redemption of a one-time token. */
  first_use?: { time: number; context?: TokenContext; event: TokenEvent };
  uses: number;
  /** Last mint whose parent is this token, and the context it came from. */
  last_refresh?: { time: number; context?: TokenContext };
  /** Kind → event time of the last alert, for suppression inside the context window (absent: none yet). */
  alerted?: Partial<Record<TokenReplayKind, number>>;
}

export interface TokenReplayState {
  version: 1;
  tokens: [string, KeyedEntry<TokenRecord>][];
  /** Per source: the largest lead (ms) of a use over its own mint seen, i.e. how far behind its clock runs. */
  skew?: [string, number][];
}

export { uaFamily } from '../ua-family.js';

/**
 * Where a context is: the resolved network (the resolver's shared object, one per IP) and the
 * interned strings; stored contexts share one frozen copy per distinct place (interner.flat).
 */
interface Where {
  readonly net?: NetworkInfo;
  readonly asn?: string;
  readonly ua_family?: string;
  readonly workload?: string;
}

const WHERE_FIELDS: readonly (keyof Where)[] = ['net', 'asn', 'ua_family', 'workload'];

/** A context as the detector keeps it: where (shared when stored) and when; the rest reads through `where`. */
class Place implements TokenContext {
  private first: number;
  /** last_seen as an offset from first_seen (see timeOffset). */
  private last: TimeOffset;

  constructor(
    public where: Where,
    first_seen: number,
    last_seen: number,
  ) {
    this.first = first_seen;
    this.last = timeOffset(last_seen, first_seen);
  }

  get first_seen(): number {
    return this.first;
  }

  set first_seen(t: number) {
    const last = this.last_seen;
    this.first = t;
    this.last = timeOffset(last, t);
  }

  get last_seen(): number {
    return timeAt(this.last, this.first);
  }

  set last_seen(t: number) {
    this.last = timeOffset(t, this.first);
  }

  get net(): NetworkInfo | undefined {
    return this.where.net;
  }

  get asn(): string | undefined {
    return this.where.asn;
  }

  get ua_family(): string | undefined {
    return this.where.ua_family;
  }

  get workload(): string | undefined {
    return this.where.workload;
  }

  get ip(): string | undefined {
    return this.where.net?.ip;
  }

  get network(): string | undefined {
    return this.where.net?.key;
  }

  get network_name(): string | undefined {
    return this.where.net?.name;
  }

  get external(): boolean {
    return this.where.net?.external ?? false;
  }
}

const NO_PLACES: readonly Place[] = Object.freeze([]);

/** What few tokens need (a revocation, one-time use, a refresh, an alert): one object when they do. */
class Rare {
  revoked_at: number | undefined = undefined;
  revoke_event: Evidence | undefined = undefined;
  uses = 0;
  first_use: { time: number; context: Place | undefined; event: Evidence } | undefined = undefined;
  last_refresh: { time: number; context: Place | undefined } | undefined = undefined;
  alerted: Partial<Record<TokenReplayKind, number>> | undefined = undefined;
}

const KIND_INDEX = new Map<string, number>(TOKEN_KINDS.map((k, i) => [k, i]));
const UNKNOWN_KIND = KIND_INDEX.get('unknown')!;
const ONE_TIME = 16;
const MAX_CONTEXTS_SEEN = 2 ** 25;

/**
 * A token's live record (TokenRecord is its JSON form): fixed shape, kind, one-time flag and the
 * context count packed in one small integer, the rarely used members in one optional object,
 * the first and home events inline (id, time, shared tail: interned-evidence.ts), times as small
 * offsets from the record's base (no heap number each).
 */
class Rec {
  /** Kind (index in TOKEN_KINDS, bits 0-3) | one_time (bit 4) | contexts_seen (bits 5+). */
  private bits = UNKNOWN_KIND;
  /** The first and home events' members, inline (no Evidence object per token): id, time, shared tail. */
  private firstId: string | undefined = undefined;
  private firstTime: TimeOffset = 0;
  private firstTail: EvidenceTail | undefined = undefined;
  home: Place | undefined = undefined;
  private homeId: string | undefined = undefined;
  private homeTime: TimeOffset = 0;
  private homeTail: EvidenceTail | undefined = undefined;
  others: Place[] | undefined = undefined;
  private minted: TimeOffset | undefined = undefined;
  private lastAccepted: TimeOffset | undefined = undefined;
  mint_source: string | undefined = undefined;
  private expires: TimeOffset | undefined = undefined;
  private x: Rare | undefined = undefined;

  constructor(
    /** The base of the record's times (kept as small offsets from it: see timeOffset). */
    private readonly base: number,
  ) {}

  get last_accepted_use(): number | undefined {
    return this.lastAccepted === undefined ? undefined : timeAt(this.lastAccepted, this.base);
  }

  set last_accepted_use(t: number | undefined) {
    this.lastAccepted = t === undefined ? undefined : timeOffset(t, this.base);
  }

  get minted_at(): number | undefined {
    return this.minted === undefined ? undefined : timeAt(this.minted, this.base);
  }

  set minted_at(t: number | undefined) {
    this.minted = t === undefined ? undefined : timeOffset(t, this.base);
  }

  get expires_at(): number | undefined {
    return this.expires === undefined ? undefined : timeAt(this.expires, this.base);
  }

  set expires_at(t: number | undefined) {
    this.expires = t === undefined ? undefined : timeOffset(t, this.base);
  }

  get kind(): TokenKind {
    return TOKEN_KINDS[this.bits & 15]!;
  }

  set kind(k: TokenKind) {
    this.bits = (this.bits & ~15) | (KIND_INDEX.get(k) ?? UNKNOWN_KIND);
  }

  get one_time(): boolean {
    return (this.bits & ONE_TIME) !== 0;
  }

  set one_time(v: boolean) {
    this.bits = v ? this.bits | ONE_TIME : this.bits & ~ONE_TIME;
  }

  get contexts_seen(): number {
    return this.bits >>> 5;
  }

  set contexts_seen(n: number) {
    this.bits = (this.bits & 31) | (Math.min(n, MAX_CONTEXTS_SEEN - 1) << 5);
  }

  /** A new Evidence view of the inline members. */
  get first_event(): Evidence | undefined {
    return this.firstId === undefined ? undefined : new Evidence(this.firstId, timeAt(this.firstTime, this.base), this.firstTail!);
  }

  set first_event(e: Evidence | undefined) {
    this.firstId = e?.event_id;
    this.firstTime = e === undefined ? 0 : timeOffset(e.time, this.base);
    this.firstTail = e?.tail;
  }

  get home_event(): Evidence | undefined {
    return this.homeId === undefined ? undefined : new Evidence(this.homeId, timeAt(this.homeTime, this.base), this.homeTail!);
  }

  set home_event(e: Evidence | undefined) {
    this.homeId = e?.event_id;
    this.homeTime = e === undefined ? 0 : timeOffset(e.time, this.base);
    this.homeTail = e?.tail;
  }

  get hasFirstEvent(): boolean {
    return this.firstId !== undefined;
  }

  private rare(): Rare {
    return (this.x ??= new Rare());
  }

  get revoked_at(): number | undefined {
    return this.x?.revoked_at;
  }

  set revoked_at(v: number | undefined) {
    if (v !== undefined || this.x !== undefined) this.rare().revoked_at = v;
  }

  get revoke_event(): Evidence | undefined {
    return this.x?.revoke_event;
  }

  set revoke_event(v: Evidence | undefined) {
    if (v !== undefined || this.x !== undefined) this.rare().revoke_event = v;
  }

  get uses(): number {
    return this.x?.uses ?? 0;
  }

  set uses(n: number) {
    if (n !== 0 || this.x !== undefined) this.rare().uses = n;
  }

  get first_use(): Rare['first_use'] {
    return this.x?.first_use;
  }

  set first_use(v: Rare['first_use']) {
    if (v !== undefined || this.x !== undefined) this.rare().first_use = v;
  }

  get last_refresh(): Rare['last_refresh'] {
    return this.x?.last_refresh;
  }

  set last_refresh(v: Rare['last_refresh']) {
    if (v !== undefined || this.x !== undefined) this.rare().last_refresh = v;
  }

  get alerted(): Rare['alerted'] {
    return this.x?.alerted;
  }

  set alerted(v: Rare['alerted']) {
    if (v !== undefined || this.x !== undefined) this.rare().alerted = v;
  }
}

function contextJson(c: Place): TokenContext {
  const o: TokenContext = { external: c.external, first_seen: c.first_seen, last_seen: c.last_seen };
  if (c.ip !== undefined) o.ip = c.ip;
  if (c.network !== undefined) o.network = c.network;
  if (c.network_name !== undefined) o.network_name = c.network_name;
  if (c.asn !== undefined) o.asn = c.asn;
  if (c.ua_family !== undefined) o.ua_family = c.ua_family;
  if (c.workload !== undefined) o.workload = c.workload;
  return o;
}

function recordJson(r: Rec, fp: string): TokenRecord {
  const ev = (e: Evidence): TokenEvent => toTokenEvent(e, fp);
  const o: TokenRecord = { kind: r.kind, one_time: r.one_time, contexts_seen: r.contexts_seen, uses: r.uses };
  if (r.first_event !== undefined) o.first_event = ev(r.first_event);
  if (r.home !== undefined) o.home = contextJson(r.home);
  if (r.home_event !== undefined) o.home_event = ev(r.home_event);
  if (r.others !== undefined) o.others = r.others.map(contextJson);
  if (r.revoked_at !== undefined) o.revoked_at = r.revoked_at;
  if (r.revoke_event !== undefined) o.revoke_event = ev(r.revoke_event);
  if (r.minted_at !== undefined) o.minted_at = r.minted_at;
  if (r.last_accepted_use !== undefined) o.last_accepted_use = r.last_accepted_use;
  if (r.mint_source !== undefined) o.mint_source = r.mint_source;
  if (r.expires_at !== undefined) o.expires_at = r.expires_at;
  if (r.first_use !== undefined) {
    const u = r.first_use;
    o.first_use = u.context !== undefined ? { time: u.time, context: contextJson(u.context), event: ev(u.event) } : { time: u.time, event: ev(u.event) };
  }
  if (r.last_refresh !== undefined) {
    const l = r.last_refresh;
    o.last_refresh = l.context !== undefined ? { time: l.time, context: contextJson(l.context) } : { time: l.time };
  }
  if (r.alerted !== undefined) o.alerted = { ...r.alerted };
  return o;
}

const differsText = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && a.toLowerCase() !== b.toLowerCase();

/**
 * The dimensions two contexts differ in, or [] when they count as the same context: a different
 * workload alone is enough; a different network needs a different UA family or ASN as well.
 */
export function contextDifference(a: TokenContext, b: TokenContext): string[] {
  const workload = differsText(a.workload, b.workload);
  const network = a.network !== undefined && b.network !== undefined && a.network !== b.network;
  const ua = differsText(a.ua_family, b.ua_family);
  const asn = differsText(a.asn, b.asn);
  if (!workload && !(network && (ua || asn))) return [];
  const dims: string[] = [];
  if (network) dims.push('network');
  if (ua) dims.push('user_agent');
  if (asn) dims.push('asn');
  if (workload) dims.push('workload');
  return dims;
}

const sameContext = (a: TokenContext | undefined, b: TokenContext | undefined): boolean =>
  a === undefined || b === undefined || contextDifference(a, b).length === 0;

function describe(c: TokenContext | undefined): string {
  if (!c) return 'an unknown context';
  const parts = [c.ip ? `${c.ip} (${c.network_name ?? 'unknown network'})` : undefined, c.ua_family, c.workload];
  return parts.filter((p) => p !== undefined).join(', ') || 'an unknown context';
}

function summarize(c: TokenContext | undefined): Record<string, unknown> | null {
  if (!c) return null;
  return { ip: c.ip ?? null, network_name: c.network_name ?? null, ua_family: c.ua_family ?? null, workload: c.workload ?? null };
}

/** Evidence oldest first, each event once, the trigger last. */
function evidence(fp: string, trigger: TokenEvent, ...context: (Evidence | undefined)[]): TokenEvent[] {
  const seen = new Set([trigger.event_id]);
  const kept: Evidence[] = [];
  for (const e of context) {
    if (e && !seen.has(e.event_id)) {
      seen.add(e.event_id);
      kept.push(e);
    }
  }
  kept.sort((a, b) => a.time - b.time);
  const out = kept.map((e) => toTokenEvent(e, fp));
  out.push(trigger);
  return out;
}

const shortFp = (fp: string): string => `${fp.slice(0, 12)}…`;
const iso = (t: number | undefined): string | null => (t === undefined ? null : isoTime(t));

export class TokenReplayDetector implements DetectorInstance<TokenReplayState> {
  private readonly tokens: KeyedStore<Rec>;
  private readonly resolve: NetworkResolver;
  /** Shared strings and evidence heads of this instance's records. */
  private readonly interner = new EvidenceInterner();
  private readonly windowMs: number;
  private readonly graceMs: number;
  private readonly skewMs: number;
  private readonly maxLearnedSkewMs: number;
  private readonly skewBySource = new Map<string, number>();
  /** skewBySource (the per-task shared state) changed since the last changedKeys(). */
  private skewChanged = false;

  constructor(private readonly config: TokenReplayConfig) {
    this.tokens = new KeyedStore(config.max_tokens, config.token_idle_ttl_hours * 3_600_000);
    this.resolve = createNetworkResolver(config.egress_ranges, config.same_subnet_is_same_network);
    this.windowMs = config.context_window_minutes * 60_000;
    this.graceMs = config.refresh_grace_seconds * 1000;
    this.skewMs = config.clock_skew_seconds * 1000;
    this.maxLearnedSkewMs = config.max_learned_skew_seconds * 1000;
  }

  process(event: TokenEvent): AlertDraft[] {
    const out: AlertDraft[] = [];
    const ctx = this.contextOf(event);
    this.applySelf(this.record(event.token.fp, event.time), event, ctx, out);
    if (event.action === 'mint' && event.parent_fp !== undefined && event.parent_fp !== event.token.fp) {
      this.applyParentUse(this.record(event.parent_fp, event.time), event.parent_fp, event, ctx, out);
    }
    return out;
  }

  advance(watermark: number): AlertDraft[] {
    this.tokens.evictIdle(watermark);
    return [];
  }

  snapshot(): TokenReplayState {
    const tokens = this.tokens.toJSON().map(([fp, e]): [string, KeyedEntry<TokenRecord>] => [fp, { value: recordJson(e.value, fp), touched: e.touched }]);
    return structuredClone({ version: 1, tokens, skew: [...this.skewBySource] });
  }

  restore(state: TokenReplayState): void {
    if (state.version !== 1) throw new Error(`token_replay: unsupported state version ${String(state.version)}`);
    this.tokens.load(state.tokens.map(([fp, e]): [string, KeyedEntry<Rec>] => [fp, { value: this.fromJson(fp, e.value), touched: e.touched }]));
    this.skewBySource.clear();
    for (const [source, ms] of state.skew ?? []) this.skewBySource.set(source, ms);
    this.skewChanged = true;
  }

  changedKeys(): string[] {
    const keys = this.tokens.drainChanged().map(toStateKey);
    if (this.skewChanged) keys.push(SHARED_STATE_KEY);
    this.skewChanged = false;
    return keys;
  }

  getKey(key: string): unknown {
    const fp = fromStateKey(key);
    if (fp !== undefined) return keyStateOf(this.tokens, fp, (v) => recordJson(v, fp));
    if (key !== SHARED_STATE_KEY || this.skewBySource.size === 0) return undefined;
    return { skew: [...this.skewBySource] };
  }

  putKey(key: string, state: unknown): void {
    const fp = fromStateKey(key);
    if (fp !== undefined) return putKeyState(this.tokens, fp, state, (v: TokenRecord) => this.fromJson(fp, v));
    if (key !== SHARED_STATE_KEY) return;
    this.skewBySource.clear();
    for (const [source, ms] of (state as { skew: [string, number][] }).skew) this.skewBySource.set(source, ms);
  }

  /**
   * Tolerance for one observing source: its configured value, widened by the skew learned for it.
   * Clocks of one fleet drift both ways, so a source seen running behind by d is given ±d.
   */
  private toleranceMs(source: string): number {
    const configured = this.config.clock_skew_seconds_by_source[source];
    const base = configured !== undefined ? configured * 1000 : this.skewMs;
    const learned = this.skewBySource.get(source);
    return learned === undefined ? base : Math.max(base, learned + 30_000);
  }

  /** A use logged before the token's mint (by another source) measures how far behind the observer's clock is. */
  private learnSkew(rec: Rec, source: string, time: number): void {
    if (rec.minted_at === undefined || rec.mint_source === source || time >= rec.minted_at) return;
    const lead = Math.min(rec.minted_at - time, this.maxLearnedSkewMs);
    if (lead > (this.skewBySource.get(source) ?? 0)) {
      this.skewBySource.set(source, lead);
      this.skewChanged = true;
    }
  }

  /** The live record of a TokenRecord (state JSON). */
  private fromJson(fp: string, j: TokenRecord): Rec {
    const r = new Rec(j.first_event?.time ?? j.home?.first_seen ?? j.minted_at ?? 0);
    const ev = (e: TokenEvent | undefined): Evidence | undefined => (e === undefined ? undefined : this.interner.evidence(e, fp));
    r.kind = j.kind;
    r.one_time = j.one_time;
    r.contexts_seen = j.contexts_seen;
    r.uses = j.uses;
    r.first_event = ev(j.first_event);
    if (j.home !== undefined) r.home = this.placeOf(j.home);
    r.home_event = this.sameEvidence(r.first_event, j.home_event) ?? ev(j.home_event);
    if (j.others !== undefined) r.others = j.others.map((c) => this.placeOf(c));
    r.revoked_at = j.revoked_at;
    r.revoke_event = ev(j.revoke_event);
    r.minted_at = j.minted_at;
    r.last_accepted_use = j.last_accepted_use;
    r.mint_source = this.interner.opt(j.mint_source);
    r.expires_at = j.expires_at;
    if (j.first_use !== undefined) {
      const u = j.first_use;
      r.first_use = { time: u.time, context: u.context === undefined ? undefined : this.placeOf(u.context), event: this.sameEvidence(r.first_event, u.event) ?? ev(u.event)! };
    }
    if (j.last_refresh !== undefined) r.last_refresh = { time: j.last_refresh.time, context: j.last_refresh.context === undefined ? undefined : this.placeOf(j.last_refresh.context) };
    if (j.alerted !== undefined) r.alerted = { ...j.alerted };
    return r;
  }

  /** A context from state JSON; its network is the resolver's own object when the resolver still says the same. */
  private placeOf(c: TokenContext): Place {
    let net: NetworkInfo | undefined;
    if (c.network !== undefined) {
      const r = this.resolve(c.ip);
      net = r !== undefined && r.ip === c.ip && r.key === c.network && r.name === c.network_name && r.external === c.external ? r : { ip: c.ip!, key: c.network, name: c.network_name!, external: c.external };
    }
    return new Place(this.whereOf({ net, asn: c.asn, ua_family: c.ua_family, workload: c.workload }), c.first_seen, c.last_seen);
  }

  /**
   * The kept evidence of an event already kept as `have` (a token's first use is usually also its
   * home event and its first redemption): one record for both.
   */
  private sameEvidence(have: Evidence | undefined, e: TokenEvent | undefined): Evidence | undefined {
    return have !== undefined && e !== undefined && have.event_id === e.event_id && have.time === e.time ? have : undefined;
  }

  /** evidence of `event` for the record of `fp`, sharing the record's first event when it is the same. */
  private keep(rec: Rec, fp: string, event: TokenEvent): Evidence {
    return this.sameEvidence(rec.first_event, event) ?? this.interner.evidence(event, fp);
  }

  size(): number {
    return this.tokens.size;
  }

  private record(fp: string, time: number): Rec {
    return this.tokens.touch(fp, time, () => new Rec(time));
  }

  private contextOf(event: TokenEvent): Place | undefined {
    const net = this.resolve(event.network?.ip);
    const workload = event.workload ? `${event.workload.kind}:${event.workload.id}` : undefined;
    // A service principal call ("ec2.amazonaws.com", no IP) is not a place the token lives.
    if (!net && workload === undefined) return undefined;
    return new Place({ net, asn: event.network?.asn, ua_family: uaFamily(event.user_agent), workload }, event.time, event.time);
  }

  /** The shared copy of a place (absent members left out, strings interned). */
  private whereOf(w: Where): Where {
    return this.interner.flat(WHERE_FIELDS, w);
  }

  /** A stored copy of a context, its place shared. */
  private copyContext(c: Place): Place {
    return new Place(this.whereOf(c.where), c.first_seen, c.last_seen);
  }

  private applySelf(rec: Rec, event: TokenEvent, ctx: Place | undefined, out: AlertDraft[]): void {
    const fp = event.token.fp;
    if (event.token.kind !== 'unknown') rec.kind = event.token.kind;
    if (event.token.one_time === true) rec.one_time = true;
    if (!rec.hasFirstEvent && (event.action === 'mint' || event.action === 'use')) rec.first_event = this.interner.evidence(event, fp);
    switch (event.action) {
      case 'mint':
        if (event.expires_at !== undefined) rec.expires_at = event.expires_at;
        if (rec.minted_at === undefined || event.time < rec.minted_at) {
          rec.minted_at = event.time;
          rec.mint_source = this.interner.str(event.source);
          // In event-time order a use logged before its mint arrives first: learn from it now.
          const u = rec.first_event;
          if (u !== undefined && u.head.action === 'use') this.learnSkew(rec, u.head.source, u.time);
        }
        // Re-issuing the same credential after a revoke (an access key set Active again) lifts the revocation.
        if (rec.revoked_at !== undefined && event.time > rec.revoked_at) {
          rec.revoked_at = undefined;
          rec.revoke_event = undefined;
        }
        // No context from the mint itself: the issuer sees the client from its own vantage point
        // (public egress, SDK of the token call), not where the token will be presented.
        return;
      case 'use':
        this.learnSkew(rec, event.source, event.time);
        this.checkUse(rec, fp, event, ctx, event.expires_at, out);
        if (event.outcome !== 'failure' && (rec.last_accepted_use === undefined || event.time > rec.last_accepted_use)) rec.last_accepted_use = event.time;
        if (event.expires_at !== undefined) rec.expires_at = event.expires_at;
        this.observe(rec, fp, event, ctx, out);
        return;
      case 'revoke':
        if (rec.revoked_at === undefined || event.time < rec.revoked_at) {
          rec.revoked_at = event.time;
          rec.revoke_event = this.keep(rec, fp, event);
          this.checkLateRevocation(rec, fp, event, out);
        }
        return;
      case 'reuse_signal':
        if (this.suppressed(rec, 'vendor_reuse_signal', event.time)) return;
        out.push(
          this.draft(rec, fp, 'vendor_reuse_signal', event, {
            score: 0.8,
            summary: `${event.source} reported reuse of token ${shortFp(fp)}${event.signal ? ` (${event.signal})` : ''}.`,
            events: evidence(fp, event, rec.home_event ?? rec.first_event),
            baseline: { signal: event.signal ?? null, operation: event.operation ?? null },
          }),
        );
        return;
    }
  }

  /** A mint whose parent is this token: a redemption/use of the parent, and a refresh. */
  private applyParentUse(rec: Rec, fp: string, event: TokenEvent, ctx: Place | undefined, out: AlertDraft[]): void {
    // A rotating refresh token is minted by redeeming a rotating refresh token.
    if (event.token.kind === 'oauth_refresh' && event.token.one_time === true) {
      rec.one_time = true;
      if (rec.kind === 'unknown') rec.kind = 'oauth_refresh';
    }
    if (!rec.hasFirstEvent) rec.first_event = this.interner.evidence(event, fp);
    this.checkUse(rec, fp, event, ctx, undefined, out);
    this.observe(rec, fp, event, ctx, out);
    if (rec.last_refresh === undefined || event.time >= rec.last_refresh.time) {
      rec.last_refresh = { time: event.time, context: ctx ? this.copyContext(ctx) : undefined };
    }
  }

  /** Inside the refresh grace period and from the refreshing context. */
  private inRefreshGrace(rec: Rec, t: number, ctx: Place | undefined): boolean {
    const r = rec.last_refresh;
    return r !== undefined && t >= r.time && t - r.time < this.graceMs && sameContext(r.context, ctx);
  }

  /**
   * A revocation processed after a use it precedes: revocations often come from another source
   * (the IdP, CloudTrail's IAM events) that is logged or delivered later than the gateway's uses,
   * and a late record is ordered where its source put it (src/pipeline/reorder-buffer.ts), which
   * can be after uses of the same token from other sources. An accepted use after the revocation
   * (beyond the clock-skew tolerance) is the same finding as in order; refused ones are not judged
   * here (whether they came from the home context is no longer known).
   */
  private checkLateRevocation(rec: Rec, fp: string, event: TokenEvent, out: AlertDraft[]): void {
    const used = rec.last_accepted_use;
    if (used === undefined || !(used > event.time + Math.max(this.toleranceMs(event.source), this.toleranceMs(rec.mint_source ?? event.source)))) return;
    if (this.suppressed(rec, 'use_after_revocation', used)) return;
    const lateMin = Math.round((used - event.time) / 60_000);
    out.push(
      this.draft(rec, fp, 'use_after_revocation', event, {
        severity: 'critical',
        score: 0.95,
        summary: `Token ${shortFp(fp)} (${rec.kind}) was used ${lateMin} min after it was revoked; the revocation was logged after the use, from ${describe(rec.home)}.`,
        events: evidence(fp, event, rec.first_event, rec.home_event),
        baseline: { outcome: 'success', minutes_after_revocation: lateMin, last_accepted_use: iso(used), revocation_logged_late: true },
      }),
    );
  }

  private checkUse(
    rec: Rec,
    fp: string,
    event: TokenEvent,
    ctx: Place | undefined,
    ownExpiry: number | undefined,
    out: AlertDraft[],
  ): void {
    const t = event.time;
    const failed = event.outcome === 'failure';
    const grace = this.inRefreshGrace(rec, t, ctx);
    const skewMs = this.toleranceMs(event.source);

    if (rec.revoked_at !== undefined && t > rec.revoked_at + skewMs) {
      // A refused attempt by the home context is the revocation working; from elsewhere it is a holder of a copy.
      const foreign = ctx !== undefined && rec.home !== undefined && !sameContext(rec.home, ctx);
      if (!grace && (!failed || foreign) && !this.suppressed(rec, 'use_after_revocation', t)) {
        const lateMin = Math.round((t - rec.revoked_at) / 60_000);
        out.push(
          this.draft(rec, fp, 'use_after_revocation', event, {
            severity: failed ? 'high' : 'critical',
            score: failed ? 0.7 : 0.95,
            summary:
              `Token ${shortFp(fp)} (${rec.kind}) was ${failed ? 'presented' : 'used'} ${lateMin} min after it was revoked, ` +
              `from ${describe(ctx)}${failed ? ' (refused)' : ''}.`,
            events: evidence(fp, event, rec.first_event, rec.home_event, rec.revoke_event),
            baseline: { outcome: event.outcome ?? null, minutes_after_revocation: lateMin, clock_skew_tolerance_seconds: skewMs / 1000 },
          }),
        );
      }
    } else {
      const expiresAt = ownExpiry ?? rec.expires_at;
      // Expired credentials are refused by the issuer (AWS STS); only an accepted use is a finding.
      if (expiresAt !== undefined && t > expiresAt + skewMs && !failed && !grace) {
        if (!this.suppressed(rec, 'use_after_expiry', t)) {
          const lateMin = Math.round((t - expiresAt) / 60_000);
          out.push(
            this.draft(rec, fp, 'use_after_expiry', event, {
              score: Math.min(1, 0.7 + (t - expiresAt) / (4 * 3_600_000)),
              summary: `Token ${shortFp(fp)} (${rec.kind}) was accepted ${lateMin} min after it expired, from ${describe(ctx)}.`,
              events: evidence(fp, event, rec.first_event, rec.home_event),
              baseline: { expires_at: iso(expiresAt), minutes_after_expiry: lateMin, clock_skew_tolerance_seconds: skewMs / 1000 },
            }),
          );
        }
      }
    }

    if (rec.one_time) this.checkOneTime(rec, fp, event, ctx, grace, out);
  }

  private checkOneTime(
    rec: Rec,
    fp: string,
    event: TokenEvent,
    ctx: Place | undefined,
    grace: boolean,
    out: AlertDraft[],
  ): void {
    const failed = event.outcome === 'failure';
    const first = rec.first_use;
    if (first === undefined) {
      // A refused redemption did not consume the token.
      if (!failed) {
        rec.first_use = { time: event.time, context: ctx ? this.copyContext(ctx) : undefined, event: this.keep(rec, fp, event) };
        rec.uses = 1;
      }
      return;
    }
    // One redemption reported as several events (a use plus the mints it produced) is one use.
    if (event.time === first.time && sameContext(first.context, ctx)) return;
    rec.uses++;
    if (grace || this.suppressed(rec, 'one_time_reuse', event.time)) return;
    const elsewhere = ctx !== undefined && first.context !== undefined && !sameContext(first.context, ctx);
    const gapSec = Math.round((event.time - first.time) / 1000);
    out.push(
      this.draft(rec, fp, 'one_time_reuse', event, {
        score: elsewhere ? 0.95 : 0.85,
        summary:
          `One-time token ${shortFp(fp)} (${rec.kind}) was redeemed again ${gapSec}s after its first use, ` +
          `from ${describe(ctx)}${elsewhere ? ' (a different context)' : ''}.`,
        events: evidence(fp, event, rec.first_event, first.event),
        baseline: { uses: rec.uses, first_use_at: iso(first.time), first_use_context: summarize(first.context) },
      }),
    );
  }

  /** Match a use's context against the known ones and remember a new one. The first use's context is the home. */
  private observe(rec: Rec, fp: string, event: TokenEvent, ctx: Place | undefined, out: AlertDraft[]): void {
    if (!ctx) return;
    const t = event.time;
    if (!rec.home) {
      rec.home = this.copyContext(ctx);
      rec.home_event = this.keep(rec, fp, event);
      rec.contexts_seen = 1;
      return;
    }
    const others: readonly Place[] = rec.others ?? NO_PLACES;
    let match = sameContext(rec.home, ctx) ? rec.home : undefined;
    if (!match) {
      for (const c of others) {
        if (sameContext(c, ctx)) {
          match = c;
          break;
        }
      }
    }
    if (match) {
      match.last_seen = Math.max(match.last_seen, t);
      match.first_seen = Math.min(match.first_seen, t);
      // Fill in what the earlier observation did not know (an IP after a workload-only event).
      const m = match.where;
      if ((m.net === undefined && ctx.net !== undefined) || (m.asn === undefined && ctx.asn !== undefined) || (m.ua_family === undefined && ctx.ua_family !== undefined) || (m.workload === undefined && ctx.workload !== undefined)) {
        match.where = this.whereOf({ net: m.net ?? ctx.net, asn: m.asn ?? ctx.asn, ua_family: m.ua_family ?? ctx.ua_family, workload: m.workload ?? ctx.workload });
      }
      return;
    }

    // concat: an exactly-sized array (push() onto [] reserves room for 16 more, per token)
    const grown = others.concat(this.copyContext(ctx));
    rec.others = grown;
    rec.contexts_seen++;
    if (grown.length > this.config.max_contexts_per_token - 1) {
      let oldest = 0;
      for (let i = 1; i < grown.length; i++) if (grown[i]!.last_seen < grown[oldest]!.last_seen) oldest = i;
      grown.splice(oldest, 1);
    }
    // Whether a new context is a copy is judged by credential_context against what the issuer and
    // the workload use (a second context of one token alone pages for every NAT pool and phone).
  }

  private suppressed(rec: Rec, kind: TokenReplayKind, t: number): boolean {
    const last = rec.alerted?.[kind];
    if (last !== undefined && t - last < this.windowMs) return true;
    (rec.alerted ??= {})[kind] = t;
    return false;
  }

  private draft(
    rec: Rec,
    fp: string,
    kind: TokenReplayKind,
    event: TokenEvent,
    d: Pick<AlertDraft, 'score' | 'summary' | 'events'> & Partial<Pick<AlertDraft, 'severity'>> & { baseline: Record<string, unknown> },
  ): AlertDraft {
    const issuer = event.token.fp === fp ? event.issuer : rec.first_event?.head.issuer;
    const subject = event.token.fp === fp ? event.subject : rec.first_event?.head.subject;
    return {
      kind,
      ...(d.severity !== undefined && { severity: d.severity }),
      score: d.score,
      title: meta.kinds[kind]!.title,
      summary: d.summary,
      dedup_key: `${kind}:${fp}`,
      token_fp: fp,
      ...(issuer !== undefined && { issuer }),
      ...(subject !== undefined && { subject }),
      ...(event.service !== undefined && { service: event.service }),
      events: d.events,
      baseline: {
        home_context: summarize(rec.home),
        revoked_at: iso(rec.revoked_at),
        expires_at: iso(rec.expires_at),
        contexts_seen: rec.contexts_seen,
        window_minutes: this.config.context_window_minutes,
        token_kind: rec.kind,
        ...d.baseline,
      },
    };
  }
}

export function createTokenReplay(config: TokenReplayConfig): TokenReplayDetector {
  return new TokenReplayDetector(config);
}
