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

export function isFingerprint(s: string): boolean {
  return /^tw1:[0-9a-f]{32}$/.test(s);
}
