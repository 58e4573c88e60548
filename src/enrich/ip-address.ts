/**
 * IP text → numbers without allocation: IPv4 as an unsigned 32-bit number, IPv6 as four
 * big-endian 32-bit words written into a caller-owned Uint32Array. Used per event by the
 * enrichment stage (src/enrich/enrich-stage.ts) and at load time by the range loaders.
 */

/** IPv4 address text → unsigned 32-bit number, or -1 when it is not a dotted quad. */
export function parseIpv4(s: string, from = 0, to = s.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // leading zero: ambiguous (octal in some parsers)
      part = part * 10 + (c - 48);
      if (part > 255 || ++digits > 3) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** Scratch for the 16-bit groups of one IPv6 parse (module-level: no allocation per call). */
const groupScratch = new Uint16Array(8);

/**
 * IPv6 address text (RFC 4291 forms: `::` compression, embedded dotted quad, optional `%zone`)
 * → `out[0..3]`, big-endian words. Returns false when the text is not an IPv6 address.
 */
export function parseIpv6(s: string, out: Uint32Array, from = 0, to = s.length): boolean {
  for (let k = from; k < to; k++) {
    if (s.charCodeAt(k) === 37) {
      to = k; // `%zone` suffix
      break;
    }
  }
  if (to - from < 2) return false;
  const g = groupScratch;
  let n = 0; // groups read
  let gapAt = -1; // group index where `::` sits
  let i = from;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gapAt = 0;
    i += 2;
  }
  while (i < to) {
    let value = 0;
    let digits = 0;
    const start = i;
    for (; i < to; i++) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      value = (value << 4) | d;
      if (++digits > 4) return false;
    }
    if (i < to && s.charCodeAt(i) === 46) {
      // embedded IPv4 in the last 32 bits (::ffff:1.2.3.4, 64:ff9b::1.2.3.4)
      const v4 = parseIpv4(s, start, to);
      if (v4 < 0 || n > 6) return false;
      g[n++] = v4 >>> 16;
      g[n++] = v4 & 0xffff;
      i = to;
      break;
    }
    if (digits === 0 || n > 7) return false;
    g[n++] = value;
    if (i === to) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < to && s.charCodeAt(i) === 58) {
      if (gapAt >= 0) return false; // a second `::`
      gapAt = n;
      i++;
    } else if (i === to) {
      return false; // trailing single colon
    }
  }
  if (gapAt < 0 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n; // groups the `::` stands for
  for (let w = 0; w < 4; w++) {
    const hi = groupAt(g, 2 * w, gapAt, zeros);
    const lo = groupAt(g, 2 * w + 1, gapAt, zeros);
    out[w] = ((hi << 16) | lo) >>> 0;
  }
  return true;
}

/** Group k of the expanded address: before the gap as read, inside it 0, after it shifted by `zeros`. */
function groupAt(g: Uint16Array, k: number, gapAt: number, zeros: number): number {
  if (gapAt < 0 || k < gapAt) return g[k]!;
  if (k < gapAt + zeros) return 0;
  return g[k - zeros]!;
}

/** Address scope: `public` is looked up; every other scope is documented and never looked up. */
export const IP_SCOPES = ['public', 'private', 'shared', 'loopback', 'link_local', 'multicast', 'reserved'] as const;
export type IpScope = (typeof IP_SCOPES)[number];

/** RFC 6890 special-purpose IPv4 blocks. `shared` is RFC 6598 carrier-grade NAT space (100.64/10). */
export function scopeOfIpv4(n: number): IpScope {
  const a = n >>> 24;
  const b = (n >>> 16) & 0xff;
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  if (a === 127) return 'loopback';
  if (a === 169 && b === 254) return 'link_local';
  if (a === 100 && b >= 64 && b <= 127) return 'shared';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a === 0 || a >= 240) return 'reserved';
  const c = (n >>> 8) & 0xff;
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return 'reserved'; // IETF protocol assignments, TEST-NET-1
  if (a === 198 && (b === 18 || b === 19)) return 'reserved'; // benchmarking
  if ((a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) return 'reserved'; // TEST-NET-2/3
  return 'public';
}

/** IPv6 scope from the words; IPv4-mapped and NAT64 addresses are classified by the caller as IPv4. */
export function scopeOfIpv6(w: Uint32Array): IpScope {
  const w0 = w[0]!;
  if (w0 === 0 && w[1] === 0 && w[2] === 0 && (w[3] === 0 || w[3] === 1)) return w[3] === 1 ? 'loopback' : 'reserved';
  const top16 = w0 >>> 16;
  if ((top16 & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique local
  if ((top16 & 0xffc0) === 0xfe80) return 'link_local';
  if ((top16 & 0xff00) === 0xff00) return 'multicast';
  if (w0 === 0x20010db8) return 'reserved'; // documentation
  if ((top16 & 0xe000) !== 0x2000) return 'reserved'; // outside global unicast 2000::/3
  return 'public';
}

/** The IPv4 address carried in an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::/96) IPv6 address, or -1. */
export function embeddedIpv4(w: Uint32Array): number {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return w[3]!;
  if (w[0] === 0x0064ff9b && w[1] === 0 && w[2] === 0) return w[3]!;
  return -1;
}

/** `a.b.c.d/len` or `x::/len` → inclusive range, for the loaders (not a hot path). */
export function parseCidr(cidr: string): { v4: true; start: number; end: number } | { v4: false; start: Uint32Array; end: Uint32Array } | undefined {
  const slash = cidr.indexOf('/');
  if (slash < 0) return undefined;
  const len = Number(cidr.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0) return undefined;
  const v4 = parseIpv4(cidr, 0, slash);
  if (v4 >= 0) {
    if (len > 32) return undefined;
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    const start = (v4 & mask) >>> 0;
    return { v4: true, start, end: (start | (~mask >>> 0)) >>> 0 };
  }
  const start = new Uint32Array(4);
  if (!parseIpv6(cidr, start, 0, slash) || len > 128) return undefined;
  const end = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const bits = Math.min(32, Math.max(0, len - i * 32));
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    start[i] = (start[i]! & mask) >>> 0;
    end[i] = (start[i]! | (~mask >>> 0)) >>> 0;
  }
  return { v4: false, start, end };
}
