/**
 * Compact evidence: what a detector keeps of an event for a later alert (the fields evidenceOf in
 * evidence.ts keeps), as a three-field record (id, time, tail) whose tail is shared: a head for
 * the parts that repeat across a holder's tokens (source, action, kind, issuer, subject, service,
 * operation, workload, scopes) plus the network and user agent. Events arrive as fresh JSON per event (every
 * string a new copy), a token's record lives for hours and most tokens never alert: a kept event
 * costs its id and time plus pointers to shared copies instead of a copy of every string. The
 * event is rebuilt only when an alert draft needs it (toTokenEvent), with the values evidenceOf
 * gives; shared members are frozen.
 *
 * The interner (one per detector instance; strings, string lists, networks, workloads, use
 * contexts via flat()) is bounded: past `maxValues` values it starts over (records keep what they
 * point to; only sharing with later events is lost).
 */
import type { TokenEvent } from '../schemas/token-event.js';

type Network = NonNullable<TokenEvent['network']>;
type Workload = NonNullable<TokenEvent['workload']>;
type ScopeField = 'scopes_used' | 'scopes_granted' | 'scopes_requested';

const NETWORK_FIELDS = ['ip', 'asn', 'label', 'scope', 'as_org', 'country', 'cloud_provider', 'cloud_region', 'cloud_service'] as const;
const SCOPE_FIELDS: readonly ScopeField[] = ['scopes_used', 'scopes_granted', 'scopes_requested'];
const DEFAULT_MAX_VALUES = 50_000;

/**
 * The shared part of evidence records: what repeats across a holder's tokens (not the id, time,
 * fingerprint, network and user agent, which vary with the client: those are kept per record,
 * the network and user agent as shared copies).
 */
export interface EvidenceHead {
  readonly source: TokenEvent['source'];
  readonly platform: TokenEvent['platform'];
  readonly action: TokenEvent['action'];
  readonly kind: TokenEvent['token']['kind'];
  readonly hint: string | undefined;
  readonly one_time: boolean | undefined;
  readonly issuer: string | undefined;
  readonly subject: string | undefined;
  readonly service: string | undefined;
  readonly workload: Workload | undefined;
  readonly operation: string | undefined;
  readonly scope_field: ScopeField | undefined;
  readonly scopes: readonly string[] | undefined;
}

/**
 * What an evidence record points to besides its id and time: the shared head, network and user
 * agent (one shared copy per distinct combination: a holder's tokens repeat it), and the event's
 * token when it is not the owner (then the tail is the record's own).
 */
export interface EvidenceTail {
  readonly fp: string | undefined;
  readonly head: EvidenceHead;
  readonly network: Network | undefined;
  readonly user_agent: string | undefined;
}

/** One kept event: id, time and its tail (three fields: a token's record keeps one or two of these for hours). */
export class Evidence {
  constructor(
    readonly event_id: string,
    readonly time: number,
    readonly tail: EvidenceTail,
  ) {}

  /** The event's token, when it is not the token whose record keeps it (a child's mint kept for its parent). */
  get fp(): string | undefined {
    return this.tail.fp;
  }

  get head(): EvidenceHead {
    return this.tail.head;
  }

  get network(): Network | undefined {
    return this.tail.network;
  }

  get user_agent(): string | undefined {
    return this.tail.user_agent;
  }
}

/**
 * The event as evidenceOf would have kept it (a new object; its nested members are shared: do not
 * mutate). `owner`: the fingerprint of the token whose record keeps it.
 */
export function toTokenEvent(ev: Evidence, owner: string): TokenEvent {
  const h = ev.head;
  const token: TokenEvent['token'] = { fp: ev.fp ?? owner, kind: h.kind };
  if (h.hint !== undefined) token.hint = h.hint;
  if (h.one_time !== undefined) token.one_time = h.one_time;
  const t: TokenEvent = { event_id: ev.event_id, source: h.source, platform: h.platform, action: h.action, time: ev.time, token };
  if (h.issuer !== undefined) t.issuer = h.issuer;
  if (h.subject !== undefined) t.subject = h.subject;
  if (h.service !== undefined) t.service = h.service;
  if (ev.network !== undefined) t.network = ev.network;
  if (ev.user_agent !== undefined) t.user_agent = ev.user_agent;
  if (h.workload !== undefined) t.workload = h.workload as Workload;
  if (h.operation !== undefined) t.operation = h.operation;
  if (h.scope_field !== undefined) t[h.scope_field] = h.scopes as string[];
  return t;
}

/** Options for what a detector keeps (cross_service_reuse keeps no scopes and a bounded user agent). */
export interface EvidenceOptions {
  scopes: boolean;
  maxUserAgent?: number;
}

const FULL: EvidenceOptions = { scopes: true };

/** Mixes a value id into a running hash (32-bit). */
const mix = (h: number, v: number): number => Math.imul(h ^ v, 0x01000193);

type Table = Map<number, number | number[]>;

export class EvidenceInterner {
  /** string (or a member object of a flat() record, by identity) → id; ids index `values` (strings and shared objects). */
  private ids = new Map<string | object, number>();
  private values: unknown[] = [];
  /** Per kind of shared object: hash of its parts (value ids) → its id(s). */
  private lists: Table = new Map();
  private networks: Table = new Map();
  private workloads: Table = new Map();
  private heads: Table = new Map();
  private tails: Table = new Map();
  /** flat(): one table per field list. */
  private flats = new Map<readonly string[], Table>();

  constructor(readonly maxValues = DEFAULT_MAX_VALUES) {}

  /** Strings and shared objects held. */
  get size(): number {
    return this.values.length;
  }

  /** The shared copy of a string. */
  str(s: string): string {
    this.bound();
    return this.values[this.sid(s)] as string;
  }

  opt(s: string | undefined): string | undefined {
    return s === undefined ? undefined : this.str(s);
  }

  /** The shared (frozen) copy of a string list. */
  list(a: readonly string[]): readonly string[] {
    this.bound();
    return this.values[this.listId(a)] as readonly string[];
  }

  /** The shared (frozen) copy of a workload. */
  workload(w: Workload): Workload {
    this.bound();
    return this.values[this.workloadId(w)] as Workload;
  }

  /**
   * The shared (frozen) copy of a flat record of strings and booleans, e.g. a use context: `fields`
   * (one constant array per record type) lists its members in order; absent ones stay absent.
   * Other members (shared lists, workloads, a resolver's network objects) are compared by identity.
   */
  flat<T extends object>(fields: readonly (keyof T & string)[], o: T): Readonly<T> {
    this.bound();
    let table = this.flats.get(fields);
    if (table === undefined) this.flats.set(fields, (table = new Map()));
    const rec = o as Record<string, unknown>;
    const parts: number[] = [];
    for (const f of fields) {
      const v = rec[f];
      parts.push(v === undefined ? -1 : v === true ? -2 : v === false ? -3 : this.sid(v as string | object));
    }
    const id = this.shared(
      table,
      parts,
      (p) => {
        const c: Record<string, unknown> = {};
        for (let i = 0; i < fields.length; i++) if (p[i] !== -1) c[fields[i]!] = p[i] === -2 ? true : p[i] === -3 ? false : this.values[p[i]!];
        return Object.freeze(c);
      },
      (c: Record<string, unknown>) => fields.every((f) => c[f] === rec[f]),
    );
    return this.values[id] as Readonly<T>;
  }

  /** An event kept for evidence in the record of token `owner` (toTokenEvent needs the same `owner`). */
  evidence(e: TokenEvent, owner: string, opts: EvidenceOptions = FULL): Evidence {
    this.bound();
    let field: ScopeField | undefined;
    if (opts.scopes) field = e.scopes_used !== undefined ? 'scopes_used' : e.scopes_granted !== undefined ? 'scopes_granted' : e.scopes_requested !== undefined ? 'scopes_requested' : undefined;
    const ua = opts.maxUserAgent !== undefined && e.user_agent !== undefined ? e.user_agent.slice(0, opts.maxUserAgent) : e.user_agent;
    const parts: number[] = [
      this.sid(e.source),
      this.sid(e.platform),
      this.sid(e.action),
      this.sid(e.token.kind),
      this.optId(e.token.hint),
      e.token.one_time === undefined ? -1 : e.token.one_time ? 1 : 0,
      this.optId(e.issuer),
      this.optId(e.subject),
      this.optId(e.service),
      e.workload === undefined ? -1 : this.workloadId(e.workload),
      this.optId(e.operation),
      field === undefined ? -1 : SCOPE_FIELDS.indexOf(field),
      field === undefined ? -1 : this.listId(e[field]!),
    ];
    const netId = e.network === undefined ? -1 : this.networkId(e.network);
    const uaId = ua === undefined ? -1 : this.sid(ua);
    const network = this.at(netId) as Network | undefined;
    const userAgent = this.at(uaId) as string | undefined;
    const headId = this.shared(
      this.heads,
      parts,
      (p) =>
        Object.freeze({
          source: this.at(p[0]!),
          platform: this.at(p[1]!),
          action: this.at(p[2]!),
          kind: this.at(p[3]!),
          hint: this.at(p[4]!),
          one_time: p[5] === -1 ? undefined : p[5] === 1,
          issuer: this.at(p[6]!),
          subject: this.at(p[7]!),
          service: this.at(p[8]!),
          workload: this.at(p[9]!),
          operation: this.at(p[10]!),
          scope_field: p[11] === -1 ? undefined : SCOPE_FIELDS[p[11]!],
          scopes: this.at(p[12]!),
        } satisfies EvidenceHead),
      (h: EvidenceHead, p) =>
        h.source === this.at(p[0]!) &&
        h.platform === this.at(p[1]!) &&
        h.action === this.at(p[2]!) &&
        h.kind === this.at(p[3]!) &&
        h.hint === this.at(p[4]!) &&
        h.one_time === (p[5] === -1 ? undefined : p[5] === 1) &&
        h.issuer === this.at(p[6]!) &&
        h.subject === this.at(p[7]!) &&
        h.service === this.at(p[8]!) &&
        h.workload === this.at(p[9]!) &&
        h.operation === this.at(p[10]!) &&
        h.scope_field === (p[11] === -1 ? undefined : SCOPE_FIELDS[p[11]!]) &&
        h.scopes === this.at(p[12]!),
    );
    const head = this.values[headId] as EvidenceHead;
    if (e.token.fp !== owner) return new Evidence(e.event_id, e.time, Object.freeze({ fp: e.token.fp, head, network, user_agent: userAgent }));
    const tailId = this.shared(
      this.tails,
      [headId, netId, uaId],
      (): EvidenceTail => Object.freeze({ fp: undefined, head, network, user_agent: userAgent }),
      (t: EvidenceTail) => t.head === head && t.network === network && t.user_agent === userAgent,
    );
    return new Evidence(e.event_id, e.time, this.values[tailId] as EvidenceTail);
  }

  /** Past the bound, start over (kept records hold on to what they point to). */
  private bound(): void {
    if (this.values.length < this.maxValues) return;
    this.ids = new Map();
    this.values = [];
    this.lists = new Map();
    this.networks = new Map();
    this.workloads = new Map();
    this.heads = new Map();
    this.tails = new Map();
    this.flats = new Map();
  }

  private sid(s: string | object): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(s);
      this.ids.set(s, id);
    }
    return id;
  }

  private optId(s: string | undefined): number {
    return s === undefined ? -1 : this.sid(s);
  }

  /** The value of an id (-1: absent). */
  private at(id: number): any {
    return id < 0 ? undefined : this.values[id];
  }

  private listId(a: readonly string[]): number {
    const parts: number[] = [];
    for (const s of a) parts.push(this.sid(s));
    return this.shared(
      this.lists,
      parts,
      (p) => Object.freeze(p.map((i) => this.values[i] as string)),
      (o: readonly string[], p) => o.length === p.length && o.every((x, i) => x === this.values[p[i]!]),
    );
  }

  private networkId(n: Network): number {
    const parts: number[] = [];
    for (const f of NETWORK_FIELDS) parts.push(this.optId(n[f]));
    return this.shared(
      this.networks,
      parts,
      (p) => {
        const o: Record<string, string> = {};
        for (let i = 0; i < NETWORK_FIELDS.length; i++) if (p[i]! >= 0) o[NETWORK_FIELDS[i]!] = this.values[p[i]!] as string;
        return Object.freeze(o);
      },
      (o: Record<string, string | undefined>, p) => NETWORK_FIELDS.every((f, i) => o[f] === this.at(p[i]!)),
    );
  }

  private workloadId(w: Workload): number {
    return this.shared(
      this.workloads,
      [this.sid(w.kind), this.sid(w.id)],
      (p) => Object.freeze({ kind: this.values[p[0]!] as Workload['kind'], id: this.values[p[1]!] as string }),
      (o: Workload, p) => o.kind === this.values[p[0]!] && o.id === this.values[p[1]!],
    );
  }

  /**
   * The id of the shared object made of these parts (value ids), made by `make` the first time;
   * `same` compares a candidate with the parts (nothing but the object itself is kept).
   */
  private shared<T>(table: Table, parts: readonly number[], make: (parts: readonly number[]) => T, same: (o: T, parts: readonly number[]) => boolean): number {
    let h = 0x811c9dc5 | 0; // signed 32-bit: a small-integer Map key, no boxed number per entry
    for (let i = 0; i < parts.length; i++) h = mix(h, parts[i]!);
    const hit = table.get(h);
    if (hit !== undefined) {
      if (typeof hit === 'number') {
        if (same(this.values[hit] as T, parts)) return hit;
      } else {
        for (const id of hit) if (same(this.values[id] as T, parts)) return id;
      }
    }
    const id = this.values.length;
    this.values.push(make(parts));
    if (hit === undefined) table.set(h, id);
    else if (typeof hit === 'number') table.set(h, [hit, id]);
    else hit.push(id);
    return id;
  }
}

/** A time too far from its base (or not exactly an offset from it): kept whole. */
class WholeTime {
  constructor(readonly t: number) {}
}

/**
 * A time kept as an offset (ms) from a base time of the same record: a small integer (a Smi,
 * stored in the field itself) for the times of one token, where a whole epoch time is a 16-byte
 * heap number. Exact: a time whose offset does not give it back is kept whole.
 */
export type TimeOffset = number | WholeTime;

export function timeOffset(t: number, base: number): TimeOffset {
  const d = t - base;
  // `| 0`: a small integer (Smi); a subtraction's integral result stays a heap number otherwise
  return Number.isInteger(d) && d >= -0x40000000 && d < 0x40000000 && base + d === t ? d | 0 : new WholeTime(t);
}

export function timeAt(o: TimeOffset, base: number): number {
  return typeof o === 'number' ? base + o : o.t;
}
