/**
 * Builders for detector test cases as data. Fingerprints use a fixed test key so cases are
 * stable; they never contain a real token.
 */
import { createFingerprinter } from '../src/core/fingerprint.js';
import type { TokenEvent } from '../schemas/token-event.js';

const testFp = createFingerprinter({ key: 'tokenwatch-test-cases-key-000000' });

/** A stable fingerprint for a named test token. */
export const fp = (name: string): string => testFp('case', name);

export const T0 = Date.UTC(2026, 0, 5, 0, 0, 0); // a Monday, 00:00 UTC
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

let seq = 0;
/** A token event with sensible defaults; `token` may be a name (fingerprinted) or a full object. */
export function ev(
  partial: Omit<Partial<TokenEvent>, 'token'> & { time: number; token: string | TokenEvent['token'] },
): TokenEvent {
  const { token, ...rest } = partial;
  const tok = typeof token === 'string' ? { fp: fp(token), kind: 'oauth_access' as const } : token;
  return {
    event_id: rest.event_id ?? `case:${++seq}`,
    source: 'okta',
    platform: 'okta',
    action: 'use',
    ...rest,
    token: tok,
  };
}
