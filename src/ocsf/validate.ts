/**
 * A validator for OCSF Detection Findings built from the OCSF schema files themselves
 * (`compiled/detection_finding-1.8.0.json` for the class and every object it reaches,
 * `dictionary.json` for the scalar types), not from a hand-written copy of them.
 *
 * Checked, recursively through every object and array element: required attributes, unknown
 * attributes, types (string/integer/long/float/boolean/json/object and the string subtypes'
 * regex, max_len and range), enum values (`*_id` and string enums such as http_method),
 * enum captions in their sibling attributes (severity_id 5 → severity "Critical"),
 * object constraints (at_least_one / just_one) and profile gating (an attribute from a profile
 * may appear only when `metadata.profiles` lists it; it is then held to its requirement).
 *
 * The schema directory is a parameter: the files are OCSF's (Apache-2.0) and live outside the
 * package (../shared/ocsf in this repository's CI).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenwatchError } from '../core/errors.js';

export const OCSF_VERSION = '1.8.0';
const COMPILED = `compiled/detection_finding-${OCSF_VERSION}.json`;

interface AttributeDef {
  type: string;
  object_type?: string;
  is_array?: boolean;
  requirement?: 'required' | 'recommended' | 'optional';
  enum?: Record<string, unknown>;
  profiles?: string[] | null;
  /** The string attribute holding this enum's caption (severity_id → severity). */
  sibling?: string;
}
interface ObjectDef {
  name: string;
  attributes: Record<string, AttributeDef>;
  constraints?: { at_least_one?: string[]; just_one?: string[] };
}
interface TypeDef {
  type?: string;
  regex?: string;
  max_len?: number;
  range?: [number, number];
}
/** A scalar type resolved down to its base type, with every constraint met on the way. */
interface ScalarType {
  base: string;
  regexes: RegExp[];
  maxLen?: number;
  range?: [number, number];
}

export interface OcsfSchema {
  version: string;
  classDef: ObjectDef & { uid: number };
  objects: Record<string, ObjectDef>;
  scalars: Map<string, ScalarType>;
}

export interface OcsfIssue {
  /** JSON path of the offending value, e.g. `finding_info.analytic.type_id`. */
  path: string;
  message: string;
}

const INT32 = 2 ** 31;

/** Loads the compiled class and the dictionary types from an OCSF schema directory (e.g. ../shared/ocsf). */
export function loadOcsfSchema(dir: string): OcsfSchema {
  const compiledPath = join(dir, COMPILED);
  const dictionaryPath = join(dir, 'dictionary.json');
  for (const p of [compiledPath, dictionaryPath]) {
    if (!existsSync(p)) throw new TokenwatchError('config_invalid', `OCSF schema file not found: ${p} — point the validator at a copy of the OCSF ${OCSF_VERSION} schema files (this repository's tests read ../shared/ocsf)`);
  }
  const compiled = JSON.parse(readFileSync(compiledPath, 'utf8')) as { version: string; class: ObjectDef & { uid: number }; objects: Record<string, ObjectDef> };
  const dictionary = JSON.parse(readFileSync(dictionaryPath, 'utf8')) as { types: { attributes: Record<string, TypeDef> } };
  if (compiled.version !== OCSF_VERSION) throw new TokenwatchError('config_invalid', `${compiledPath} is OCSF ${compiled.version}, expected ${OCSF_VERSION}`);
  const scalars = new Map<string, ScalarType>();
  for (const name of Object.keys(dictionary.types.attributes)) scalars.set(name, resolveScalar(name, dictionary.types.attributes));
  return { version: compiled.version, classDef: compiled.class, objects: compiled.objects, scalars };
}

function resolveScalar(name: string, types: Record<string, TypeDef>): ScalarType {
  const out: ScalarType = { base: name, regexes: [] };
  const seen = new Set<string>();
  for (let t: string | undefined = name; t !== undefined && !seen.has(t); ) {
    seen.add(t);
    const def: TypeDef | undefined = types[t];
    out.base = t;
    if (!def) break;
    if (def.regex) out.regexes.push(new RegExp(def.regex));
    if (def.max_len !== undefined) out.maxLen = Math.min(out.maxLen ?? Infinity, def.max_len);
    if (def.range) out.range = def.range;
    t = def.type;
  }
  return out;
}

/** Every way `finding` fails the Detection Finding class; [] when it conforms. */
export function validateDetectionFinding(schema: OcsfSchema, finding: unknown): OcsfIssue[] {
  const issues: OcsfIssue[] = [];
  const profiles = activeProfiles(finding);
  checkObject(schema, schema.classDef, finding, '', profiles, issues);
  return issues;
}

function activeProfiles(finding: unknown): Set<string> {
  const p = isRecord(finding) && isRecord(finding.metadata) ? finding.metadata.profiles : undefined;
  return new Set(Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string') : []);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const join2 = (path: string, key: string): string => (path ? `${path}.${key}` : key);

function checkObject(schema: OcsfSchema, def: ObjectDef, value: unknown, path: string, profiles: Set<string>, issues: OcsfIssue[]): void {
  if (!isRecord(value)) {
    issues.push({ path: path || '(root)', message: `must be an object (${def.name}), got ${describe(value)}` });
    return;
  }
  const attrs = def.attributes;
  // `object` (e.g. `unmapped`) declares no attributes: any JSON object is allowed
  if (Object.keys(attrs).length === 0 && def.name === 'object') return;
  for (const [key, v] of Object.entries(value)) {
    const a = attrs[key];
    const p = join2(path, key);
    if (!a) {
      issues.push({ path: p, message: `unknown attribute of ${def.name}` });
      continue;
    }
    const gate = a.profiles ?? [];
    if (gate.length > 0 && !gate.some((g) => profiles.has(g))) {
      issues.push({ path: p, message: `belongs to profile ${gate.join('/')}: list it in metadata.profiles or omit the attribute` });
    }
    checkAttribute(schema, a, v, p, profiles, issues);
  }
  for (const [key, a] of Object.entries(attrs)) {
    if (a.requirement !== 'required' || key in value) continue;
    const gate = a.profiles ?? [];
    if (gate.length > 0 && !gate.some((g) => profiles.has(g))) continue;
    issues.push({ path: join2(path, key), message: `required attribute of ${def.name} is missing` });
  }
  checkSiblings(attrs, value, path, issues);
  const c = def.constraints;
  if (c?.at_least_one && !c.at_least_one.some((k) => value[k] !== undefined)) {
    issues.push({ path: path || '(root)', message: `${def.name} needs at least one of: ${c.at_least_one.join(', ')}` });
  }
  if (c?.just_one && c.just_one.filter((k) => value[k] !== undefined).length !== 1) {
    issues.push({ path: path || '(root)', message: `${def.name} needs exactly one of: ${c.just_one.join(', ')}` });
  }
}

/** An enum id and its caption attribute must agree, except for 99 Other, whose caption is the source's own label. */
function checkSiblings(attrs: Record<string, AttributeDef>, value: Record<string, unknown>, path: string, issues: OcsfIssue[]): void {
  for (const [key, a] of Object.entries(attrs)) {
    if (a.sibling === undefined || a.enum === undefined) continue;
    const id = value[key];
    const caption = value[a.sibling];
    if (typeof caption !== 'string' || (typeof id !== 'number' && typeof id !== 'string') || String(id) === '99') continue;
    const expected = (a.enum[String(id)] as { caption?: string } | undefined)?.caption;
    if (expected !== undefined && caption !== expected) issues.push({ path: join2(path, a.sibling), message: `${JSON.stringify(caption)} disagrees with ${key} ${id} ("${expected}")` });
  }
}

function checkAttribute(schema: OcsfSchema, a: AttributeDef, v: unknown, path: string, profiles: Set<string>, issues: OcsfIssue[]): void {
  if (a.is_array) {
    if (!Array.isArray(v)) {
      issues.push({ path, message: `must be an array, got ${describe(v)}` });
      return;
    }
    v.forEach((item, i) => checkValue(schema, a, item, `${path}[${i}]`, profiles, issues));
    return;
  }
  checkValue(schema, a, v, path, profiles, issues);
}

function checkValue(schema: OcsfSchema, a: AttributeDef, v: unknown, path: string, profiles: Set<string>, issues: OcsfIssue[]): void {
  if (v === null || v === undefined) {
    issues.push({ path, message: 'must not be null: omit an attribute that has no value' });
    return;
  }
  if (a.type === 'object_t') {
    const def = a.object_type !== undefined ? schema.objects[a.object_type] : undefined;
    if (!def) {
      issues.push({ path, message: `object type ${a.object_type ?? '?'} is not in the compiled schema` });
      return;
    }
    checkObject(schema, def, v, path, profiles, issues);
    return;
  }
  const t = schema.scalars.get(a.type);
  if (!t) {
    issues.push({ path, message: `type ${a.type} is not in dictionary.json types` });
    return;
  }
  const typeError = checkScalar(t, v);
  if (typeError) {
    issues.push({ path, message: `${typeError} (${a.type})` });
    return;
  }
  if (a.enum && !Object.prototype.hasOwnProperty.call(a.enum, String(v))) {
    issues.push({ path, message: `${JSON.stringify(v)} is not one of the enum values ${Object.keys(a.enum).join(', ')}` });
  }
}

function checkScalar(t: ScalarType, v: unknown): string | undefined {
  switch (t.base) {
    case 'json_t':
      return undefined;
    case 'boolean_t':
      return typeof v === 'boolean' ? undefined : `must be a boolean, got ${describe(v)}`;
    case 'float_t':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : `must be a number, got ${describe(v)}`;
    case 'integer_t':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < -INT32 || v >= INT32) return `must be a 32-bit integer, got ${describe(v)}`;
      if (t.range && (v < t.range[0] || v > t.range[1])) return `must be in ${t.range[0]}..${t.range[1]}, got ${v}`;
      return undefined;
    case 'long_t':
      return typeof v === 'number' && Number.isSafeInteger(v) ? undefined : `must be an integer (long), got ${describe(v)}`;
    case 'string_t':
      if (typeof v !== 'string') return `must be a string, got ${describe(v)}`;
      if (t.maxLen !== undefined && v.length > t.maxLen) return `longer than ${t.maxLen} characters`;
      for (const re of t.regexes) if (!re.test(v)) return `${JSON.stringify(v.slice(0, 80))} does not match the type's pattern`;
      return undefined;
    default:
      return `unsupported base type ${t.base}`;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? `the integer ${v}` : `the number ${v}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 40))}`;
  return typeof v;
}
