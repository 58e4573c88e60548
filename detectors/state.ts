/**
 * Bounded keyed state for detectors: at most `maxKeys` entries (least recently touched
 * evicted first) and TTL eviction in event time (`evictIdle(watermark)`), serializable.
 * Map preserves insertion order, so re-inserting on touch gives LRU order for free.
 */
export interface KeyedEntry<V> {
  value: V;
  /** Event time of the last touch. */
  touched: number;
}

export class KeyedState<V> {
  private readonly map = new Map<string, KeyedEntry<V>>();
  evicted = 0;

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
      this.map.delete(key);
      e.touched = Math.max(e.touched, time);
      this.map.set(key, e);
      return e.value;
    }
    const value = init();
    this.map.set(key, { value, touched: time });
    if (this.map.size > this.maxKeys) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) {
        this.map.delete(oldest);
        this.evicted++;
      }
    }
    return value;
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Evict entries idle since before `watermark - maxIdleMs`. */
  evictIdle(watermark: number): number {
    const cutoff = watermark - this.maxIdleMs;
    let n = 0;
    for (const [k, e] of this.map) {
      if (e.touched < cutoff) {
        this.map.delete(k);
        n++;
      }
    }
    this.evicted += n;
    return n;
  }

  get size(): number {
    return this.map.size;
  }

  entries(): IterableIterator<[string, KeyedEntry<V>]> {
    return this.map.entries();
  }

  toJSON(): [string, KeyedEntry<V>][] {
    return [...this.map.entries()];
  }

  load(entries: readonly [string, KeyedEntry<V>][]): void {
    this.map.clear();
    for (const [k, e] of entries) this.map.set(k, e);
  }
}
