/**
 * decode → validate → normalize for one raw record. Never throws: every failure becomes a
 * structured TokenwatchError the caller routes to the dead-letter destination.
 */
import { TokenwatchError } from '../core/errors.js';
import { TokenEvent } from '../../schemas/token-event.js';
import { FORMATS, FORMATS_BY_ID } from '../normalize/index.js';
import type { NormalizeContext, VendorFormat } from '../normalize/types.js';
import type { SourceFormat } from '../../schemas/token-event.js';
import type { z } from 'zod';
import { util as zodUtil } from 'zod/v4/core';

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
const mayHoldForbiddenKey = (text: string): boolean =>
  text.includes('\\u') || text.includes('__proto__') || text.includes('constructor') || text.includes('prototype');

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

// ---------------------------------------------------------------- compiled acceptance checks
//
// zod builds a fresh output copy of every object it validates, with a payload and an issues
// array per field; for a large record that is most of the decode cost. An acceptor, compiled once
// from the schema's own definition, answers only "would zod accept this, and would its output be
// the input itself (up to key order)?" without allocating. `true` is a promise; `false` means
// "ask zod", which then decides and words the error as before. Checks (min/max, regex, refine,
// superRefine) run through zod's own check functions, so a verdict never drifts from the schema.
// Anything the compiler does not know (transforms, preprocess, defaults, coercion, ...) makes the
// whole schema unsupported: it is then always validated by zod.

type Acceptor = (v: unknown) => boolean;

interface ZodInternals {
  def: Record<string, any> & { type: string; checks?: readonly { _zod: ZodCheckInternals }[] };
  traits: Set<string>;
  optin?: string;
  optout?: string;
  values?: Set<unknown>;
}
interface ZodCheckInternals {
  def: Record<string, any> & { check: string; when?: (p: CheckPayload) => boolean };
  check(p: CheckPayload): unknown;
}
interface CheckPayload {
  value: unknown;
  issues: unknown[];
}

const internals = (s: unknown): ZodInternals | undefined => (s as { _zod?: ZodInternals } | null)?._zod;

/** One zod check, exactly as zod runs it; `quick` may only say "passes for sure". */
function compileCheck(ch: { _zod: ZodCheckInternals }): Acceptor | undefined {
  const c = ch._zod;
  const d = c.def;
  if (d.check === 'overwrite') return undefined; // rewrites the value: output ≠ input
  const exact: Acceptor = (v) => {
    const p: CheckPayload = { value: v, issues: [] };
    if (d.when && !d.when(p)) return true;
    const r = c.check(p);
    return !(r instanceof Promise) && p.issues.length === 0 && p.value === v;
  };
  let quick: Acceptor | undefined;
  if (d.check === 'max_length' && typeof d.maximum === 'number') quick = (v) => (v as { length: number }).length <= d.maximum;
  else if (d.check === 'string_format' && d.format === 'regex' && d.pattern instanceof RegExp && !d.pattern.global && !d.pattern.sticky) {
    const re: RegExp = d.pattern;
    quick = (v) => re.test(v as string);
  } else if (d.check === 'number_format' && d.format === 'safeint') quick = (v) => Number.isSafeInteger(v);
  else if ((d.check === 'greater_than' || d.check === 'less_than') && typeof d.value === 'number') {
    const bound: number = d.value;
    if (d.check === 'greater_than') quick = d.inclusive ? (v) => (v as number) >= bound : (v) => (v as number) > bound;
    else quick = d.inclusive ? (v) => (v as number) <= bound : (v) => (v as number) < bound;
  }
  return quick ? (v) => quick(v) || exact(v) : exact;
}

/**
 * @param exact also require zod's output to equal the input (a strip object must have no
 *   unknown keys); off for a pure validity check whose output is not used.
 */
function compileAcceptor(schema: unknown, exact: boolean): Acceptor | undefined {
  const zi = internals(schema);
  // string formats (z.email(), z.int(), ...) carry a check of their own outside def.checks
  if (!zi || zi.traits.has('$ZodCheck')) return undefined;
  const checks: Acceptor[] = [];
  for (const ch of zi.def.checks ?? []) {
    const a = compileCheck(ch);
    if (!a) return undefined;
    checks.push(a);
  }
  const base = compileType(zi, exact);
  if (!base) return undefined;
  if (checks.length === 0) return base;
  return (v) => {
    if (!base(v)) return false;
    for (const c of checks) if (!c(v)) return false;
    return true;
  };
}

const PRIMITIVE_TYPES = new Set(['string', 'number', 'boolean', 'enum', 'literal', 'null', 'undefined']);

function compileType(zi: ZodInternals, exact: boolean): Acceptor | undefined {
  const def = zi.def;
  switch (def.type) {
    case 'string':
      return def.coerce ? undefined : (v) => typeof v === 'string';
    case 'number':
      return def.coerce ? undefined : (v) => typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return def.coerce ? undefined : (v) => typeof v === 'boolean';
    case 'null':
      return (v) => v === null;
    case 'undefined':
      return (v) => v === undefined;
    case 'unknown':
    case 'any':
      return () => true;
    case 'enum':
    case 'literal': {
      const values = zi.values;
      return values ? (v) => values.has(v) : undefined;
    }
    case 'optional': {
      if (zi.traits.has('$ZodExactOptional') || internals(def.innerType)?.optin === 'defaulted') return undefined;
      const inner = compileAcceptor(def.innerType, exact);
      return inner && ((v) => v === undefined || inner(v));
    }
    case 'nullable': {
      const inner = compileAcceptor(def.innerType, exact);
      return inner && ((v) => v === null || inner(v));
    }
    case 'array': {
      const element = compileAcceptor(def.element, exact);
      return element && ((v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
        return true;
      });
    }
    case 'union': {
      // Only unions of primitives: whichever option zod picks, its output is the input value.
      if (def.inclusive === false || !Array.isArray(def.options)) return undefined;
      const options: Acceptor[] = [];
      for (const o of def.options) {
        const oi = internals(o);
        const a = oi && PRIMITIVE_TYPES.has(oi.def.type) ? compileAcceptor(o, exact) : undefined;
        if (!a) return undefined;
        options.push(a);
      }
      return (v) => options.some((o) => o(v));
    }
    case 'record':
      return compileRecord(def, exact);
    case 'object':
      return compileObject(def, exact);
    default:
      return undefined; // pipe/transform/preprocess, default, catch, lazy, custom, tuple, ...
  }
}

function compileRecord(def: ZodInternals['def'], exact: boolean): Acceptor | undefined {
  const key = internals(def.keyType);
  // Plain string keys only: every string key passes, a symbol key fails (checked below).
  if (!key || key.def.type !== 'string' || key.def.coerce || key.def.checks?.length || key.traits.has('$ZodCheck') || key.values) return undefined;
  const valueType = internals(def.valueType)?.def.type;
  const value = valueType === 'unknown' || valueType === 'any' ? undefined : compileAcceptor(def.valueType, exact);
  if (!value && valueType !== 'unknown' && valueType !== 'any') return undefined;
  return (v) => {
    if (!zodUtil.isPlainObject(v) || Object.getOwnPropertySymbols(v).length > 0) return false;
    // zod drops an own __proto__ key from its output
    if (exact && Object.hasOwn(v, '__proto__')) return false;
    if (value) {
      const r = v as Record<string, unknown>;
      for (const k of Object.keys(r)) if (k !== '__proto__' && !value(r[k])) return false;
    }
    return true;
  };
}

function compileObject(def: ZodInternals['def'], exact: boolean): Acceptor | undefined {
  const shape = def.shape as Record<string, unknown>;
  if (Object.getOwnPropertySymbols(shape).length > 0) return undefined;
  const keys = Object.keys(shape);
  if (keys.includes('__proto__')) return undefined;
  const fields: { key: string; required: boolean; accept: Acceptor }[] = [];
  for (const key of keys) {
    const fi = internals(shape[key]);
    const accept = compileAcceptor(shape[key], exact);
    if (!fi || !accept) return undefined;
    const required = fi.optin === undefined && fi.optout === undefined;
    if (!required && !(fi.optin === 'optional' && fi.optout === 'optional')) return undefined;
    fields.push({ key, required, accept });
  }
  const keySet = new Set(keys);
  const catchall = def.catchall === undefined ? 'strip' : internals(def.catchall)?.def.type;
  // loose (unknown/any): extra keys are copied as they are; strict (never): an extra key is an error
  if (catchall !== 'strip' && catchall !== 'unknown' && catchall !== 'any' && catchall !== 'never') return undefined;
  const noExtraKeys = catchall === 'never' || (catchall === 'strip' && exact);
  return (v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
    const r = v as Record<string, unknown>;
    for (const f of fields) {
      const x = r[f.key];
      if (x === undefined) {
        // zod skips an absent optional key, and every optional schema here accepts undefined
        if (!f.required) continue;
        if (!(f.key in r)) return false;
      }
      if (!f.accept(x)) return false;
    }
    if (noExtraKeys) {
      for (const k in r) if (!keySet.has(k)) return false;
    } else if (exact && Object.hasOwn(r, '__proto__')) return false;
    return true;
  };
}

/** Compiled once per schema (null: unsupported), one cache per `exact` mode. */
const acceptors = { exact: new WeakMap<object, Acceptor | null>(), valid: new WeakMap<object, Acceptor | null>() };

/** The compiled acceptor of a schema, undefined when it is always left to zod (exported for tests). */
export function acceptorOf(schema: z.ZodType, exact: boolean): Acceptor | undefined {
  const cache = exact ? acceptors.exact : acceptors.valid;
  let a = cache.get(schema);
  if (a === undefined) {
    a = compileAcceptor(schema, exact) ?? null;
    cache.set(schema, a);
  }
  return a ?? undefined;
}

/** Does zod accept `value` with an output equal to it? false = unknown: ask zod. */
function accepts(schema: z.ZodType, value: unknown, exact: boolean): boolean {
  const a = acceptorOf(schema, exact);
  if (!a) return false;
  try {
    return a(value);
  } catch {
    return false; // a refinement that throws: let zod run it and report
  }
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
