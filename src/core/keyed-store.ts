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
 */
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

interface Node<V> extends StoredEntry<V> {
  key: string;
  prev: Node<V> | undefined;
  next: Node<V> | undefined;
}

export class KeyedStore<V> {
  private readonly map = new Map<string, Node<V>>();
  /** Least recently touched. */
  private head: Node<V> | undefined;
  /** Most recently touched. */
  private tail: Node<V> | undefined;
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
  ) {}

  get(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Get or create, and mark touched (and changed) at `time` (moves the key to the LRU tail). */
  touch(key: string, time: number, init: () => V): V {
    if (this.unsorted) this.relink();
    if (this.tracking) this.changed.add(key);
    const e = this.map.get(key);
    if (e) {
      if (e !== this.tail) {
        this.unlink(e);
        this.append(e);
      }
      e.seq = ++this.seq;
      e.touched = Math.max(e.touched, time);
      this.appended(e.touched);
      return e.value;
    }
    const value = init();
    const n: Node<V> = { value, touched: time, seq: ++this.seq, key, prev: undefined, next: undefined };
    this.map.set(key, n);
    this.append(n);
    this.appended(time);
    if (this.map.size > this.maxKeys) {
      const oldest = this.head;
      if (oldest !== undefined) {
        this.remove(oldest);
        this.evicted++;
      }
    }
    return value;
  }

  /** The key's value was changed in place without a touch (it does not move in the LRU order). */
  mark(key: string): void {
    if (this.tracking && this.map.has(key)) this.changed.add(key);
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e) this.remove(e);
  }

  /** Evict entries idle since before `watermark - maxIdleMs`. */
  evictIdle(watermark: number): number {
    if (this.unsorted) this.relink();
    const cutoff = watermark - this.maxIdleMs;
    let n = 0;
    if (this.ordered) {
      while (this.head !== undefined && this.head.touched < cutoff) {
        this.remove(this.head);
        n++;
      }
    } else {
      let ordered = true;
      let prev = -Infinity;
      for (let e = this.head; e !== undefined; ) {
        const next = e.next;
        if (e.touched < cutoff) {
          this.remove(e);
          n++;
        } else {
          if (e.touched < prev) ordered = false;
          prev = e.touched;
        }
        e = next;
      }
      this.ordered = ordered;
      if (ordered) this.tailTouched = prev;
    }
    this.evicted += n;
    return n;
  }

  get size(): number {
    return this.map.size;
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  /** Entries, least recently touched first (a snapshot: safe to touch or delete while iterating). */
  entries(): IterableIterator<[string, KeyedEntry<V>]> {
    if (this.unsorted) this.relink();
    const out: [string, KeyedEntry<V>][] = [];
    for (let e = this.head; e !== undefined; e = e.next) out.push([e.key, e]);
    return out[Symbol.iterator]();
  }

  /** Least recently touched first (the snapshot() format). */
  toJSON(): [string, KeyedEntry<V>][] {
    if (this.unsorted) this.relink();
    const out: [string, KeyedEntry<V>][] = [];
    for (let e = this.head; e !== undefined; e = e.next) out.push([e.key, { value: e.value, touched: e.touched }]);
    return out;
  }

  /** Replace everything with `entries` (least recently touched first); every key held before or after counts as changed. */
  load(entries: readonly [string, KeyedEntry<V>][]): void {
    if (this.tracking) for (const k of this.map.keys()) this.changed.add(k);
    this.map.clear();
    this.head = undefined;
    this.tail = undefined;
    this.unsorted = false;
    for (const [key, e] of entries) {
      if (this.tracking) this.changed.add(key);
      // a repeated key keeps its first position and its last entry, as Map.set does
      const existing = this.map.get(key);
      if (existing) {
        existing.value = e.value;
        existing.touched = e.touched;
        continue;
      }
      const n: Node<V> = { value: e.value, touched: e.touched, seq: ++this.seq, key, prev: undefined, next: undefined };
      this.map.set(key, n);
      this.append(n);
    }
    this.ordered = this.isOrdered();
    this.tailTouched = this.lastTouched();
  }

  /** Keys changed since the last drain, each once (the first drain: every live key). */
  drainChanged(): string[] {
    if (!this.tracking) {
      this.tracking = true;
      return [...this.map.keys()];
    }
    const out = [...this.changed];
    this.changed.clear();
    return out;
  }

  /** The live entry (its value is not copied: serialize it before the next change). */
  getEntry(key: string): StoredEntry<V> | undefined {
    const e = this.map.get(key);
    return e === undefined ? undefined : { value: e.value, touched: e.touched, seq: e.seq };
  }

  /** Install one entry (a restore): not reported as changed; the LRU order follows `seq`. */
  putEntry(key: string, entry: StoredEntry<V>): void {
    this.tracking = true;
    const existing = this.map.get(key);
    if (existing) {
      existing.value = entry.value;
      existing.touched = entry.touched;
      existing.seq = entry.seq;
    } else {
      const n: Node<V> = { value: entry.value, touched: entry.touched, seq: entry.seq, key, prev: undefined, next: undefined };
      this.map.set(key, n);
      this.append(n);
    }
    if (entry.seq > this.seq) this.seq = entry.seq;
    this.unsorted = true;
  }

  /** Rebuild the LRU list in seq order after putEntry() calls. */
  private relink(): void {
    const nodes = [...this.map.values()].sort((a, b) => a.seq - b.seq);
    this.head = undefined;
    this.tail = undefined;
    for (const n of nodes) this.append(n);
    this.unsorted = false;
    this.ordered = this.isOrdered();
    this.tailTouched = this.lastTouched();
  }

  private lastTouched(): number {
    return this.tail?.touched ?? -Infinity;
  }

  private isOrdered(): boolean {
    let prev = -Infinity;
    for (let e = this.head; e !== undefined; e = e.next) {
      if (e.touched < prev) return false;
      prev = e.touched;
    }
    return true;
  }

  private appended(touched: number): void {
    if (touched < this.tailTouched) this.ordered = false;
    this.tailTouched = touched;
  }

  private append(n: Node<V>): void {
    n.prev = this.tail;
    n.next = undefined;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
  }

  private unlink(n: Node<V>): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = undefined;
    n.next = undefined;
  }

  private remove(n: Node<V>): void {
    this.unlink(n);
    this.map.delete(n.key);
    if (this.tracking) this.changed.add(n.key);
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
