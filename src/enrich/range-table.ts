/**
 * Sorted, non-overlapping inclusive IP ranges in typed arrays, found by binary search with no
 * allocation. IPv4 keys are one Uint32 per bound; IPv6 keys are four big-endian Uint32 words
 * per bound. Every range carries two Uint32 values whose meaning belongs to the loader
 * (ASN + interned org index, country index, cloud provider/region + service index).
 */

export class Ipv4RangeTable {
  constructor(
    readonly starts: Uint32Array,
    readonly ends: Uint32Array,
    readonly a: Uint32Array,
    readonly b: Uint32Array,
  ) {}

  get size(): number {
    return this.starts.length;
  }

  get bytes(): number {
    return this.starts.byteLength + this.ends.byteLength + this.a.byteLength + this.b.byteLength;
  }

  /** Index of the range holding `ip` (unsigned 32-bit), or -1. */
  find(ip: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= ip) {
        at = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return at >= 0 && ip <= this.ends[at]! ? at : -1;
  }
}

/** -1, 0, 1: 128-bit `keys[4k..4k+3]` compared with `w`. */
function compare128(keys: Uint32Array, k: number, w: Uint32Array): number {
  const o = k * 4;
  for (let i = 0; i < 4; i++) {
    const x = keys[o + i]!;
    const y = w[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export class Ipv6RangeTable {
  constructor(
    readonly starts: Uint32Array,
    readonly ends: Uint32Array,
    readonly a: Uint32Array,
    readonly b: Uint32Array,
  ) {}

  get size(): number {
    return this.a.length;
  }

  get bytes(): number {
    return this.starts.byteLength + this.ends.byteLength + this.a.byteLength + this.b.byteLength;
  }

  /** Index of the range holding the address in `w` (four big-endian words), or -1. */
  find(w: Uint32Array): number {
    let lo = 0;
    let hi = this.a.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compare128(this.starts, mid, w) <= 0) {
        at = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return at >= 0 && compare128(this.ends, at, w) >= 0 ? at : -1;
  }
}

/** Growable column of Uint32 (load time only). */
class U32Column {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  take(order?: Uint32Array, width = 1): Uint32Array {
    const out = new Uint32Array(this.length);
    if (!order) {
      out.set(this.data.subarray(0, this.length));
      return out;
    }
    for (let i = 0; i < order.length; i++) for (let j = 0; j < width; j++) out[i * width + j] = this.data[order[i]! * width + j]!;
    return out;
  }
}

/**
 * Collects ranges in any order; `build()` sorts them by start when the input was not sorted
 * (the ip-location-db files are; files a user brings may not be). Overlaps are the loader's
 * business: ip-location-db ranges are disjoint, cloud ranges are flattened first.
 */
export class Ipv4RangeBuilder {
  private readonly starts = new U32Column();
  private readonly ends = new U32Column();
  private readonly a = new U32Column();
  private readonly b = new U32Column();
  private sorted = true;
  private last = -1;

  add(start: number, end: number, a: number, b = 0): void {
    if (start < this.last) this.sorted = false;
    this.last = start;
    this.starts.push(start);
    this.ends.push(end);
    this.a.push(a);
    this.b.push(b);
  }

  build(): Ipv4RangeTable {
    let order: Uint32Array | undefined;
    if (!this.sorted) {
      const starts = this.starts.data;
      order = Uint32Array.from({ length: this.starts.length }, (_, i) => i).sort((x, y) => starts[x]! - starts[y]!);
    }
    return new Ipv4RangeTable(this.starts.take(order), this.ends.take(order), this.a.take(order), this.b.take(order));
  }
}

export class Ipv6RangeBuilder {
  private readonly starts = new U32Column();
  private readonly ends = new U32Column();
  private readonly a = new U32Column();
  private readonly b = new U32Column();
  private sorted = true;
  private readonly prev = new Uint32Array(4);
  private count = 0;

  add(start: Uint32Array, end: Uint32Array, a: number, b = 0): void {
    if (this.count > 0 && compare128(start, 0, this.prev) < 0) this.sorted = false;
    this.prev.set(start.subarray(0, 4));
    this.count++;
    for (let i = 0; i < 4; i++) {
      this.starts.push(start[i]!);
      this.ends.push(end[i]!);
    }
    this.a.push(a);
    this.b.push(b);
  }

  build(): Ipv6RangeTable {
    let order: Uint32Array | undefined;
    if (!this.sorted) {
      const s = this.starts.data;
      const cmp = (x: number, y: number): number => {
        for (let i = 0; i < 4; i++) {
          const d = s[x * 4 + i]! - s[y * 4 + i]!;
          if (d !== 0) return d;
        }
        return 0;
      };
      order = Uint32Array.from({ length: this.count }, (_, i) => i).sort(cmp);
    }
    return new Ipv6RangeTable(this.starts.take(order, 4), this.ends.take(order, 4), this.a.take(order), this.b.take(order));
  }
}

/** Interns strings to dense indexes (org names, countries, regions, services). */
export class StringInterner {
  readonly values: string[] = [];
  private readonly index = new Map<string, number>();

  intern(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.values.length;
      // a fresh copy: a slice of the whole file's text would keep that text alive
      const own = s.length >= 13 ? Buffer.from(s, 'utf8').toString('utf8') : s;
      this.values.push(own);
      this.index.set(own, i);
    }
    return i;
  }
}
