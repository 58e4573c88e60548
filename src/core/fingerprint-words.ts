/**
 * A `tw1:` fingerprint (src/core/fingerprint.ts: 32 lower-case hex digits, 128 bits) as four
 * 32-bit words in a typed array, for the packed stores that key by token (src/core/keyed-store.ts,
 * src/inventory/fingerprint-slots.ts): 16 bytes instead of a 36-character string, parsed without
 * slicing, and back to the same text.
 */

export const FINGERPRINT_LENGTH = 36; // 'tw1:' + 32 hex digits

/** Parse `key` into `out[at..at+3]`; false for any other key (lower case only: the text must round-trip). */
export function packFingerprint(key: string, out: Int32Array | Uint32Array, at = 0): boolean {
  if (key.length !== FINGERPRINT_LENGTH || key.charCodeAt(0) !== 116 || key.charCodeAt(1) !== 119 || key.charCodeAt(2) !== 49 || key.charCodeAt(3) !== 58) return false;
  for (let w = 0; w < 4; w++) {
    let v = 0;
    for (let i = 4 + w * 8, end = i + 8; i < end; i++) {
      const c = key.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d < 0) return false;
      v = (v << 4) | d;
    }
    out[at + w] = v;
  }
  return true;
}

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** The fingerprint text of the words at `at`. */
export function fingerprintText(words: Int32Array | Uint32Array, at: number): string {
  return 'tw1:' + hex8(words[at]!) + hex8(words[at + 1]!) + hex8(words[at + 2]!) + hex8(words[at + 3]!);
}

/**
 * Table position of packed words: all four mixed (the first word alone is uniform, but keys that
 * differ only in a later word, as a replicated bench stream's do, must not share a probe run).
 */
export function fingerprintHash(w0: number, w1: number, w2: number, w3: number): number {
  const h = Math.imul(w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f), 0x9e3779b1);
  return h ^ (h >>> 15);
}
