/**
 * Bounded keyed state (detectors' state stores, the token inventory): at most `maxKeys` entries
 * (least recently touched evicted first) and TTL eviction in event time (`evictIdle(watermark)`),
 * serializable.
 *
 * LRU order is a doubly linked list through the entries, beside a Map for lookup. (Re-inserting
 * into the Map on touch and evicting its first key looks simpler, but V8 skips every deleted
 * slot on each `keys().next()` until it compacts the table: tens of µs per event once full.)
 */
export interface KeyedEntry<V> {
  value: V;
  /** Event time of the last touch. */
  touched: number;
}

interface Node<V> extends KeyedEntry<V> {
  key: string;
  /** Toward the least recently touched end. */
  prev: Node<V> | undefined;
  /** Toward the most recently touched end. */
  next: Node<V> | undefined;
}

export class KeyedState<V> {
  private readonly map = new Map<string, Node<V>>();
  /** Least recently touched. */
  private head: Node<V> | undefined;
  /** Most recently touched. */
  private tail: Node<V> | undefined;
  /**
   * Whether `touched` never decreases along the LRU order (true while events arrive in
   * event-time order, which the reorder buffer makes the rule): evictIdle() can then stop at the
   * first entry it keeps instead of visiting every key each time the watermark moves.
   */
  private ordered = true;
  /** `touched` of the most recently touched entry (an upper bound once that entry is gone). */
  private tailTouched = -Infinity;
  evicted = 0;
  /** Told the key of every entry evicted (idle or over maxKeys), e.g. to write a changelog tombstone. */
  onEvict?: (key: string) => void;

  constructor(
    readonly maxKeys: number,
    /** Idle entries older than this (event-time ms) are evicted on evictIdle(). */
    readonly maxIdleMs: number,
  ) {}

  get(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Get or create, and mark touched at `time` (moves the key to the LRU tail). */
  touch(key: string, time: number, init: () => V): V {
    const e = this.map.get(key);
    if (e) {
      if (e !== this.tail) {
        this.unlink(e);
        this.append(e);
      }
      e.touched = Math.max(e.touched, time);
      this.appended(e.touched);
      return e.value;
    }
    const value = init();
    const n: Node<V> = { value, touched: time, key, prev: undefined, next: undefined };
    this.map.set(key, n);
    this.append(n);
    this.appended(time);
    if (this.map.size > this.maxKeys) {
      const oldest = this.head;
      if (oldest !== undefined) {
        this.remove(oldest);
        this.evicted++;
        this.onEvict?.(oldest.key);
      }
    }
    return value;
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (e) this.remove(e);
  }

  /** Evict entries idle since before `watermark - maxIdleMs`. */
  evictIdle(watermark: number): number {
    const cutoff = watermark - this.maxIdleMs;
    let n = 0;
    if (this.ordered) {
      // every later entry was touched at or after this one: nothing past it is idle
      while (this.head !== undefined && this.head.touched < cutoff) {
        const e = this.head;
        this.remove(e);
        this.onEvict?.(e.key);
        n++;
      }
    } else {
      // visit everything, and learn whether what is left is in order again
      let ordered = true;
      let prev = -Infinity;
      for (let e = this.head; e !== undefined; ) {
        const next = e.next;
        if (e.touched < cutoff) {
          this.remove(e);
          this.onEvict?.(e.key);
          n++;
        } else {
          if (e.touched < prev) ordered = false;
          prev = e.touched;
        }
        e = next;
      }
      this.ordered = ordered;
      if (ordered) this.tailTouched = prev; // the last entry kept is the tail now
    }
    this.evicted += n;
    return n;
  }

  get size(): number {
    return this.map.size;
  }

  /** Entries, least recently touched first (a snapshot: safe to touch or delete while iterating). */
  entries(): IterableIterator<[string, KeyedEntry<V>]> {
    const out: [string, KeyedEntry<V>][] = [];
    for (let e = this.head; e !== undefined; e = e.next) out.push([e.key, e]);
    return out[Symbol.iterator]();
  }

  toJSON(): [string, KeyedEntry<V>][] {
    const out: [string, KeyedEntry<V>][] = [];
    for (let e = this.head; e !== undefined; e = e.next) out.push([e.key, { value: e.value, touched: e.touched }]);
    return out;
  }

  load(entries: readonly [string, KeyedEntry<V>][]): void {
    this.map.clear();
    this.head = undefined;
    this.tail = undefined;
    this.ordered = true;
    this.tailTouched = -Infinity;
    for (const [key, e] of entries) {
      // a repeated key keeps its first position and its last entry, as Map.set does
      const existing = this.map.get(key);
      if (existing) {
        existing.value = e.value;
        existing.touched = e.touched;
        continue;
      }
      const n: Node<V> = { value: e.value, touched: e.touched, key, prev: undefined, next: undefined };
      this.map.set(key, n);
      this.append(n);
    }
    this.ordered = this.isOrdered();
    this.tailTouched = this.lastTouched();
  }

  private isOrdered(): boolean {
    let prev = -Infinity;
    for (let e = this.head; e !== undefined; e = e.next) {
      if (e.touched < prev) return false;
      prev = e.touched;
    }
    return true;
  }

  private lastTouched(): number {
    return this.tail?.touched ?? -Infinity;
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
  }
}
