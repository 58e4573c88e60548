/**
 * Byte-level primitives of the repartition record codec (./token-event-codec.ts): one reusable,
 * growable scratch buffer to write into, one cursor to read from. Module state, not objects:
 * encode and decode are synchronous and never re-entered, and the hot path then allocates only
 * what it returns (the right-sized copy, the decoded strings and objects).
 *
 * Reads are bounds-checked: garbage may throw, never read past the end or loop without
 * consuming input. Every failure is a TokenwatchError('invalid_token_event').
 */
import { TokenwatchError } from '../core/errors.js';

/** Node's direct Buffer codecs (stable since Node 0.x, used by protobufjs and others): no encoding switch per call. */
interface FastBuffer extends Buffer {
  utf8Write(s: string, offset: number, length: number): number;
  utf8Slice(start: number, end: number): string;
  ucs2Write(s: string, offset: number, length: number): number;
  ucs2Slice(start: number, end: number): string;
  hexSlice(start: number, end: number): string;
}

export function codecError(message: string): TokenwatchError {
  return new TokenwatchError('invalid_token_event', `repartition record: ${message}`);
}

// ---------------------------------------------------------------- writing

let scratch = Buffer.allocUnsafe(4096) as FastBuffer;
/** Write position in `scratch` (module state, not exported: an exported `let` is a live binding, slower on the hot path). */
let wpos = 0;
/**
 * Strings are UTF-8, which cannot carry a lone UTF-16 surrogate (JSON's `"\ud800"` can). When a
 * string is not well-formed the record is written again with every string as UTF-16LE
 * (`wide`); `sawIllFormed` says that is needed. Rare: costs nothing for other records.
 */
let wide = false;
let illFormed = false;

export function beginWrite(wideStrings: boolean): void {
  wpos = 0;
  wide = wideStrings;
  illFormed = false;
}

/** A string written since `beginWrite` was not well-formed Unicode: write the record again, wide. */
export function sawIllFormed(): boolean {
  return illFormed;
}

function ensure(n: number): void {
  if (wpos + n <= scratch.length) return;
  let size = scratch.length * 2;
  while (size < wpos + n) size *= 2;
  const grown = Buffer.allocUnsafe(size) as FastBuffer;
  scratch.copy(grown, 0, 0, wpos);
  scratch = grown;
}

/** The bytes written so far, copied into a buffer of their own (the producer keeps it). */
export function finishWrite(): Buffer {
  const out = Buffer.allocUnsafe(wpos); // small sizes come from Node's pool: no allocation of its own
  out.set(scratch.subarray(0, wpos)); // cheaper than Buffer#copy's argument handling for a few hundred bytes
  return out;
}

export function writeByte(b: number): void {
  ensure(1);
  scratch[wpos++] = b;
}

/** Unsigned LEB128 of a non-negative safe integer. */
export function writeVarint(v: number): void {
  ensure(8);
  while (v >= 0x80) {
    scratch[wpos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  scratch[wpos++] = v;
}

/**
 * Any number: a non-negative safe integer (epoch ms) as the varint of v + 1 (6 bytes for a
 * 2026 time); anything else (never produced by a valid event, kept exact anyway) as 0 + float64.
 */
export function writeNumber(v: number): void {
  if (Number.isSafeInteger(v) && v >= 0 && v < Number.MAX_SAFE_INTEGER) {
    writeVarint(v + 1);
    return;
  }
  ensure(9);
  scratch[wpos++] = 0;
  scratch.writeDoubleLE(v, wpos);
  wpos += 8;
}

export function writeFloat64(v: number): void {
  ensure(8);
  scratch.writeDoubleLE(v, wpos);
  wpos += 8;
}

/** Strings shorter than this are written by a JS loop when ASCII: below ~40 characters it beats byteLength + utf8Write. */
const SHORT = 40;

/** Varint byte length, then the bytes: UTF-8, or UTF-16LE for a wide record. */
export function writeString(s: string): void {
  const n = s.length;
  if (wide) {
    writeVarint(n * 2);
    ensure(n * 2);
    wpos += scratch.ucs2Write(s, wpos, n * 2);
    return;
  }
  // short ASCII (enum-like text, IPs, scopes): a JS loop beats two native calls; the 1-byte length is set after
  if (n < SHORT) {
    ensure(n + 1);
    const buf = scratch;
    const start = wpos + 1;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
    }
    if (i === n) {
      buf[wpos] = n;
      wpos = start + n;
      return;
    }
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  // more bytes than UTF-16 units: not ASCII, so it may hold a lone surrogate
  if (bytes !== n && !(s as unknown as { isWellFormed(): boolean }).isWellFormed()) illFormed = true;
  writeVarint(bytes);
  ensure(bytes);
  wpos += scratch.utf8Write(s, wpos, bytes);
}

export function writeStrings(a: readonly string[]): void {
  writeVarint(a.length);
  for (let i = 0; i < a.length; i++) writeString(a[i]!);
}

/** Hex digit values of '0'-'9', 'a'-'f'; -1 for anything else (a fingerprint is lowercase). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = 10 + i;

/** `tw1:<32 hex>` as its 16 raw bytes. */
export function writeFingerprint(fp: string): void {
  if (fp.length !== 36 || !fp.startsWith('tw1:')) throw codecError(`not a fingerprint: ${fp.slice(0, 8)}…`);
  ensure(16);
  for (let i = 4; i < 36; i += 2) {
    const c1 = fp.charCodeAt(i);
    const c2 = fp.charCodeAt(i + 1);
    const hi = c1 < 128 ? HEX[c1]! : -1;
    const lo = c2 < 128 ? HEX[c2]! : -1;
    if (hi < 0 || lo < 0) throw codecError('fingerprint is not lowercase hex');
    scratch[wpos++] = (hi << 4) | lo;
  }
}

// ---------------------------------------------------------------- reading

let rbuf = scratch as FastBuffer;
/** Read position and end in `rbuf`. */
let rpos = 0;
let rend = 0;
/** The record being read carries its strings as UTF-16LE. */
let rwide = false;

/** Read `buf` from `start` to `end` (a record inside a frame: no view object per record). */
export function beginRead(buf: Buffer, start = 0, end = buf.length): void {
  rbuf = buf as FastBuffer;
  rpos = start;
  rend = end;
  rwide = false;
}

export function setReadWide(w: boolean): void {
  rwide = w;
}

export function atEnd(): boolean {
  return rpos === rend;
}

export function readPosition(): number {
  return rpos;
}

function need(n: number): void {
  if (rpos + n > rend) throw codecError(`truncated at byte ${rpos} (needs ${n} more, has ${rend - rpos})`);
}

export function readByte(): number {
  if (rpos >= rend) throw codecError(`truncated at byte ${rpos}`);
  return rbuf[rpos++]!;
}

/** At most 8 bytes (56 bits, past every safe integer): a longer run is garbage, not a loop. */
export function readVarint(): number {
  let b = readByte();
  if (b < 0x80) return b;
  let v = b & 0x7f;
  let mul = 0x80;
  for (let i = 1; i < 8; i++) {
    b = readByte();
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 0x80;
  }
  throw codecError(`varint longer than 8 bytes at byte ${rpos}`);
}

export function readNumber(): number {
  const v = readVarint();
  if (v !== 0) return v - 1;
  return readFloat64();
}

export function readFloat64(): number {
  need(8);
  const v = rbuf.readDoubleLE(rpos);
  rpos += 8;
  return v;
}

export function readString(): string {
  return stringOf(readVarint());
}

// Skipping: the same checks as reading (bounds, UTF-16 lengths), no string made — a record
// checked now and decoded later (peekRecord in token-event-codec.ts) allocates nothing.

export function skipBytes(n: number): void {
  need(n);
  rpos += n;
}

export function skipString(): void {
  const n = readVarint();
  need(n);
  if (rwide && n % 2 !== 0) throw codecError(`odd UTF-16 length at byte ${rpos}`);
  rpos += n;
}

export function skipStrings(): void {
  const n = readVarint();
  if (n > rend - rpos) throw codecError(`truncated: ${n} strings announced, ${rend - rpos} bytes left`);
  for (let i = 0; i < n; i++) skipString();
}

export function skipNumber(): void {
  if (readVarint() === 0) skipBytes(8);
}

/** The next `n` bytes as a string (UTF-8, or UTF-16LE in a wide record). */
function stringOf(n: number): string {
  need(n);
  const start = rpos;
  rpos += n;
  if (rwide) {
    if (n % 2 !== 0) throw codecError(`odd UTF-16 length at byte ${start}`);
    return rbuf.ucs2Slice(start, rpos);
  }
  return rbuf.utf8Slice(start, rpos);
}

/**
 * Strings that repeat across events (issuers, services, scopes, user agents, addresses, ASNs)
 * come back as the string decoded last time: one small cache slot per hash of the bytes, checked
 * byte for byte, so each decode costs a hash and a compare instead of a new string for the GC.
 * ASCII strings of up to INTERN_MAX bytes only (their UTF-16 length equals their byte length, so
 * the compare is one loop); others decode as readString does.
 */
const INTERN_SLOTS = 4096;
const INTERN_MAX = 64;
const interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);

export function readInterned(): string {
  const n = readVarint();
  if (rwide || n > INTERN_MAX) return stringOf(n);
  need(n);
  const start = rpos;
  const end = start + n;
  rpos = end;
  let h = 0x811c9dc5 ^ n;
  for (let i = start; i < end; i++) h = Math.imul(h ^ rbuf[i]!, 0x01000193);
  const slot = (h ^ (h >>> 15)) & (INTERN_SLOTS - 1);
  const cached = interned[slot];
  if (cached !== undefined && cached.length === n) {
    let i = 0;
    while (i < n && cached.charCodeAt(i) === rbuf[start + i]) i++;
    if (i === n) return cached;
  }
  const v = rbuf.utf8Slice(start, end);
  if (v.length === n) interned[slot] = v; // ASCII: one UTF-16 unit per byte
  return v;
}

export function readInternedStrings(): string[] {
  const n = readVarint();
  // every string takes at least its length byte: a count beyond the bytes left is garbage (and no huge allocation)
  if (n > rend - rpos) throw codecError(`truncated: ${n} strings announced, ${rend - rpos} bytes left`);
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = readInterned();
  return out;
}

/**
 * Fingerprints repeat (a token is used many times): each comes back as the string decoded last
 * time for its 16 bytes — one slot per hash, the bytes compared as four words — so a repeat costs
 * no hex conversion, no new 36-character string and no new string hash at the detectors' map
 * lookups. The bytes are an HMAC's: their first words are uniform, a fine slot index.
 */
const FP_SLOTS = 4096;
const fpWords = new Int32Array(FP_SLOTS * 4);
const fpText: (string | undefined)[] = new Array<string | undefined>(FP_SLOTS).fill(undefined);

export function readFingerprint(): string {
  need(16);
  const b = rbuf;
  const p = rpos;
  rpos += 16;
  const w0 = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
  const w1 = b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24);
  const w2 = b[p + 8]! | (b[p + 9]! << 8) | (b[p + 10]! << 16) | (b[p + 11]! << 24);
  const w3 = b[p + 12]! | (b[p + 13]! << 8) | (b[p + 14]! << 16) | (b[p + 15]! << 24);
  const slot = (w0 ^ (w3 >>> 12)) & (FP_SLOTS - 1);
  const at = slot * 4;
  const cached = fpText[slot];
  if (cached !== undefined && fpWords[at] === w0 && fpWords[at + 1] === w1 && fpWords[at + 2] === w2 && fpWords[at + 3] === w3) return cached;
  const s = 'tw1:' + b.hexSlice(p, p + 16);
  fpText[slot] = s;
  fpWords[at] = w0;
  fpWords[at + 1] = w1;
  fpWords[at + 2] = w2;
  fpWords[at + 3] = w3;
  return s;
}

/** An index into an enum's values. */
export function readEnum<T>(values: readonly T[], what: string): T {
  const i = readByte();
  if (i >= values.length) throw codecError(`unknown ${what} index ${i} at byte ${rpos - 1}`);
  return values[i]!;
}
