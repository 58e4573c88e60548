/**
 * decode → validate → normalize for one raw record. Never throws: every failure becomes a
 * structured TokenwatchError the caller routes to the dead-letter destination.
 */
import { TokenwatchError } from '../core/errors.js';
import { TokenEvent } from '../../schemas/token-event.js';
import { FORMATS, FORMATS_BY_ID } from '../normalize/index.js';
import { accepts } from './schema-acceptor.js';
import type { NormalizeContext, VendorFormat } from '../normalize/types.js';
import type { SourceFormat } from '../../schemas/token-event.js';
import type { z } from 'zod';

export interface DecodeLimits {
  /** Raw records above this many bytes are rejected (too_large). */
  maxEventBytes: number;
  /** Nesting deeper than this is rejected (hostile_input). */
  maxDepth: number;
}
export const DEFAULT_LIMITS: DecodeLimits = { maxEventBytes: 256 * 1024, maxDepth: 32 };

export type DecodeResult =
  | { ok: true; format: SourceFormat; events: TokenEvent[] }
  | { ok: false; format?: SourceFormat; error: TokenwatchError };

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Reject prototype-polluting keys and pathological nesting before any schema sees the object. */
function checkHostile(v: unknown, depth: number, limits: DecodeLimits, path: string): TokenwatchError | undefined {
  if (depth > limits.maxDepth) return new TokenwatchError('hostile_input', `nesting deeper than ${limits.maxDepth} at ${path || '$'}`);
  if (v === null || typeof v !== 'object') return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const e = checkHostile(v[i], depth + 1, limits, `${path}[${i}]`);
      if (e) return e;
    }
    return undefined;
  }
  for (const k of Object.keys(v)) {
    if (FORBIDDEN_KEYS.has(k)) return new TokenwatchError('hostile_input', `forbidden key "${k}" at ${path || '$'}`);
    const e = checkHostile((v as Record<string, unknown>)[k], depth + 1, limits, path ? `${path}.${k}` : k);
    if (e) return e;
  }
  return undefined;
}

/** Fewer opening brackets than `max` cannot nest deeper than `max` (native indexOf: cheap). */
function fewBrackets(text: string, max: number): boolean {
  let n = 0;
  for (const ch of ['{', '[']) {
    for (let i = text.indexOf(ch); i !== -1; i = text.indexOf(ch, i + 1)) if (++n > max) return false;
  }
  return true;
}

/** Nesting depth of a JSON text, from brackets outside strings; stops counting past `max`. */
function jsonDepthExceeds(text: string, max: number): boolean {
  if (fewBrackets(text, max)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/**
 * Forbidden keys can only be present when their names (or a \u escape that could spell
 * them) occur in the text: the common case skips the object walk entirely.
 */
const MAY_HOLD_FORBIDDEN_KEY = /\\u|__proto__|constructor|prototype/;
const mayHoldForbiddenKey = (text: string): boolean => MAY_HOLD_FORBIDDEN_KEY.test(text); // one pass, not four

export function parseJsonRecord(text: string, limits: DecodeLimits = DEFAULT_LIMITS): { ok: true; value: unknown } | { ok: false; error: TokenwatchError } {
  // UTF-8 needs 1..3 bytes per UTF-16 unit: only measure when the length alone cannot decide
  const tooLarge = text.length > limits.maxEventBytes || (text.length * 3 > limits.maxEventBytes && Buffer.byteLength(text, 'utf8') > limits.maxEventBytes);
  if (tooLarge) {
    return { ok: false, error: new TokenwatchError('too_large', `record is larger than ${limits.maxEventBytes} bytes`) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    return { ok: false, error: new TokenwatchError('invalid_json', `not valid JSON: ${(cause as Error).message.slice(0, 200)}`, undefined, { cause }) };
  }
  if (jsonDepthExceeds(text, limits.maxDepth) || mayHoldForbiddenKey(text)) {
    const hostile = checkHostile(value, 0, limits, '');
    if (hostile) return { ok: false, error: hostile };
  }
  return { ok: true, value };
}

export function detectFormat(raw: Record<string, unknown>): VendorFormat | undefined {
  for (const f of FORMATS) {
    try {
      if (f.detect(raw)) return f;
    } catch {
      // a detect() that throws is a bug in that plugin; treat as no match
    }
  }
  return undefined;
}

function zodDetails(err: z.ZodError): { path: string; message: string }[] {
  return err.issues.slice(0, 10).map((i) => ({ path: i.path.map(String).join('.') || '$', message: i.message }));
}

/** Validate and normalize an already-parsed record. */
export function decodeValue(value: unknown, ctx: NormalizeContext, formatHint?: SourceFormat): DecodeResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: new TokenwatchError('schema_violation', 'record is not a JSON object') };
  }
  const raw = value as Record<string, unknown>;
  const format = formatHint ? FORMATS_BY_ID.get(formatHint) : detectFormat(raw);
  if (!format) {
    return { ok: false, error: new TokenwatchError('unknown_format', `no vendor format matched (keys: ${Object.keys(raw).slice(0, 8).join(', ')})`) };
  }
  let data: unknown = raw;
  if (!accepts(format.schema, raw, true)) {
    const parsed = format.schema.safeParse(raw);
    if (!parsed.success) {
      const details = zodDetails(parsed.error);
      const first = details[0];
      return {
        ok: false,
        format: format.id,
        error: new TokenwatchError('schema_violation', `${format.id}: ${first ? `${first.path}: ${first.message}` : 'invalid'}`, details, { cause: parsed.error }),
      };
    }
    data = parsed.data;
  }
  let events: TokenEvent[];
  try {
    events = format.normalize(data, ctx);
  } catch (cause) {
    const error = cause instanceof TokenwatchError ? cause : new TokenwatchError('normalize_failed', `${format.id}: ${(cause as Error)?.message ?? String(cause)}`, undefined, { cause });
    return { ok: false, format: format.id, error };
  }
  for (const e of events) {
    if (accepts(TokenEvent, e, false)) continue;
    const check = TokenEvent.safeParse(e);
    if (!check.success) {
      const details = zodDetails(check.error);
      return {
        ok: false,
        format: format.id,
        error: new TokenwatchError('invalid_token_event', `${format.id}: normalizer produced an invalid token event (${details[0]?.path}: ${details[0]?.message})`, details),
      };
    }
  }
  return { ok: true, format: format.id, events };
}

export function decodeText(text: string, ctx: NormalizeContext, formatHint?: SourceFormat, limits: DecodeLimits = DEFAULT_LIMITS): DecodeResult {
  const p = parseJsonRecord(text, limits);
  return p.ok ? decodeValue(p.value, ctx, formatHint) : { ok: false, error: p.error };
}
