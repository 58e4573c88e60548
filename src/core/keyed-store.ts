/**
 * Bounded keyed state (detectors' state stores, the engine's suppression windows, the incident
 * builder): at most `maxKeys` entries (least recently touched evicted first) and TTL eviction in
 * event time, plus what the key-level contract (DetectorInstance.changedKeys/getKey/putKey and
 * the engine's changelog) needs:
 *
 * - which keys changed (touched, marked, evicted or deleted) since the last drain, each once;
 * - each entry's LRU position as a sequence number (`seq` of its last touch), so entries put back
 *   one by one in any order (a compacted changelog) rebuild the same LRU order, and the same
 *   evictions follow.
 *
 * Change tracking starts at the first drainChanged() or putEntry(): until then nothing is recorded
 * (an embedded run that never drains keeps no set of every key it ever saw) and the first drain
 * reports every live key, which is all a store that was never written out or restored can owe.
 *
 * Packed (issue 8: heap per live token): an entry is a slot index into typed-array columns (touch
 * time, seq, LRU links) and one array of values, not a Map entry plus a list node object. A token
 * fingerprint key (`tw1:` + 32 lower-case hex digits, src/core/fingerprint.ts) is kept as four
 * 32-bit words and found through an open-addressing table (linear probing, backward-shift
 * deletion): ~60 bytes a key instead of ~240 (the key string, a Map entry, a node, a boxed time).
 * Any other key (issuers, dedup keys) goes to a Map from key to slot.
 */

import { fingerprintHash, fingerprintText, packFingerprint } from './fingerprint-words.js';
export interface KeyedEntry<V> {
  value: V;
  /** Event time of the last touch. */
  touched: number;
}

/** One entry as getEntry() reports it and putEntry() takes it. */
export interface StoredEntry<V> extends KeyedEntry<V> {
  /** LRU position: larger is more recently touched. */
  seq: number;
}

const EMPTY = -1;
const INITIAL_SLOTS = 64;

/** Reused by every store: the words of the key being looked up (stores are single-threaded and never re-entered mid-lookup). */
const scratch = new Int32Array(4);

export class KeyedStore<V> {
  /** 4 words per slot (packed keys; unused for others). */
  private words: Int32Array;
  /** Open-addressing table of slots holding packed keys (EMPTY when free); its length is a power of two. */
  private table: Int32Array;
  private packed = 0;
  /** Keys that are not fingerprints → slot, and slot → key (allocated on the first such key). */
  private readonly otherSlot = new Map<string, number>();
  private otherKey: (string | undefined)[] | undefined;
  private values: (V | undefined)[] = [];
  /** Event time of each slot's last touch. */
  private touchedAt: Float64Array;
  private seqs: Float64Array;
  /** LRU links: toward the least (older) and the most (newer) recently touched. */
  private older: Int32Array;
  private newer: Int32Array;
  private readonly free: number[] = [];
  private used = 0;
  private live = 0;
  /** Least recently touched. */
  private head = EMPTY;
  /** Most recently touched. */
  private tail = EMPTY;
  /** `touched` never decreases along the LRU order: evictIdle() stops at the first entry it keeps. */
  private ordered = true;
  private tailTouched = -Infinity;
  private seq = 0;
  /** putEntry() appended out of LRU order: relink by seq before anything depends on the order. */
  private unsorted = false;
  private tracking = false;
  private readonly changed = new Set<string>();
  evicted = 0;

  constructor(
    readonly maxKeys: number,
    /** Idle entries older than this (event-time ms) are evicted on evictIdle(). */
    readonly maxIdleMs: number,
  ) {
    const n = Math.max(1, Math.min(INITIAL_SLOTS, maxKeys + 1));
    this.words = new Int32Array(n * 4);
    this.touchedAt = new Float64Array(n);
    this.seqs = new Float64Array(n);
    this.older = new Int32Array(n);
    this.newer = new Int32Array(n);
    this.table = new Int32Array(16).fill(EMPTY);
  }

  get(key: string): V | undefined {
    const slot = this.find(key);
    return slot === EMPTY ? undefined : this.values[slot];
  }

  /** Get or create, and mark touched (and changed) at `time` (moves the key to the LRU tail). */
  touch(key: string, time: number, init: () => V): V {
    if (this.unsorted) this.relink();
    if (this.tracking) this.changed.add(key);
    const found = this.find(key);
    if (found !== EMPTY) {
      if (found !== this.tail) {
        this.unlink(found);
        this.append(found);
      }
      this.seqs[found] = ++this.seq;
      const t = Math.max(this.touchedAt[found]!, time);
      this.touchedAt[found] = t;
      this.appended(t);
      return this.values[found]!;
    }
    const value = init();
    const slot = this.insert(key, value, time, ++this.seq);
    this.append(slot);
    this.appended(time);
    if (this.live > this.maxKeys) {
      const oldest = this.head;
      if (oldest !== EMPTY) {
        this.remove(oldest);
        this.evicted++;
      }
    }
    return value;
  }

  /** The key's value was changed in place without a touch (it does not move in the LRU order). */
  mark(key: string): void {
    if (this.tracking && this.find(key) !== EMPTY) this.changed.add(key);
  }

  delete(key: string): void {
    const slot = this.find(key);
    if (slot !== EMPTY) this.remove(slot);
  }

  /** Evict entries idle since before `watermark - maxIdleMs`. */
  evictIdle(watermark: number): number {
    if (this.unsorted) this.relink();
    const cutoff = watermark - this.maxIdleMs;
    let n = 0;
    if (this.ordered) {
      while (this.head !== EMPTY && this.touchedAt[this.head]! < cutoff) {
        this.remove(this.head);
        n++;
      }
    } else {
      let ordered = true;
      let prev = -Infinity;
      for (let s = this.head; s !== EMPTY; ) {
        const next = this.newer[s]!;
        const t = this.touchedAt[s]!;
        if (t < cutoff) {
          this.remove(s);
          n++;
        } else {
          if (t < prev) ordered = false;
          prev = t;
        }
        s = next;
      }
      this.ordered = ordered;
      if (ordered) this.tailTouched = prev;
    }
    this.evicted += n;
    return n;
  }

  get size(): number {
    return this.live;
  }

  /** Keys, least recently touched first (a snapshot). */
  keys(): IterableIterator<string> {
    if (this.unsorted) this.relink();
    const out: string[] = [];
    for (let s = this.head; s !== EMPTY; s = this.newer[s]!) out.push(this.keyOf(s));
    return out[Symbol.iterator]();
  }

  /** Entries, least recently touched first (a snapshot: safe to touch or delete while iterating). */
  entries(): IterableIterator<[string, KeyedEntry<V>]> {
    return this.toJSON()[Symbol.iterator]();
  }

  /** Least recently touched first (the snapshot() format). */
  toJSON(): [string, KeyedEntry<V>][] {
    if (this.unsorted) this.relink();
    const out: [string, KeyedEntry<V>][] = [];
    for (let s = this.head; s !== EMPTY; s = this.newer[s]!) out.push([this.keyOf(s), { value: this.values[s]!, touched: this.touchedAt[s]! }]);
    return out;
  }

  /** Replace everything with `entries` (least recently touched first); every key held before or after counts as changed. */
  load(entries: readonly [string, KeyedEntry<V>][]): void {
    if (this.tracking) for (let s = this.head; s !== EMPTY; s = this.newer[s]!) this.changed.add(this.keyOf(s));
    while (this.head !== EMPTY) this.remove(this.head, false);
    this.unsorted = false;
    for (const [key, e] of entries) {
      if (this.tracking) this.changed.add(key);
      // a repeated key keeps its first position and its last entry, as Map.set does
      const existing = this.find(key);
      if (existing !== EMPTY) {
        this.values[existing] = e.value;
        this.touchedAt[existing] = e.touched;
        continue;
      }
      this.append(this.insert(key, e.value, e.touched, ++this.seq));
    }
    this.ordered = this.isOrdered();
    this.tailTouched = this.lastTouched();
  }

  /** Keys changed since the last drain, each once (the first drain: every live key). */
  drainChanged(): string[] {
    if (!this.tracking) {
      this.tracking = true;
      return [...this.keys()];
    }
    const out = [...this.changed];
    this.changed.clear();
    return out;
  }

  /** The live entry (its value is not copied: serialize it before the next change). */
  getEntry(key: string): StoredEntry<V> | undefined {
    const s = this.find(key);
    return s === EMPTY ? undefined : { value: this.values[s]!, touched: this.touchedAt[s]!, seq: this.seqs[s]! };
  }

  /** Install one entry (a restore): not reported as changed; the LRU order follows `seq`. */
  putEntry(key: string, entry: StoredEntry<V>): void {
    this.tracking = true;
    const existing = this.find(key);
    if (existing !== EMPTY) {
      this.values[existing] = entry.value;
      this.touchedAt[existing] = entry.touched;
      this.seqs[existing] = entry.seq;
    } else {
      this.append(this.insert(key, entry.value, entry.touched, entry.seq));
    }
    if (entry.seq > this.seq) this.seq = entry.seq;
    this.unsorted = true;
  }

  /** The slot holding `key`, or EMPTY. */
  private find(key: string): number {
    if (!packFingerprint(key, scratch)) return this.otherSlot.get(key) ?? EMPTY;
    const w0 = scratch[0]!;
    const w1 = scratch[1]!;
    const w2 = scratch[2]!;
    const w3 = scratch[3]!;
    const table = this.table;
    const words = this.words;
    const mask = table.length - 1;
    for (let i = fingerprintHash(w0, w1, w2, w3) & mask; ; i = (i + 1) & mask) {
      const s = table[i]!;
      if (s === EMPTY) return EMPTY;
      const o = s * 4;
      if (words[o] === w0 && words[o + 1] === w1 && words[o + 2] === w2 && words[o + 3] === w3) return s;
    }
  }

  /** A slot for `key` (not present), not yet linked into the LRU list. */
  private insert(key: string, value: V, touched: number, seq: number): number {
    const slot = this.free.pop() ?? this.used++;
    if (slot >= this.older.length) this.grow();
    this.live++;
    if (packFingerprint(key, scratch)) {
      this.words.set(scratch, slot * 4);
      this.packed++;
      if (this.packed * 2 > this.table.length) this.rehash(this.table.length * 2);
      this.place(slot);
    } else {
      this.otherSlot.set(key, slot);
      (this.otherKey ??= [])[slot] = key;
    }
    this.values[slot] = value;
    this.touchedAt[slot] = touched;
    this.seqs[slot] = seq;
    return slot;
  }

  private keyOf(slot: number): string {
    const other = this.otherKey?.[slot];
    if (other !== undefined) return other;
    const o = slot * 4;
    return fingerprintText(this.words, o);
  }

  private homeOf(slot: number, mask: number): number {
    const o = slot * 4;
    return fingerprintHash(this.words[o]!, this.words[o + 1]!, this.words[o + 2]!, this.words[o + 3]!) & mask;
  }

  private place(slot: number): void {
    const mask = this.table.length - 1;
    let i = this.homeOf(slot, mask);
    while (this.table[i] !== EMPTY) i = (i + 1) & mask;
    this.table[i] = slot;
  }

  private rehash(size: number): void {
    const old = this.table;
    this.table = new Int32Array(size).fill(EMPTY);
    for (let i = 0; i < old.length; i++) if (old[i] !== EMPTY) this.place(old[i]!);
  }

  /** Grow the slot columns ×1.5, never beyond maxKeys + 1 (a full store holds no slack). */
  private grow(): void {
    const cap = this.older.length;
    const n = Math.max(cap + 1, Math.min(this.maxKeys + 1, Math.ceil(cap * 1.5)));
    const words = new Int32Array(n * 4);
    words.set(this.words);
    this.words = words;
    const touched = new Float64Array(n);
    touched.set(this.touchedAt);
    this.touchedAt = touched;
    const seqs = new Float64Array(n);
    seqs.set(this.seqs);
    this.seqs = seqs;
    const older = new Int32Array(n);
    older.set(this.older);
    this.older = older;
    const newer = new Int32Array(n);
    newer.set(this.newer);
    this.newer = newer;
  }

  /** Rebuild the LRU list in seq order after putEntry() calls. */
  private relink(): void {
    const slots: number[] = [];
    for (let s = this.head; s !== EMPTY; s = this.newer[s]!) slots.push(s);
    slots.sort((a, b) => this.seqs[a]! - this.seqs[b]!);
    this.head = EMPTY;
    this.tail = EMPTY;
    for (const s of slots) this.append(s);
    this.unsorted = false;
    this.ordered = this.isOrdered();
    this.tailTouched = this.lastTouched();
  }

  private lastTouched(): number {
    return this.tail === EMPTY ? -Infinity : this.touchedAt[this.tail]!;
  }

  private isOrdered(): boolean {
    let prev = -Infinity;
    for (let s = this.head; s !== EMPTY; s = this.newer[s]!) {
      const t = this.touchedAt[s]!;
      if (t < prev) return false;
      prev = t;
    }
    return true;
  }

  private appended(touched: number): void {
    if (touched < this.tailTouched) this.ordered = false;
    this.tailTouched = touched;
  }

  private append(slot: number): void {
    this.older[slot] = this.tail;
    this.newer[slot] = EMPTY;
    if (this.tail !== EMPTY) this.newer[this.tail] = slot;
    else this.head = slot;
    this.tail = slot;
  }

  private unlink(slot: number): void {
    const p = this.older[slot]!;
    const n = this.newer[slot]!;
    if (p !== EMPTY) this.newer[p] = n;
    else this.head = n;
    if (n !== EMPTY) this.older[n] = p;
    else this.tail = p;
  }

  private remove(slot: number, track = true): void {
    this.unlink(slot);
    if (track && this.tracking) this.changed.add(this.keyOf(slot));
    this.values[slot] = undefined;
    this.live--;
    this.free.push(slot);
    const other = this.otherKey?.[slot];
    if (other !== undefined) {
      this.otherKey![slot] = undefined;
      this.otherSlot.delete(other);
      return;
    }
    this.packed--;
    // backward-shift deletion: pull later members of the probe run into the hole
    const mask = this.table.length - 1;
    let i = this.homeOf(slot, mask);
    while (this.table[i] !== slot) i = (i + 1) & mask;
    let hole = i;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const s = this.table[j]!;
      if (s === EMPTY) break;
      const home = this.homeOf(s, mask);
      // s may move into the hole when its home is not cyclically in (hole, j]
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        this.table[hole] = s;
        hole = j;
      }
    }
    this.table[hole] = EMPTY;
  }
}

/**
 * A routing key (issuer, fingerprint) as a state key: one starting with `~` gets another `~`, so
 * no input can name a reserved key such as SHARED_STATE_KEY.
 */
export const toStateKey = (key: string): string => (key.charCodeAt(0) === 126 ? `~${key}` : key);
/** The routing key of a state key, or undefined for a reserved key (`~` + not `~`). */
export function fromStateKey(key: string): string | undefined {
  if (key.charCodeAt(0) !== 126) return key;
  return key.charCodeAt(1) === 126 ? key.slice(1) : undefined;
}

/** A stored entry as getKey() returns it: value, touched, LRU seq. */
export interface KeyState<J> {
  v: J;
  t: number;
  s: number;
}

export function keyStateOf<V, J>(store: KeyedStore<V>, key: string, encode: (v: V) => J): KeyState<J> | undefined {
  const e = store.getEntry(key);
  return e === undefined ? undefined : { v: encode(e.value), t: e.touched, s: e.seq };
}

export function putKeyState<V, J>(store: KeyedStore<V>, key: string, state: unknown, decode: (j: J) => V): void {
  const s = state as KeyState<J>;
  store.putEntry(key, { value: decode(s.v), touched: s.t, seq: s.s });
}
