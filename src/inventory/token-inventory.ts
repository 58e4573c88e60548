/**
 * The token inventory: every token seen, its issuer, owner, scopes, lifetime, first and last
 * use, services and networks, revocation. Bounded (max tokens, least recently seen evicted);
 * records changed since the last drain are handed to sinks (ReplacingMergeTree keyed by fp).
 *
 * Packed (issue 8: heap per live token): a token is a slot index into typed-array columns, not an
 * object. first_seen is Float64, the other times Int32 offsets from it (see TIMES); strings (kind, issuer, subject, authority, minted_by)
 * are ids in a reference-counted table shared by all tokens; each of the five small sets is one
 * id of an interned set (see interned-strings.ts); the fingerprint is four 32-bit words
 * (fingerprint-slots.ts). InventoryRecord objects are built only when read (get, drainDirty).
 */
import type { Platform, TokenEvent, TokenKind } from '../../schemas/token-event.js';
import type { InventoryRecord } from './inventory-record.js';
import { FingerprintSlots, growInt32 } from './fingerprint-slots.js';
import { NONE, SetTable, StringTable } from './interned-strings.js';

export interface InventoryOptions {
  maxTokens: number;
  /** Per-token bound on services / networks / scopes kept. */
  maxSetSize: number;
}

export const DEFAULT_INVENTORY_OPTIONS: InventoryOptions = { maxTokens: 200_000, maxSetSize: 16 };

/**
 * Time columns, by index. `version` is always `last_seen` (both the max event time seen) and is not
 * stored. FIRST_SEEN is the slot's base (Float64); the others are Int32 offsets from it in ms
 * (4 bytes instead of 8: a token's times are mostly within days of each other), NO_TIME when
 * unknown, FAR_TIME when the offset does not fit (not an integer within ±2^31 ms, ~24 days: a
 * long-lived key's last use, a refresh token's expiry), then the time is in a side map.
 */
const LAST_SEEN = 0;
const MINTED_AT = 1;
const EXPIRES_AT = 2;
const FIRST_USE = 3;
const LAST_USE = 4;
const REVOKED_AT = 5;
const TIMES = 6;
const NO_TIME = -0x80000000;
const FAR_TIME = -0x7fffffff;

/** String-id columns (StringTable ids). */
const KIND = 0;
const ISSUER = 1;
const SUBJECT = 2;
const AUTHORITY = 3;
const MINTED_BY = 4;
const STRINGS = 5;

/** Set-id columns (SetTable ids). */
const SCOPES = 0;
const AUDIENCE = 1;
const SERVICES = 2;
const NETWORKS = 3;
const PLATFORMS = 4;
const SETS = 5;

const optional = (t: number): number | undefined => (Number.isNaN(t) ? undefined : t);

/**
 * String and set ids per slot: 16-bit while every id fits (an estate's distinct issuers, scopes,
 * services and networks held at once are usually far fewer than 32k), widened to 32-bit for good
 * by the first id that does not.
 */
type IdColumn = Int16Array | Int32Array;
const fits16 = (id: number): boolean => (id << 16) >> 16 === id;

function growIds(a: IdColumn, n: number): IdColumn {
  const b = a instanceof Int16Array ? new Int16Array(n) : new Int32Array(n);
  b.set(a);
  return b;
}
const fits = (d: number): boolean => Number.isInteger(d) && d > FAR_TIME && d <= 0x7fffffff;

export class TokenInventory {
  private readonly slots: FingerprintSlots;
  private readonly strings = new StringTable();
  private readonly sets = new SetTable(this.strings);
  /** Per slot: first_seen, the base of its other times. */
  private firstSeen: Float64Array;
  /** slot * TIMES + column: offsets from firstSeen (see TIMES). */
  private times: Int32Array;
  /** Times whose offset does not fit, by slot * TIMES + column. */
  private readonly farTimes = new Map<number, number>();
  /** slot * STRINGS + column */
  private stringIds: IdColumn;
  /** slot * SETS + column */
  private setIds: IdColumn;
  private useCounts: Uint32Array;
  private dirtyFlags: Uint8Array;
  /** Slots marked dirty since the last drain, in marking order (a slot evicted and reused may appear twice: the flag decides). */
  private dirtyList: number[] = [];
  evicted = 0;

  constructor(private readonly opts: InventoryOptions = DEFAULT_INVENTORY_OPTIONS) {
    this.slots = new FingerprintSlots(opts.maxTokens);
    const n = this.slots.capacity;
    this.firstSeen = new Float64Array(n);
    this.times = new Int32Array(n * TIMES);
    this.stringIds = new Int16Array(n * STRINGS);
    this.setIds = new Int16Array(n * SETS);
    this.useCounts = new Uint32Array(n);
    this.dirtyFlags = new Uint8Array(n);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Distinct strings and sets (of two or more) held for all tokens: for tests and telemetry. */
  get internedCounts(): { strings: number; sets: number } {
    return { strings: this.strings.size, sets: this.sets.tableSize };
  }

  get(fp: string): InventoryRecord | undefined {
    const slot = this.slots.find(fp);
    return slot < 0 ? undefined : this.recordOf(slot, fp);
  }

  observe(e: TokenEvent): void {
    const fp = e.token.fp;
    const slot = this.slotFor(fp, e);
    if (this.dirtyFlags[slot] === 0) {
      this.dirtyFlags[slot] = 1;
      this.dirtyList.push(slot);
    }
    const s = slot * STRINGS;
    const max = this.opts.maxSetSize;
    if (e.token.kind !== 'unknown' && this.strings.value(this.stringIds[s + KIND]!) === 'unknown') this.setString(s + KIND, e.token.kind);
    if (e.issuer !== undefined && this.stringIds[s + ISSUER] === NONE) this.setString(s + ISSUER, e.issuer);
    if (e.subject !== undefined && this.stringIds[s + SUBJECT] === NONE) this.setString(s + SUBJECT, e.subject);
    if (e.authority !== undefined && this.stringIds[s + AUTHORITY] === NONE) this.setString(s + AUTHORITY, e.authority);
    if (e.time < this.firstSeen[slot]!) this.rebase(slot, e.time);
    if (e.time > this.time(slot, LAST_SEEN)) this.setTime(slot, LAST_SEEN, e.time);
    this.addToSet(slot, PLATFORMS, e.platform, max);
    const scopes = e.scopes_granted ?? e.scopes_used;
    if (scopes !== undefined) for (const v of scopes) this.addToSet(slot, SCOPES, v, max * 4);
    if (e.audience !== undefined) for (const v of e.audience) this.addToSet(slot, AUDIENCE, v, max);
    if (e.expires_at !== undefined) this.setTime(slot, EXPIRES_AT, e.expires_at);
    switch (e.action) {
      case 'mint':
        if (Number.isNaN(this.time(slot, MINTED_AT))) this.setTime(slot, MINTED_AT, e.time);
        if (e.minted_by !== undefined && this.stringIds[s + MINTED_BY] === NONE) this.setString(s + MINTED_BY, e.minted_by);
        break;
      case 'use':
        this.useCounts[slot]!++;
        // NaN compares false: the first use sets both
        if (!(e.time >= this.time(slot, FIRST_USE))) this.setTime(slot, FIRST_USE, e.time);
        if (!(e.time <= this.time(slot, LAST_USE))) this.setTime(slot, LAST_USE, e.time);
        this.addToSet(slot, SERVICES, e.service, max);
        this.addToSet(slot, NETWORKS, e.network?.ip ?? e.network?.label, max);
        break;
      case 'revoke':
        if (!(e.time >= this.time(slot, REVOKED_AT))) this.setTime(slot, REVOKED_AT, e.time);
        break;
      case 'reuse_signal':
        break;
    }
  }

  /** Records changed since the last call (new objects, safe to hand to an async sink). */
  drainDirty(): InventoryRecord[] {
    const out: InventoryRecord[] = [];
    for (const slot of this.dirtyList) {
      if (this.dirtyFlags[slot] === 0) continue; // evicted since, or listed twice
      this.dirtyFlags[slot] = 0;
      out.push(this.recordOf(slot, this.slots.fingerprint(slot)));
    }
    this.dirtyList = [];
    return out;
  }

  get dirtyCount(): number {
    return this.dirtyList.length;
  }

  /** The token's slot, touched; a new one (evicting the least recently seen when full) for a new token. */
  private slotFor(fp: string, e: TokenEvent): number {
    const found = this.slots.find(fp);
    if (found >= 0) {
      this.slots.touch(found);
      return found;
    }
    if (this.slots.size >= this.opts.maxTokens) this.evict(this.slots.oldest());
    const slot = this.slots.insert(fp);
    if (this.slots.capacity > this.useCounts.length) this.grow(this.slots.capacity);
    this.times.fill(NO_TIME, slot * TIMES, (slot + 1) * TIMES);
    this.firstSeen[slot] = e.time;
    this.setTime(slot, LAST_SEEN, e.time);
    this.stringIds.fill(NONE, slot * STRINGS, (slot + 1) * STRINGS);
    this.setStringId(slot * STRINGS + KIND, this.strings.acquire(e.token.kind));
    this.setIds.fill(NONE, slot * SETS, (slot + 1) * SETS);
    this.useCounts[slot] = 0;
    this.dirtyFlags[slot] = 0;
    return slot;
  }

  private evict(slot: number): void {
    for (let i = slot * STRINGS; i < (slot + 1) * STRINGS; i++) this.strings.release(this.stringIds[i]!);
    for (let i = slot * SETS; i < (slot + 1) * SETS; i++) this.sets.release(this.setIds[i]!);
    for (let i = slot * TIMES; i < (slot + 1) * TIMES; i++) if (this.times[i] === FAR_TIME) this.farTimes.delete(i);
    this.dirtyFlags[slot] = 0;
    this.slots.remove(slot);
    this.evicted++;
  }

  /** A time column of a slot (NaN: unknown). */
  private time(slot: number, col: number): number {
    const at = slot * TIMES + col;
    const d = this.times[at]!;
    if (d === NO_TIME) return Number.NaN;
    if (d === FAR_TIME) return this.farTimes.get(at)!;
    return this.firstSeen[slot]! + d;
  }

  private setTime(slot: number, col: number, t: number): void {
    const at = slot * TIMES + col;
    if (this.times[at] === FAR_TIME) this.farTimes.delete(at);
    const d = t - this.firstSeen[slot]!;
    if (fits(d)) {
      this.times[at] = d;
    } else {
      this.times[at] = FAR_TIME;
      this.farTimes.set(at, t);
    }
  }

  /** An earlier first_seen: the other times are offsets from it. */
  private rebase(slot: number, first: number): void {
    const held: number[] = [];
    for (let col = 0; col < TIMES; col++) held.push(this.time(slot, col));
    this.firstSeen[slot] = first;
    for (let col = 0; col < TIMES; col++) {
      const at = slot * TIMES + col;
      if (Number.isNaN(held[col]!)) {
        if (this.times[at] === FAR_TIME) this.farTimes.delete(at);
        this.times[at] = NO_TIME;
      } else {
        this.setTime(slot, col, held[col]!);
      }
    }
  }

  private setStringId(at: number, id: number): void {
    if (!fits16(id) && this.stringIds instanceof Int16Array) this.stringIds = Int32Array.from(this.stringIds);
    this.stringIds[at] = id;
  }

  private setString(at: number, v: string): void {
    const id = this.strings.acquire(v);
    this.strings.release(this.stringIds[at]!);
    this.setStringId(at, id);
  }

  private addToSet(slot: number, col: number, v: string | undefined, max: number): void {
    const at = slot * SETS + col;
    const id = this.sets.add(this.setIds[at]!, v, max);
    if (!fits16(id) && this.setIds instanceof Int16Array) this.setIds = Int32Array.from(this.setIds);
    this.setIds[at] = id;
  }

  private grow(n: number): void {
    const first = new Float64Array(n);
    first.set(this.firstSeen);
    this.firstSeen = first;
    this.times = growInt32(this.times, n * TIMES);
    this.stringIds = growIds(this.stringIds, n * STRINGS);
    this.setIds = growIds(this.setIds, n * SETS);
    const uses = new Uint32Array(n);
    uses.set(this.useCounts);
    this.useCounts = uses;
    const dirty = new Uint8Array(n);
    dirty.set(this.dirtyFlags);
    this.dirtyFlags = dirty;
  }

  private recordOf(slot: number, fp: string): InventoryRecord {
    const s = slot * STRINGS;
    const sets = slot * SETS;
    const lastSeen = this.time(slot, LAST_SEEN);
    const str = (col: number): string | undefined => this.strings.value(this.stringIds[s + col]!);
    const r: InventoryRecord = {
      token_fp: fp,
      kind: str(KIND) as TokenKind,
      scopes: this.sets.values(this.setIds[sets + SCOPES]!),
      audience: this.sets.values(this.setIds[sets + AUDIENCE]!),
      first_seen: this.firstSeen[slot]!,
      last_seen: lastSeen,
      use_count: this.useCounts[slot]!,
      services: this.sets.values(this.setIds[sets + SERVICES]!),
      networks: this.sets.values(this.setIds[sets + NETWORKS]!),
      platforms: this.sets.values(this.setIds[sets + PLATFORMS]!) as Platform[],
      version: lastSeen,
    };
    const issuer = str(ISSUER);
    if (issuer !== undefined) r.issuer = issuer;
    const subject = str(SUBJECT);
    if (subject !== undefined) r.subject = subject;
    const authority = str(AUTHORITY);
    if (authority !== undefined) r.authority = authority;
    const mintedBy = str(MINTED_BY);
    if (mintedBy !== undefined) r.minted_by = mintedBy;
    const mintedAt = optional(this.time(slot, MINTED_AT));
    if (mintedAt !== undefined) r.minted_at = mintedAt;
    const expiresAt = optional(this.time(slot, EXPIRES_AT));
    if (expiresAt !== undefined) r.expires_at = expiresAt;
    if (mintedAt !== undefined && expiresAt !== undefined) r.lifetime_ms = expiresAt - mintedAt;
    const firstUse = optional(this.time(slot, FIRST_USE));
    if (firstUse !== undefined) r.first_use = firstUse;
    const lastUse = optional(this.time(slot, LAST_USE));
    if (lastUse !== undefined) r.last_use = lastUse;
    const revokedAt = optional(this.time(slot, REVOKED_AT));
    if (revokedAt !== undefined) r.revoked_at = revokedAt;
    return r;
  }
}
