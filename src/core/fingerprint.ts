/**
 * Token identity without secrets: every token value or key id that could be replayed is
 * replaced at the edge by a keyed HMAC-SHA256 fingerprint. The key comes from config or
 * TOKENWATCH_HMAC_KEY; the built-in development key triggers a warning, because anyone who
 * knows it can confirm a guessed token against stored fingerprints.
 */
import { createHmac } from 'node:crypto';

export const DEV_HMAC_KEY = 'tokenwatch-development-key-do-not-use-in-production';
const PREFIX = 'tw1:';

export type Fingerprinter = (namespace: string, secret: string) => string;

export interface FingerprinterOptions {
  key?: string;
  /** Called once when the development key is in use. */
  onDevKey?: () => void;
}

/**
 * `namespace` separates identical strings of different meaning (an AWS key id vs an
 * Okta token id) so they never collide into one token.
 */
export function createFingerprinter(opts: FingerprinterOptions = {}): Fingerprinter {
  const key = opts.key ?? process.env.TOKENWATCH_HMAC_KEY ?? DEV_HMAC_KEY;
  if (key === DEV_HMAC_KEY) opts.onDevKey?.();
  if (key.length < 16) throw new Error('HMAC key must be at least 16 characters');
  return (namespace, secret) =>
    PREFIX + createHmac('sha256', key).update(namespace).update('\0').update(secret).digest('hex').slice(0, 32);
}

/** Per fingerprinter and namespace: identifier → fingerprint. */
const memos = new WeakMap<Fingerprinter, Map<string, Map<string, string>>>();
const MAX_MEMO_ENTRIES = 20_000;
/** Longer inputs are fingerprinted without the memo, so hostile input cannot make it large. */
const MAX_MEMO_KEY_LENGTH = 256;

/**
 * fingerprint(namespace, id) for identifiers that repeat from event to event (a JWT's jti, an
 * AWS access key id): a bounded memo turns most calls into a Map lookup; when full it starts
 * over. The memo holds its inputs in memory, so use it only for token *identifiers*, never for
 * raw bearer tokens or other secret values.
 */
export function fingerprintIdentifier(fingerprint: Fingerprinter, namespace: string, id: string): string {
  if (id.length > MAX_MEMO_KEY_LENGTH) return fingerprint(namespace, id);
  let byNamespace = memos.get(fingerprint);
  if (!byNamespace) memos.set(fingerprint, (byNamespace = new Map()));
  let memo = byNamespace.get(namespace);
  if (!memo) byNamespace.set(namespace, (memo = new Map()));
  let fp = memo.get(id);
  if (fp === undefined) {
    fp = fingerprint(namespace, id);
    if (memo.size >= MAX_MEMO_ENTRIES) memo.clear();
    memo.set(id, fp);
  }
  return fp;
}

export function isFingerprint(s: string): boolean {
  return /^tw1:[0-9a-f]{32}$/.test(s);
}
