/**
 * Reference-counted interning for the token inventory's packed records: each distinct string
 * (issuer, subject, service, network, scope, kind…) is held once and named by a small integer id;
 * each distinct small set of them (a token's scopes, services…) likewise. Ids are freed when the
 * last token holding them goes, so the tables stay bounded by what live tokens hold, however many
 * distinct values (IPs, subjects) pass through.
 */

/** Id 0 is "none" (an absent string, an empty set). */
export const NONE = 0;

export class StringTable {
  private readonly ids = new Map<string, number>();
  private values: (string | undefined)[] = [undefined];
  private refs: number[] = [0];
  private readonly free: number[] = [];

  /** The id of `s`, holding one more reference to it. */
  acquire(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.free.pop() ?? this.values.length;
      this.ids.set(s, id);
      this.values[id] = s;
      this.refs[id] = 0;
    }
    this.refs[id]!++;
    return id;
  }

  /** One more reference to an interned id. */
  retain(id: number): void {
    if (id !== NONE) this.refs[id]!++;
  }

  /** The id of `s` if interned (no reference taken), else NONE. */
  lookup(s: string): number {
    return this.ids.get(s) ?? NONE;
  }

  /** Drop one reference; the id is freed with its last. */
  release(id: number): void {
    if (id === NONE) return;
    if (--this.refs[id]! > 0) return;
    this.ids.delete(this.values[id]!);
    this.values[id] = undefined;
    this.free.push(id);
  }

  value(id: number): string | undefined {
    return id === NONE ? undefined : this.values[id];
  }

  /** Distinct strings held. */
  get size(): number {
    return this.ids.size;
  }

  refCount(id: number): number {
    return id === NONE ? 0 : (this.refs[id] ?? 0);
  }
}

const EMPTY = -1;

/** Order-sensitive hash of a member list (FNV-1a over the ids). */
function hashMembers(pool: Int32Array, at: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ pool[at + i]!, 0x01000193);
  return h >>> 0;
}

/**
 * Small ordered sets of interned strings (insertion order is kept: records list values in the
 * order first seen). A set id is NONE for the empty set, −s for the one-element set {s} (most
 * tokens have a single service, network, platform: no table entry at all), and a positive index
 * otherwise. A set holds one reference to each of its member strings.
 *
 * Sets of two or more members are packed too: their member ids sit in one Int32Array pool
 * (offset and length per set), found again through an open-addressing table on their hash, so a
 * set no other token shares (a token's own order of scopes, its own IPs) costs ~30 bytes plus 4
 * per member instead of an array, a key string and a Map entry. Freed ranges of the pool are
 * reclaimed by compacting it once they are half of it.
 */
export class SetTable {
  private pool = new Int32Array(1024);
  private poolEnd = 0;
  private poolHoles = 0;
  /** Per set id (index 0 unused): pool offset, length, references, hash. */
  private offset = new Int32Array(64);
  private length = new Int32Array(64);
  private refs = new Int32Array(64);
  private hashes = new Uint32Array(64);
  private nextId = 1;
  private readonly free: number[] = [];
  private live = 0;
  /** Open-addressing table of set ids by hash (EMPTY when free), length a power of two. */
  private index = new Int32Array(64).fill(EMPTY);

  constructor(readonly strings: StringTable) {}

  size(set: number): number {
    return set === NONE ? 0 : set < 0 ? 1 : this.length[set]!;
  }

  has(set: number, s: string): boolean {
    const id = this.strings.lookup(s);
    if (id === NONE || set === NONE) return false;
    if (set < 0) return -set === id;
    const at = this.offset[set]!;
    const end = at + this.length[set]!;
    for (let i = at; i < end; i++) if (this.pool[i] === id) return true;
    return false;
  }

  /**
   * The set `set` ∪ {s} (`set` itself when s is in it or it has `max` members already). The
   * caller's reference moves to the returned set.
   */
  add(set: number, s: string | undefined, max: number): number {
    if (s === undefined || this.size(set) >= max || this.has(set, s)) return set;
    const id = this.strings.acquire(s);
    if (set === NONE) return -id; // the singleton owns the reference just taken
    // the candidate's members go at the end of the pool; they stay only if the set is new
    const n = this.size(set) + 1;
    this.reserve(n);
    const at = this.poolEnd;
    if (set < 0) this.pool[at] = -set;
    else this.pool.copyWithin(at, this.offset[set]!, this.offset[set]! + n - 1);
    this.pool[at + n - 1] = id;
    const next = this.acquireAt(at, n);
    this.strings.release(id); // the table's set holds its own references
    this.release(set);
    return next;
  }

  /** Drop one reference to a set (and, with its last, the set's to its members). */
  release(set: number): void {
    if (set === NONE) return;
    if (set < 0) {
      this.strings.release(-set);
      return;
    }
    if (--this.refs[set]! > 0) return;
    const at = this.offset[set]!;
    const n = this.length[set]!;
    for (let i = at; i < at + n; i++) this.strings.release(this.pool[i]!);
    this.unindex(set);
    this.length[set] = 0;
    this.poolHoles += n;
    this.free.push(set);
    this.live--;
  }

  /** The member strings, in insertion order (a new array). */
  values(set: number): string[] {
    if (set === NONE) return [];
    if (set < 0) return [this.strings.value(-set)!];
    const at = this.offset[set]!;
    const n = this.length[set]!;
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = this.strings.value(this.pool[at + i]!)!;
    return out;
  }

  /** Distinct sets of two or more members held. */
  get tableSize(): number {
    return this.live;
  }

  /** The set whose members are pool[at, at+n) (just written at the pool's end), with one more reference. */
  private acquireAt(at: number, n: number): number {
    const h = hashMembers(this.pool, at, n);
    const mask = this.index.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const set = this.index[i]!;
      if (set === EMPTY) break;
      if (this.hashes[set] === h && this.length[set] === n && this.sameMembers(this.offset[set]!, at, n)) {
        this.refs[set]!++;
        return set; // the candidate at the pool's end is simply not kept
      }
    }
    const set = this.free.pop() ?? this.nextId++;
    if (set >= this.offset.length) this.growIds();
    this.offset[set] = at;
    this.length[set] = n;
    this.refs[set] = 1;
    this.hashes[set] = h;
    this.poolEnd = at + n;
    for (let i = at; i < at + n; i++) this.strings.retain(this.pool[i]!);
    this.live++;
    if (this.live * 2 > this.index.length) this.reindex(this.index.length * 2);
    else this.place(set);
    return set;
  }

  private sameMembers(a: number, b: number, n: number): boolean {
    for (let i = 0; i < n; i++) if (this.pool[a + i] !== this.pool[b + i]) return false;
    return true;
  }

  /** Room for n more members at the pool's end: compact when freed ranges are half the pool, else grow. */
  private reserve(n: number): void {
    if (this.poolEnd + n <= this.pool.length) return;
    if (this.poolHoles * 2 >= this.poolEnd) this.compact();
    if (this.poolEnd + n <= this.pool.length) return;
    const pool = new Int32Array(Math.max(this.pool.length * 2, this.poolEnd + n));
    pool.set(this.pool.subarray(0, this.poolEnd));
    this.pool = pool;
  }

  private compact(): void {
    const pool = new Int32Array(this.pool.length);
    let end = 0;
    for (let set = 1; set < this.nextId; set++) {
      const n = this.length[set]!;
      if (n === 0) continue;
      pool.set(this.pool.subarray(this.offset[set]!, this.offset[set]! + n), end);
      this.offset[set] = end;
      end += n;
    }
    this.pool = pool;
    this.poolEnd = end;
    this.poolHoles = 0;
  }

  private growIds(): void {
    const n = this.offset.length * 2;
    const grow = <T extends Int32Array | Uint32Array>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.offset = grow(this.offset, new Int32Array(n));
    this.length = grow(this.length, new Int32Array(n));
    this.refs = grow(this.refs, new Int32Array(n));
    this.hashes = grow(this.hashes, new Uint32Array(n));
  }

  private place(set: number): void {
    const mask = this.index.length - 1;
    let i = this.hashes[set]! & mask;
    while (this.index[i] !== EMPTY) i = (i + 1) & mask;
    this.index[i] = set;
  }

  private reindex(size: number): void {
    this.index = new Int32Array(size).fill(EMPTY);
    for (let set = 1; set < this.nextId; set++) if (this.length[set]! > 0) this.place(set);
  }

  /** Backward-shift deletion (linear probing, no tombstones). */
  private unindex(set: number): void {
    const mask = this.index.length - 1;
    let i = this.hashes[set]! & mask;
    while (this.index[i] !== set) i = (i + 1) & mask;
    let hole = i;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const s = this.index[j]!;
      if (s === EMPTY) break;
      const home = this.hashes[s]! & mask;
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        this.index[hole] = s;
        hole = j;
      }
    }
    this.index[hole] = EMPTY;
  }
}
