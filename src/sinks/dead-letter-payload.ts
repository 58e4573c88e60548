/**
 * What a dead letter keeps of the record that failed (`dead_letter.payload`), the same for the
 * NDJSON file and the Kafka topic:
 *   mask      the record as text with secrets and credential identifiers replaced by "[masked]",
 *             cut to 64 KiB (default)
 *   truncate  the same, cut to 1 KiB: enough to see the record's shape
 *   drop      no payload at all: only the reason and the origin
 * Masked: the values of the fields named in MASKED_FIELDS (STS secrets and session tokens, key
 * ids, Vault accessors and client tokens, Okta/Keycloak session ids, GitHub token ids, OAuth
 * tokens, passwords, Authorization headers), the `id` of any object whose `type` is a token
 * (Okta System Log targets), and anything shaped like a JWT or a `Bearer …` credential. A value
 * that is not UTF-8 text (compressed bytes, invalid UTF-8) cannot be masked and is dropped in
 * every mode (see deadLetterPayloadOfBytes). Masking costs a JSON parse, but only on the failure path.
 */

import { isUtf8 } from 'node:buffer';
import { recordText } from '../envelopes/index.js';
import { detectCompression } from '../pipeline/decompress.js';

export type DeadLetterPayloadMode = 'mask' | 'truncate' | 'drop';

/** What happened to the payload: `masked` (maybe cut), `dropped` (mode drop), `dropped_binary` (not UTF-8 text). */
export type PayloadDisposition = 'masked' | 'dropped' | 'dropped_binary';

export const MAX_MASKED_PAYLOAD = 64 * 1024;
export const MAX_TRUNCATED_PAYLOAD = 1024;

export const MASKED = '[masked]';

/** Field names whose values are secrets or credential identifiers, compared lower-case. */
const MASKED_FIELDS = new Set(
  [
    // secrets
    'sessionToken', 'secretAccessKey', 'client_secret', 'clientSecret', 'password', 'privateKeyData', 'privateKey', 'private_key',
    'client_token', 'access_token', 'refresh_token', 'id_token', 'token', 'authorization', 'cookie', 'set-cookie', 'x-api-key', 'apiKey', 'api_key',
    // credential identifiers: fingerprinted by the normalizers, never stored raw
    'accessKeyId', 'accessor', 'externalSessionId', 'sessionId', 'session_id', 'token_id', 'hashed_token', 'uniqueTokenIdentifier', 'signInId',
  ].map((f) => f.toLowerCase()),
);

const FIELD_RE = /("([A-Za-z0-9_-]+)"\s*:\s*)"(?:[^"\\]|\\.)*"/g;
const JWT_RE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const BEARER_RE = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi;

function maskString(s: string): string {
  return s.replace(JWT_RE, MASKED).replace(BEARER_RE, `$1 ${MASKED}`);
}

function maskValue(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return maskString(v);
  if (v === null || typeof v !== 'object' || depth > 64) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = maskValue(v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  const isToken = typeof o.type === 'string' && /token/i.test(o.type);
  for (const k of Object.keys(o)) {
    const lk = k.toLowerCase();
    if (MASKED_FIELDS.has(lk) || (isToken && lk === 'id')) {
      if (o[k] !== null && o[k] !== undefined) o[k] = MASKED;
    } else {
      o[k] = maskValue(o[k], depth + 1);
    }
  }
  return o;
}

/**
 * The text with secret and credential-id values masked. JSON is walked (key names, token
 * objects); text that is not JSON (truncated, garbage) is masked field by field with a pattern.
 */
export function maskSecrets(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return maskString(text.replace(FIELD_RE, (m: string, prefix: string, name: string) => (MASKED_FIELDS.has(name.toLowerCase()) ? `${prefix}"${MASKED}"` : m)));
  }
  if (parsed === null || typeof parsed !== 'object') return maskString(text);
  return JSON.stringify(maskValue(parsed, 0));
}

export interface DeadLetterPayload {
  /** The kept text (empty when dropped). */
  text: string;
  disposition: PayloadDisposition;
  /** The kept text was cut (mask: 64 KiB, truncate: 1 KiB). */
  truncated: boolean;
}

/** Apply the payload mode to a record's text. Masking runs before cutting, so no cut leaves half a secret. */
export function deadLetterPayload(text: string, mode: DeadLetterPayloadMode): DeadLetterPayload {
  if (mode === 'drop') return { text: '', disposition: 'dropped', truncated: false };
  const max = mode === 'truncate' ? MAX_TRUNCATED_PAYLOAD : MAX_MASKED_PAYLOAD;
  // a huge record is cut (generously) before the JSON walk; the pattern path masks what is left
  const masked = maskSecrets(text.length > 4 * MAX_MASKED_PAYLOAD ? text.slice(0, 4 * MAX_MASKED_PAYLOAD) : text);
  const truncated = masked.length > max || text.length > 4 * MAX_MASKED_PAYLOAD;
  return { text: truncated ? masked.slice(0, max) : masked, disposition: 'masked', truncated };
}

/**
 * The same for a Kafka value. Compressed values (gzip/zstd, raw or base64) are stored
 * decompressed, then masked: masking the compressed bytes would hide nothing. Bytes that are not
 * UTF-8 text, or do not decompress within `maxDecompressedBytes`, are dropped, never decoded lossily.
 */
export function deadLetterPayloadOfBytes(value: Buffer | null, mode: DeadLetterPayloadMode, maxDecompressedBytes: number): DeadLetterPayload {
  if (value === null || mode === 'drop') return { text: '', disposition: 'dropped', truncated: false };
  const compressed = detectCompression(value) !== undefined;
  if (!compressed && !isUtf8(value)) return { text: '', disposition: 'dropped_binary', truncated: false };
  let text: string;
  try {
    text = recordText(value, { maxEventBytes: Number.MAX_SAFE_INTEGER, maxDepth: 64, maxDecompressedBytes });
  } catch {
    return { text: '', disposition: 'dropped_binary', truncated: false };
  }
  return deadLetterPayload(text, mode);
}
