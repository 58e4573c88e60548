/**
 * The most recent `capacity` ids (event ids) in a fixed-size table of 64-bit hashes: membership
 * test and insert in O(1), the oldest forgotten first. A Set<string> of 200,000 UUID-like event
 * ids costs ~17 MB (string, table slot, an eviction queue); this costs about 20 bytes per id (a
 * ring of 8-byte hashes and a linear-probing table of 1.5 slots per id), grown by doubling up to
 * the capacity, so a task that sees few events holds a few KB.
 *
 * Hashes, not strings: two different ids collide only when both 32-bit halves do (FNV-1a and a
 * multiply-rotate hash with another seed, over the UTF-16 code units) — for 200,000 ids about one
 * chance in 10^9 that any pair in the window collides; a collision would drop one event as a
 * duplicate. Deletion is backward-shift (no tombstones), so the table never degrades.
 */
export class RecentIdSet {
  /** Table slots (not a power of two: a 1.5× table instead of 2× saves a third of its bytes). */
  private slots: number;
  /** Hash halves per slot; (0, 0) marks an empty slot (hashes never are: `lo` is odd). */
  private hi: Uint32Array;
  private lo: Uint32Array;
  /** Insertion order, oldest at `head`; as long as the ids held so far need, up to the capacity. */
  private ringHi: Uint32Array;
  private ringLo: Uint32Array;
  private head = 0;
  private count = 0;
  private h1 = 0;
  private h2 = 0;

  constructor(private readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('RecentIdSet capacity must be at least 1');
    const ring = Math.min(capacity, 512);
    this.slots = tableSlots(ring);
    this.hi = new Uint32Array(this.slots);
    this.lo = new Uint32Array(this.slots);
    this.ringHi = new Uint32Array(ring);
    this.ringLo = new Uint32Array(ring);
  }

  /** Double the ring (kept in order, oldest first) and the table (rehashed). */
  private grow(): void {
    const n = Math.min(this.capacity, this.ringHi.length * 2);
    const rh = new Uint32Array(n);
    const rl = new Uint32Array(n);
    const len = this.ringHi.length;
    for (let k = 0; k < this.count; k++) {
      const from = (this.head + k) % len;
      rh[k] = this.ringHi[from]!;
      rl[k] = this.ringLo[from]!;
    }
    this.ringHi = rh;
    this.ringLo = rl;
    this.head = 0;
    this.slots = tableSlots(n);
    this.hi = new Uint32Array(this.slots);
    this.lo = new Uint32Array(this.slots);
    for (let k = 0; k < this.count; k++) this.insert(rh[k]!, rl[k]!);
  }

  private insert(a: number, b: number): void {
    let i = b % this.slots;
    while (this.lo[i] !== 0) i = i + 1 === this.slots ? 0 : i + 1;
    this.hi[i] = a;
    this.lo[i] = b;
  }

  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    this.hash(id);
    return this.find(this.h1, this.h2) >= 0;
  }

  /** Add `id` (no-op when present); the oldest id is forgotten when the set is full. */
  add(id: string): void {
    this.hash(id);
    const a = this.h1;
    const b = this.h2;
    if (this.find(a, b) >= 0) return;
    if (this.count === this.ringHi.length && this.count < this.capacity) this.grow();
    const len = this.ringHi.length;
    if (this.count === this.capacity) {
      const oldest = this.head;
      this.remove(this.ringHi[oldest]!, this.ringLo[oldest]!);
      this.head = (oldest + 1) % len;
      this.count--;
    }
    const at = (this.head + this.count) % len;
    this.ringHi[at] = a;
    this.ringLo[at] = b;
    this.count++;
    this.insert(a, b);
  }

  private hash(id: string): void {
    let a = 0x811c9dc5;
    let b = 0x9e3779b9;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x85ebca6b);
      b = (b << 13) | (b >>> 19);
    }
    b = Math.imul(b ^ (b >>> 16), 0xc2b2ae35);
    this.h1 = a >>> 0;
    this.h2 = (b ^ (b >>> 13) | 1) >>> 0;
  }

  private find(a: number, b: number): number {
    for (let i = b % this.slots; this.lo[i] !== 0; i = i + 1 === this.slots ? 0 : i + 1) {
      if (this.lo[i] === b && this.hi[i] === a) return i;
    }
    return -1;
  }

  /** Backward-shift deletion: later entries of the probe run move up into the hole. */
  private remove(a: number, b: number): void {
    let i = this.find(a, b);
    if (i < 0) return;
    const n = this.slots;
    for (let j = i + 1 === n ? 0 : i + 1; this.lo[j] !== 0; j = j + 1 === n ? 0 : j + 1) {
      const home = this.lo[j]! % n;
      // move j into the hole at i unless its home lies cyclically in (i, j]
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (inRange) continue;
      this.hi[i] = this.hi[j]!;
      this.lo[i] = this.lo[j]!;
      i = j;
    }
    this.hi[i] = 0;
    this.lo[i] = 0;
  }
}

/** Slots for `ids` entries at most two thirds full (and at least one free slot). */
const tableSlots = (ids: number): number => Math.max(4, Math.ceil(ids * 1.5) + 1);
