/**
 * One closed union of error codes for the whole pipeline. Every failure that routes a
 * message to the dead-letter destination carries one of these codes plus a readable
 * reason; errors keep their `cause`.
 */
export const ERROR_CODES = [
  'invalid_json', // bytes are not JSON
  'invalid_utf8', // bytes are not valid UTF-8 (rejected at the edge, never decoded with replacement characters)
  'too_large', // raw event exceeds max_event_bytes, or decompresses beyond max_decompressed_bytes
  'decompression_failed', // gzip/zstd data that is corrupt or truncated
  'hostile_input', // __proto__/constructor keys, excessive depth
  'unknown_format', // no vendor format matched
  'schema_violation', // vendor schema rejected the event
  'normalize_failed', // schema accepted but the normalizer could not map it
  'invalid_token_event', // the normalizer produced an event that fails the canonical schema
  'implausible_time', // well-formed event whose time lies outside the plausible window (limits.*event_time*)
  'config_invalid',
  'sink_failed',
  'source_failed',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class TokenwatchError extends Error {
  override readonly name = 'TokenwatchError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Structured detail: e.g. zod issues as `{ path, message }`. Never holds a token. */
    readonly details?: readonly { path: string; message: string }[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: ErrorCode; message: string; details?: readonly { path: string; message: string }[] } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export function isTokenwatchError(e: unknown): e is TokenwatchError {
  return e instanceof TokenwatchError;
}
