/**
 * Compiled acceptance checks for zod schemas, the fast path of decode/validate.
 *
 * zod builds a fresh output copy of every object it validates, with a payload and an issues
 * array per field; for a large record that is most of the decode cost. An acceptor, compiled once
 * from the schema's own definition, answers only "would zod accept this, and would its output be
 * the input itself (up to key order)?" without allocating. `true` is a promise; `false` means
 * "ask zod", which then decides and words the error as before. Checks (min/max, regex, refine,
 * superRefine) run through zod's own check functions, so a verdict never drifts from the schema.
 * Anything the compiler does not know (transforms, preprocess, defaults, coercion, ...) makes the
 * whole schema unsupported: it is then always validated by zod.
 * test/pipeline/schema-acceptor.test.ts checks acceptors against zod on mutated records.
 */
import type { z } from 'zod';
import { util as zodUtil } from 'zod/v4/core';

export type Acceptor = (v: unknown) => boolean;

interface ZodInternals {
  def: Record<string, any> & { type: string; checks?: readonly { _zod: ZodCheckInternals }[] };
  traits: Set<string>;
  optin?: string;
  optout?: string;
  values?: Set<unknown>;
}
interface ZodCheckInternals {
  def: Record<string, any> & { check: string; when?: (p: CheckPayload) => boolean };
  traits?: Set<string>;
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
  // zod counts code points; a code point is at most two UTF-16 units
  else if (d.check === 'min_length' && typeof d.minimum === 'number') quick = (v) => (v as { length: number }).length >= 2 * d.minimum;
  else if (d.check === 'string_format' && d.format === 'regex' && d.pattern instanceof RegExp && !d.pattern.global && !d.pattern.sticky) {
    const re: RegExp = d.pattern;
    quick = (v) => re.test(v as string);
  } else if (d.check === 'number_format' && d.format === 'safeint') quick = (v) => Number.isSafeInteger(v);
  else if (d.check === 'custom' && d.type === 'custom' && typeof d.fn === 'function' && c.traits?.has('$ZodCustom')) {
    // .refine(fn): zod passes when fn returns a truthy non-Promise
    const fn = d.fn as (v: unknown) => unknown;
    quick = (v) => {
      const r = fn(v);
      return Boolean(r) && !(r instanceof Promise);
    };
  } else if ((d.check === 'greater_than' || d.check === 'less_than') && typeof d.value === 'number') {
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

interface Field {
  key: string;
  schema: unknown;
  required: boolean;
  accept: Acceptor;
}

function compileObject(def: ZodInternals['def'], exact: boolean): Acceptor | undefined {
  const shape = def.shape as Record<string, unknown>;
  if (Object.getOwnPropertySymbols(shape).length > 0) return undefined;
  const keys = Object.keys(shape);
  if (keys.includes('__proto__')) return undefined;
  const fields: Field[] = [];
  for (const key of keys) {
    const fi = internals(shape[key]);
    const accept = compileAcceptor(shape[key], exact);
    if (!fi || !accept) return undefined;
    const required = fi.optin === undefined && fi.optout === undefined;
    if (!required && !(fi.optin === 'optional' && fi.optout === 'optional')) return undefined;
    fields.push({ key, schema: shape[key], required, accept });
  }
  const keySet = new Set(keys);
  const catchall = def.catchall === undefined ? 'strip' : internals(def.catchall)?.def.type;
  // loose (unknown/any): extra keys are copied as they are; strict (never): an extra key is an error
  if (catchall !== 'strip' && catchall !== 'unknown' && catchall !== 'any' && catchall !== 'never') return undefined;
  const noExtraKeys = catchall === 'never' || (catchall === 'strip' && exact);
  return (
    generateObjectAcceptor(fields, keySet, noExtraKeys, exact) ??
    ((v) => {
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
    })
  );
}

/**
 * The object acceptor above as generated code: constant property names give each read its own
 * inline cache, and simple fields (strings with a max length, enums, numbers) are tested inline.
 * An inline test only ever says "passes"; anything else goes to the field's acceptor. Undefined
 * when code generation is not allowed (--disallow-code-generation-from-strings).
 */
function generateObjectAcceptor(fields: readonly Field[], keySet: ReadonlySet<string>, noExtraKeys: boolean, exact: boolean): Acceptor | undefined {
  const params: unknown[] = [];
  const lines = ['if (v === null || typeof v !== "object" || Array.isArray(v)) return false;', 'let x;'];
  fields.forEach((f, i) => {
    const k = JSON.stringify(f.key);
    const quick = quickTest(f.schema, params);
    const test = quick ? `${quick} || A[${i}](x)` : `A[${i}](x)`;
    lines.push(`x = v[${k}];`);
    lines.push(f.required ? `if ((x === undefined && !(${k} in v)) || !(${test})) return false;` : `if (x !== undefined && !(${test})) return false;`);
  });
  if (noExtraKeys) lines.push('for (const k in v) if (!K.has(k)) return false;');
  else if (exact) lines.push('if (Object.hasOwn(v, "__proto__")) return false;');
  lines.push('return true;');
  try {
    const make = new Function('A', 'P', 'K', `"use strict";\nreturn function accept(v) {\n${lines.join('\n')}\n};`) as (a: readonly Acceptor[], p: readonly unknown[], k: ReadonlySet<string>) => Acceptor;
    return make(fields.map((f) => f.accept), params, keySet);
  } catch {
    return undefined;
  }
}

/**
 * A JS expression over `x` that is true only when the schema surely accepts x (the same quick
 * forms as compileCheck), or undefined when there is none. Values it needs go into `params` (P).
 */
function quickTest(schema: unknown, params: unknown[]): string | undefined {
  const zi = internals(schema);
  if (!zi || zi.traits.has('$ZodCheck') || zi.def.coerce) return undefined;
  const def = zi.def;
  const param = (value: unknown): string => `P[${params.push(value) - 1}]`;
  const conds: string[] = [];
  switch (def.type) {
    case 'optional':
    case 'nullable': {
      if (def.checks?.length) return undefined;
      const inner = quickTest(def.innerType, params);
      return inner && `(x === ${def.type === 'optional' ? 'undefined' : 'null'} || ${inner})`;
    }
    case 'unknown':
    case 'any':
      return def.checks?.length ? undefined : 'true';
    case 'string':
      conds.push('typeof x === "string"');
      break;
    case 'number':
      conds.push('typeof x === "number" && Number.isFinite(x)');
      break;
    case 'boolean':
      conds.push('typeof x === "boolean"');
      break;
    case 'enum':
    case 'literal':
      if (!zi.values) return undefined;
      conds.push(`${param(zi.values)}.has(x)`);
      break;
    default:
      return undefined;
  }
  for (const ch of def.checks ?? []) {
    const d = ch._zod.def;
    if (d.check === 'max_length' && typeof d.maximum === 'number') conds.push(`x.length <= ${param(d.maximum)}`);
    // zod counts code points; a code point is at most two UTF-16 units
    else if (d.check === 'min_length' && typeof d.minimum === 'number') conds.push(`x.length >= ${param(2 * d.minimum)}`);
    else if (d.check === 'string_format' && d.format === 'regex' && d.pattern instanceof RegExp && !d.pattern.global && !d.pattern.sticky) conds.push(`${param(d.pattern)}.test(x)`);
    else if (d.check === 'number_format' && d.format === 'safeint') conds.push('Number.isSafeInteger(x)');
    else if ((d.check === 'greater_than' || d.check === 'less_than') && typeof d.value === 'number') {
      conds.push(`x ${d.check === 'greater_than' ? '>' : '<'}${d.inclusive ? '=' : ''} ${param(d.value)}`);
    } else return undefined;
  }
  return `(${conds.join(' && ')})`;
}

/** Compiled once per schema (null: unsupported), one cache per `exact` mode. */
const acceptors = { exact: new WeakMap<object, Acceptor | null>(), valid: new WeakMap<object, Acceptor | null>() };

/** The compiled acceptor of a schema, undefined when it is always left to zod. */
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
export function accepts(schema: z.ZodType, value: unknown, exact: boolean): boolean {
  const a = acceptorOf(schema, exact);
  if (!a) return false;
  try {
    return a(value);
  } catch {
    return false; // a refinement that throws: let zod run it and report
  }
}

