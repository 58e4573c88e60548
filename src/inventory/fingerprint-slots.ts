/**
 * Token fingerprint → slot index for the inventory's packed columns, with least-recently-touched
 * order. A `tw1:` fingerprint (32 hex digits: 128 bits) is kept as four 32-bit words in a typed
 * array and found through an open-addressing table (linear probing, backward-shift deletion, no
 * tombstones): 24 bytes a token instead of a 36-character string, a Map entry and a list node
 * object. Any other key (not produced by src/core/fingerprint.ts, but accepted) goes to a Map.
 */

import { fingerprintHash, fingerprintText, packFingerprint } from '../core/fingerprint-words.js';

const EMPTY = -1;

/** The words of the fingerprint being looked up (single-threaded, never re-entered mid-lookup). */
const scratch = new Uint32Array(4);

export class FingerprintSlots {
  /** 4 words per slot. */
  private words: Uint32Array;
  /** Open-addressing table of slot indices (EMPTY when free); its length is a power of two. */
  private table: Int32Array;
  /** LRU list through slots: toward the least (older) and the most (newer) recently touched. */
  private older: Int32Array;
  private newer: Int32Array;
  private head = EMPTY;
  private tail = EMPTY;
  /** Keys that are not `tw1:` fingerprints, and the slots holding them. */
  private readonly otherBySlot = new Map<number, string>();
  private readonly otherByKey = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private used = 0;
  private live = 0;

  constructor(
    /** Most slots ever allocated (the inventory's maxTokens). */
    readonly maxSlots: number,
    initialSlots = 1024,
  ) {
    const n = Math.max(1, Math.min(initialSlots, maxSlots));
    this.words = new Uint32Array(n * 4);
    this.older = new Int32Array(n);
    this.newer = new Int32Array(n);
    this.table = new Int32Array(tableSizeFor(n)).fill(EMPTY);
  }

  get size(): number {
    return this.live;
  }

  /** Slots allocated so far (columns sized to this). */
  get capacity(): number {
    return this.older.length;
  }

  find(fp: string): number {
    if (!packFingerprint(fp, scratch)) return this.otherByKey.get(fp) ?? EMPTY;
    const w0 = scratch[0]!;
    const w1 = scratch[1]!;
    const w2 = scratch[2]!;
    const w3 = scratch[3]!;
    const mask = this.table.length - 1;
    for (let i = fingerprintHash(w0, w1, w2, w3) & mask; ; i = (i + 1) & mask) {
      const s = this.table[i]!;
      if (s === EMPTY) return EMPTY;
      const o = s * 4;
      if (this.words[o] === w0 && this.words[o + 1] === w1 && this.words[o + 2] === w2 && this.words[o + 3] === w3) return s;
    }
  }

  /** The least recently touched slot, or EMPTY. */
  oldest(): number {
    return this.head;
  }

  /** A free slot for `fp` (not present), at the most recently touched end. The caller evicts first when full. */
  insert(fp: string): number {
    const slot = this.freeSlots.pop() ?? this.used++;
    if (slot >= this.capacity) this.grow();
    this.live++;
    if (packFingerprint(fp, scratch)) {
      this.words.set(scratch, slot * 4);
      if (this.live * 2 > this.table.length) this.rehash(this.table.length * 2);
      this.place(slot);
    } else {
      this.otherByKey.set(fp, slot);
      this.otherBySlot.set(slot, fp);
    }
    this.append(slot);
    return slot;
  }

  /** Mark `slot` most recently touched. */
  touch(slot: number): void {
    if (slot === this.tail) return;
    this.unlink(slot);
    this.append(slot);
  }

  remove(slot: number): void {
    this.unlink(slot);
    this.live--;
    this.freeSlots.push(slot);
    const other = this.otherBySlot.get(slot);
    if (other !== undefined) {
      this.otherBySlot.delete(slot);
      this.otherByKey.delete(other);
      return;
    }
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

  fingerprint(slot: number): string {
    const other = this.otherBySlot.get(slot);
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
    for (const s of old) if (s !== EMPTY) this.place(s);
  }

  /** Grow the slot columns (×1.5, never beyond maxSlots: a full inventory holds no slack). */
  private grow(): void {
    const n = Math.min(this.maxSlots, Math.max(this.capacity + 1, Math.ceil(this.capacity * 1.5)));
    const words = new Uint32Array(n * 4);
    words.set(this.words);
    this.words = words;
    this.older = growInt32(this.older, n);
    this.newer = growInt32(this.newer, n);
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
}

function tableSizeFor(slots: number): number {
  let n = 16;
  while (n < slots * 2) n *= 2;
  return n;
}

export function growInt32(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}
