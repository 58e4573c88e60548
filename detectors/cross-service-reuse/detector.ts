/**
 * cross_service_reuse, keyed by token fingerprint. Per token: its audience, home workload,
 * platforms seen and a trimmed copy of its mint (evidence). Each kind alerts once per token.
 */
import { BlockList, isIP } from 'node:net';
import type { Severity } from '../../schemas/alert.js';
import type { Platform, TokenEvent, TokenKind, WorkloadKind } from '../../schemas/token-event.js';
import { KeyedStore, fromStateKey, keyStateOf, putKeyState, toStateKey } from '../../src/core/keyed-store.js';
import { Evidence, EvidenceInterner, timeAt, timeOffset, toTokenEvent, type EvidenceOptions, type EvidenceTail, type TimeOffset } from '../interned-evidence.js';
import { memoize } from '../memo.js';
import type { AlertDraft, DetectorInstance } from '../types.js';
import { parseCidr } from './config.js';
import type { CrossServiceReuseConfig } from './config.js';
import { crossServiceReuseMeta } from './meta.js';

const HOUR_MS = 3_600_000;
const MIN_MS = 60_000;
const MAX_AUDIENCES = 16;

type Kind = 'audience_mismatch' | 'workload_escape' | 'cross_platform';
const KINDS: readonly Kind[] = ['audience_mismatch', 'workload_escape', 'cross_platform'];
const kindBit = (k: Kind): number => 1 << KINDS.indexOf(k);

/** A token's state as state JSON (snapshot, getKey) carries it; live, the detector keeps St. */
interface TokenState {
  kind: TokenKind;
  issuer?: string;
  audience?: string[];
  audience_from_mint: boolean;
  workload?: { kind: WorkloadKind; id: string };
  first_seen: number;
  expires_at?: number;
  platforms: Platform[];
  /** User agent of the first use from inside the workload's network. */
  home_ua?: string;
  /** The mint if seen, else the first event: the "where it came from" evidence. */
  origin?: TokenEvent;
  alerted: Kind[];
}

/**
 * What a token's state shares with its holder's other tokens (kind, issuer, audience, workload,
 * platforms, home user agent): one frozen, interned copy per distinct combination.
 */
interface Shape {
  readonly kind: TokenKind;
  readonly issuer?: string;
  readonly audience?: readonly string[];
  readonly audience_from_mint: boolean;
  readonly workload?: { readonly kind: WorkloadKind; readonly id: string };
  readonly platforms: readonly Platform[];
  readonly home_ua?: string;
}

const SHAPE_FIELDS: readonly (keyof Shape)[] = ['kind', 'issuer', 'audience', 'audience_from_mint', 'workload', 'platforms', 'home_ua'];

function shapeChanged(a: Shape, b: Shape): boolean {
  for (const f of SHAPE_FIELDS) if (a[f] !== b[f]) return true;
  return false;
}

/**
 * A token's live state: seven fields, the shared part one interned Shape (its members interned
 * too: issuers, audiences and platform sequences repeat across tokens), the origin inline, times
 * as small offsets from first_seen.
 */
class St {
  private expires: TimeOffset | undefined = undefined;
  /** The origin's members, inline (no Evidence object per token): id, time, shared tail. */
  private originId: string | undefined = undefined;
  private originTime: TimeOffset = 0;
  private originTail: EvidenceTail | undefined = undefined;
  /** Kinds alerted (bits of KINDS). */
  alerted = 0;
  /** first_seen: the base of the other times (kept as small offsets from it: see timeOffset). */
  private first: number;

  constructor(
    public shape: Shape,
    first_seen: number,
  ) {
    this.first = first_seen;
  }

  get first_seen(): number {
    return this.first;
  }

  set first_seen(t: number) {
    if (t === this.first) return;
    const expires = this.expires_at;
    const origin = this.originId === undefined ? 0 : timeAt(this.originTime, this.first);
    this.first = t;
    this.expires_at = expires;
    if (this.originId !== undefined) this.originTime = timeOffset(origin, t);
  }

  get expires_at(): number | undefined {
    return this.expires === undefined ? undefined : timeAt(this.expires, this.first);
  }

  set expires_at(t: number | undefined) {
    this.expires = t === undefined ? undefined : timeOffset(t, this.first);
  }

  /** The mint if seen, else the first event (a new Evidence view of the inline members). */
  get origin(): Evidence | undefined {
    return this.originId === undefined ? undefined : new Evidence(this.originId, timeAt(this.originTime, this.first), this.originTail!);
  }

  set origin(e: Evidence | undefined) {
    this.originId = e?.event_id;
    this.originTime = e === undefined ? 0 : timeOffset(e.time, this.first);
    this.originTail = e?.tail;
  }

  get kind(): TokenKind {
    return this.shape.kind;
  }

  get issuer(): string | undefined {
    return this.shape.issuer;
  }

  get audience(): readonly string[] | undefined {
    return this.shape.audience;
  }

  get audience_from_mint(): boolean {
    return this.shape.audience_from_mint;
  }

  get workload(): Shape['workload'] {
    return this.shape.workload;
  }

  /** Seen on, in order (a shared list). */
  get platforms(): readonly Platform[] {
    return this.shape.platforms;
  }

  get home_ua(): string | undefined {
    return this.shape.home_ua;
  }
}

const NO_PLATFORMS: readonly Platform[] = Object.freeze([]);
/** What an origin keeps (as before compact evidence): no scopes, a user agent of at most 256 characters. */
const ORIGIN: EvidenceOptions = { scopes: false, maxUserAgent: 256 };

function stateJson(st: St, fp: string): TokenState {
  const o: TokenState = { kind: st.kind, audience_from_mint: st.audience_from_mint, first_seen: st.first_seen, platforms: [...st.platforms], alerted: KINDS.filter((k) => (st.alerted & kindBit(k)) !== 0) };
  if (st.issuer !== undefined) o.issuer = st.issuer;
  if (st.audience !== undefined) o.audience = [...st.audience];
  if (st.workload !== undefined) o.workload = { kind: st.workload.kind, id: st.workload.id };
  if (st.expires_at !== undefined) o.expires_at = st.expires_at;
  if (st.home_ua !== undefined) o.home_ua = st.home_ua;
  if (st.origin !== undefined) o.origin = toTokenEvent(st.origin, fp);
  return o;
}

export interface CrossServiceReuseSnapshot {
  version: 1;
  tokens: [string, { value: TokenState; touched: number }][];
}

function blockList(cidrs: readonly string[]): BlockList {
  const b = new BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (p) b.addSubnet(p.address, p.prefix, p.type);
  }
  return b;
}

// Never internet-routable: a use from here is on-host or link-local, not "from the internet".
const NON_ROUTABLE = blockList(['127.0.0.0/8', '169.254.0.0/16', '0.0.0.0/8', '::1/128', 'fe80::/10']);

/** Lower-case host-ish identity of an audience or service: URL → host, `api://x` → x, no port/path/www. */
export const serviceIdentity = memoize(serviceIdentityOf);

function serviceIdentityOf(raw: string): string {
  let s = raw.trim().toLowerCase();
  if (s.startsWith('api://')) s = s.slice('api://'.length);
  else if (/^[a-z][a-z0-9+.-]*:\/\//.test(s)) {
    try {
      s = new URL(s).hostname;
    } catch {
      s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
    }
  }
  s = s.split(/[/?#]/)[0] ?? '';
  s = s.replace(/:\d+$/, '').replace(/\.$/, '').replace(/^www\./, '');
  return s;
}

const hostLike = (id: string): boolean => /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(id);
const sameService = (a: string, b: string): boolean => a === b || a.endsWith('.' + b) || b.endsWith('.' + a);

/** At most MAX_AUDIENCES audiences; the event's own array when it is within the bound (events are never mutated). */
const boundedAudience = (aud: string[]): string[] => (aud.length <= MAX_AUDIENCES ? aud : aud.slice(0, MAX_AUDIENCES));

export function createCrossServiceReuse(config: CrossServiceReuseConfig): DetectorInstance<CrossServiceReuseSnapshot> {
  const tokens = new KeyedStore<St>(config.max_tokens, config.token_idle_ttl_hours * HOUR_MS);
  const interner = new EvidenceInterner();
  /** The interned shape of `o` (every member already interned). */
  const shapeOf = (o: Shape): Shape => interner.flat(SHAPE_FIELDS, o);
  const fromJson = (fp: string, j: TokenState): St => {
    const shape: { -readonly [K in keyof Shape]: Shape[K] } = { kind: interner.str(j.kind) as TokenKind, audience_from_mint: j.audience_from_mint, platforms: interner.list(j.platforms) as readonly Platform[] };
    if (j.issuer !== undefined) shape.issuer = interner.str(j.issuer);
    if (j.audience !== undefined) shape.audience = interner.list(j.audience);
    if (j.workload !== undefined) shape.workload = interner.workload(j.workload);
    if (j.home_ua !== undefined) shape.home_ua = interner.str(j.home_ua);
    const st = new St(shapeOf(shape), j.first_seen);
    st.expires_at = j.expires_at;
    if (j.origin !== undefined) st.origin = interner.evidence(j.origin, fp, ORIGIN);
    for (const k of j.alerted) st.alerted |= kindBit(k);
    return st;
  };
  const workloadNets = blockList(config.workload_networks);
  const clusterNets = blockList(config.cluster_networks);
  const ciNets = blockList(config.ci_networks);
  const boundKinds = new Set<TokenKind>(config.audience_bound_kinds);
  const generic = new Set(config.generic_audiences.map(serviceIdentity));
  const aliases = new Map<string, string[]>();
  for (const [aud, services] of Object.entries(config.audience_aliases)) {
    const id = serviceIdentity(aud);
    aliases.set(id, [...(aliases.get(id) ?? []), ...services.map(serviceIdentity)]);
  }
  const aliasTargets = new Set([...aliases.values()].flat());
  const allowedPairs = new Set(config.allowed_platform_pairs.map(([a, b]) => [a, b].sort().join('+')));

  const trustedLabel = (label: string | undefined): boolean =>
    label !== undefined &&
    config.trusted_network_labels.some((p) =>
      p.startsWith('*.') ? label.toLowerCase().endsWith(p.slice(1).toLowerCase()) : label.toLowerCase() === p.toLowerCase(),
    );

  /** Where a use came from relative to `nets`: inside, outside (an internet address), or unknown. */
  const locators = new Map<BlockList, (ip: string) => 'inside' | 'outside' | 'unknown'>();
  function locate(event: TokenEvent, nets: BlockList): 'inside' | 'outside' | 'unknown' {
    const net = event.network;
    if (trustedLabel(net?.label)) return 'inside';
    const ip = net?.ip?.trim();
    if (ip === undefined || ip.length === 0) return 'unknown';
    let locator = locators.get(nets);
    if (!locator) locators.set(nets, (locator = memoize((addr) => locateIp(addr, nets))));
    return locator(ip);
  }

  function locateIp(raw: string, nets: BlockList): 'inside' | 'outside' | 'unknown' {
    let ip = raw;
    if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip)) ip = ip.slice(7);
    const v = isIP(ip);
    // CloudTrail puts a service principal ("ec2.amazonaws.com") where the IP goes.
    if (v === 0) return trustedLabel(ip) ? 'inside' : 'unknown';
    const type = v === 4 ? 'ipv4' : 'ipv6';
    if (NON_ROUTABLE.check(ip, type) || nets.check(ip, type)) return 'inside';
    return 'outside';
  }

  function draft(
    kind: Kind,
    st: St,
    event: TokenEvent,
    severity: Severity,
    score: number,
    summary: string,
    extra: Record<string, unknown>,
  ): AlertDraft {
    const origin = st.origin;
    const events = origin && origin.event_id !== event.event_id ? [toTokenEvent(origin, event.token.fp), event] : [event];
    const issuer = event.issuer ?? st.issuer;
    return {
      kind,
      severity,
      score: Math.max(0, Math.min(1, score)),
      title: crossServiceReuseMeta.kinds[kind]?.title ?? kind,
      summary,
      dedup_key: `${kind}:${event.token.fp}`,
      token_fp: event.token.fp,
      ...(issuer !== undefined ? { issuer } : {}),
      ...(event.subject !== undefined ? { subject: event.subject } : {}),
      ...(event.service !== undefined ? { service: event.service } : {}),
      events,
      baseline: {
        audience: st.audience === undefined ? null : [...st.audience],
        home_workload: st.workload === undefined ? null : { kind: st.workload.kind, id: st.workload.id },
        allowed_networks: allowedNetworks(st),
        platforms_seen: [...st.platforms],
        ...extra,
      },
    };
  }

  function allowedNetworks(st: St): readonly string[] | null {
    switch (st.workload?.kind) {
      case 'ec2_instance':
        return config.workload_networks;
      case 'k8s_pod':
        return config.cluster_networks;
      case 'ci_oidc':
        return config.ci_networks;
      default:
        return st.kind === 'k8s_sa_token' ? config.cluster_networks : null;
    }
  }

  function checkAudience(st: St, event: TokenEvent): AlertDraft | undefined {
    if (event.action !== 'use' || event.service === undefined) return undefined;
    if (!boundKinds.has(event.token.kind) && !boundKinds.has(st.kind)) return undefined;
    const audience = event.audience ?? st.audience;
    if (audience === undefined || audience.length === 0) return undefined;
    const service = serviceIdentity(event.service);
    if (!hostLike(service) && !aliasTargets.has(service)) return undefined;
    const targets: string[] = [];
    for (const raw of audience) {
      const id = serviceIdentity(raw);
      if (generic.has(id)) continue;
      const alias = aliases.get(id);
      if (alias) targets.push(...alias);
      if (hostLike(id)) targets.push(id);
      // An opaque audience (a bare app id) could be this service: no verdict.
      else if (!alias) return undefined;
    }
    if (targets.length === 0 || targets.some((t) => sameService(t, service))) return undefined;
    return draft(
      'audience_mismatch',
      st,
      event,
      'high',
      0.8,
      `A token minted for ${audience.join(', ')} was used at ${event.service}.`,
      { service: event.service, audience_compared: [...new Set(targets)].sort() },
    );
  }

  function checkWorkload(st: St, event: TokenEvent): AlertDraft | undefined {
    if (event.action !== 'use') return undefined;
    // The first event may itself carry the binding (no mint seen): judge it against itself.
    const home = st.workload ?? event.workload;
    const reasons: string[] = [];
    let severity: Severity = 'high';
    let score = 0.8;
    if (home && event.workload && event.workload.kind === home.kind && event.workload.id !== home.id) {
      reasons.push(`used by ${event.workload.kind} ${event.workload.id}, not its own ${home.id}`);
    }
    const ip = event.network?.ip;
    if (home?.kind === 'ec2_instance' && (st.kind === 'sts_session' || event.token.kind === 'sts_session')) {
      if (config.workload_networks.length > 0 && locate(event, workloadNets) === 'outside') {
        reasons.push(`instance-role session used from ${ip}, outside the workload networks`);
        severity = 'critical';
        score = 0.9;
      }
    } else if (home?.kind === 'k8s_pod' || st.kind === 'k8s_sa_token' || event.token.kind === 'k8s_sa_token') {
      if (config.cluster_networks.length > 0 && locate(event, clusterNets) === 'outside') reasons.push(`cluster token used from ${ip}, outside the cluster networks`);
    } else if (home?.kind === 'ci_oidc') {
      const windowEnd = (st.expires_at ?? st.first_seen + config.ci_job_window_minutes * MIN_MS) + config.clock_skew_minutes * MIN_MS;
      if (event.time > windowEnd) reasons.push(`CI credential used ${Math.round((event.time - windowEnd) / MIN_MS)} min after its job window`);
      if (config.ci_networks.length > 0 && locate(event, ciNets) === 'outside') {
        reasons.push(`CI credential used from ${ip}, outside the CI networks`);
      }
    }
    if (reasons.length === 0) return undefined;
    const uaChanged = st.home_ua !== undefined && event.user_agent !== undefined && event.user_agent !== st.home_ua;
    if (uaChanged) score += 0.1;
    return draft(
      'workload_escape',
      st,
      event,
      severity,
      score,
      `A credential bound to ${home ? `${home.kind} ${home.id}` : 'a cluster workload'} was ${reasons.join('; ')}` +
        (uaChanged ? ', with a different user agent than its workload.' : '.'),
      { reasons, home_user_agent: st.home_ua ?? null, user_agent_changed: uaChanged },
    );
  }

  function checkPlatform(st: St, event: TokenEvent): AlertDraft | undefined {
    if (st.platforms.includes(event.platform)) return undefined;
    const bad = st.platforms.filter((p) => !allowedPairs.has([p, event.platform].sort().join('+')));
    if (bad.length === 0) return undefined;
    return draft(
      'cross_platform',
      st,
      event,
      'high',
      0.85,
      `A token seen on ${st.platforms.join(', ')} appeared on ${event.platform} (${event.source}); ` +
        `these platforms do not share tokens.`,
      { new_platform: event.platform, disallowed_pairs: bad.map((p) => [p, event.platform].sort().join('+')) },
    );
  }

  const CHECKS = [checkAudience, checkWorkload, checkPlatform];

  /** Fold the event's facts into the token's state (after checks, so checks see the prior baseline). */
  function learn(st: St, event: TokenEvent): void {
    const was = st.shape;
    // copied on the first change only: most events change nothing (a copy per event was a tenth of
    // stage 2's garbage)
    let next: { -readonly [K in keyof Shape]: Shape[K] } | undefined;
    const kind = event.token.kind;
    if (kind !== 'unknown' && kind !== was.kind) (next ??= { ...was }).kind = interner.str(kind) as TokenKind;
    if (event.issuer !== undefined && (next ?? was).issuer === undefined) (next ??= { ...was }).issuer = interner.str(event.issuer);
    const isMint = event.action === 'mint';
    const audience = event.audience;
    if (audience !== undefined && audience.length > 0 && ((next ?? was).audience === undefined || (isMint && !(next ?? was).audience_from_mint))) {
      next ??= { ...was };
      next.audience = interner.list(boundedAudience(audience));
      next.audience_from_mint = isMint;
    }
    if (event.workload !== undefined && ((next ?? was).workload === undefined || isMint)) (next ??= { ...was }).workload = interner.workload(event.workload);
    if (event.expires_at !== undefined && (isMint || st.expires_at === undefined)) st.expires_at = event.expires_at;
    // a shared list per distinct sequence (the order shows in alerts)
    const platforms = (next ?? was).platforms;
    if (!platforms.includes(event.platform)) (next ??= { ...was }).platforms = interner.list(platforms.concat(event.platform)) as readonly Platform[];
    if ((next ?? was).home_ua === undefined && event.action === 'use' && event.user_agent !== undefined) {
      const nets = (next ?? was).workload?.kind === 'ec2_instance' ? workloadNets : clusterNets;
      if (locate(event, nets) === 'inside') (next ??= { ...was }).home_ua = interner.str(event.user_agent.slice(0, 256));
    }
    if (next !== undefined && shapeChanged(next, was)) st.shape = shapeOf(next);
    if (isMint && st.origin?.head.action !== 'mint') st.origin = interner.evidence(event, event.token.fp, ORIGIN);
    st.first_seen = Math.min(st.first_seen, event.time);
  }

  return {
    process(event: TokenEvent): AlertDraft[] {
      const fp = event.token.fp;
      let created = false;
      const st = tokens.touch(fp, event.time, () => {
        created = true;
        return new St(shapeOf({ kind: interner.str(event.token.kind) as TokenKind, audience_from_mint: false, platforms: NO_PLATFORMS }), event.time);
      });
      if (created) st.origin = interner.evidence(event, fp, ORIGIN);
      const out: AlertDraft[] = [];
      for (const check of CHECKS) {
        const d = check(st, event);
        if (d && (st.alerted & kindBit(d.kind as Kind)) === 0) {
          st.alerted |= kindBit(d.kind as Kind);
          out.push(d);
        }
      }
      learn(st, event);
      return out;
    },
    advance(watermark: number): AlertDraft[] {
      tokens.evictIdle(watermark);
      return [];
    },
    snapshot(): CrossServiceReuseSnapshot {
      const entries = tokens.toJSON().map(([fp, e]): [string, { value: TokenState; touched: number }] => [fp, { value: stateJson(e.value, fp), touched: e.touched }]);
      return { version: 1, tokens: JSON.parse(JSON.stringify(entries)) as CrossServiceReuseSnapshot['tokens'] };
    },
    restore(state: CrossServiceReuseSnapshot): void {
      const entries = JSON.parse(JSON.stringify(state.tokens)) as CrossServiceReuseSnapshot['tokens'];
      tokens.load(entries.map(([fp, e]) => [fp, { value: fromJson(fp, e.value), touched: e.touched }]));
    },
    size(): number {
      return tokens.size;
    },
    changedKeys(): string[] {
      return tokens.drainChanged().map(toStateKey);
    },
    getKey(key: string): unknown {
      const fp = fromStateKey(key);
      return fp === undefined ? undefined : keyStateOf(tokens, fp, (v) => stateJson(v, fp));
    },
    putKey(key: string, state: unknown): void {
      const fp = fromStateKey(key);
      if (fp !== undefined) putKeyState(tokens, fp, state, (v: TokenState) => fromJson(fp, v));
    },
  };
}
