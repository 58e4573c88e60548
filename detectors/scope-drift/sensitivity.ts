/**
 * Scope sensitivity: what a scope can reach (personal data, secrets, administration, bulk
 * export, changes), as opposed to privilege (read < write < admin, privilege.ts). A read scope
 * can be the most sensitive grant a client has: `customers.pii.read` is read-only and exactly
 * what a thief wants. Pure and pattern-based, configurable per estate.
 *
 * Pattern syntax (case-insensitive):
 * - a word (letters, digits, `_`) matches a whole word of the scope, or its plural with `s`;
 *   scopes are split into words at punctuation and camelCase, and `_` in a pattern joins
 *   consecutive words (`full_access` matches `FullAccess`, `full-access`, `s3:full_access`);
 * - anything else is a glob over the whole scope, `*` matching any run of characters
 *   (`directory.*write*` matches `Directory.ReadWrite.All`);
 * - `*` alone matches wildcard scopes (`iam:*`, `*`): as a glob it would match every scope.
 */
import { memoize } from '../memo.js';
import { scopeWords } from './privilege.js';

export interface SensitivePattern {
  pattern: string;
  /** Sensitivity class reported in alerts: pii, secrets, admin, export, write, or an estate's own. */
  class: string;
  /** 0..1: how much a new scope matching this pattern matters; 0 turns the pattern off. */
  weight: number;
}

export interface ScopeSensitivity {
  class: string;
  weight: number;
  /** The pattern that matched (the heaviest, first listed on ties). */
  pattern: string;
}

const group = (cls: string, entries: [string, number][]): SensitivePattern[] =>
  entries.map(([pattern, weight]) => ({ pattern, class: cls, weight }));

/** The built-in patterns; config entries with the same pattern replace them. */
export const DEFAULT_SENSITIVE_PATTERNS: readonly SensitivePattern[] = [
  ...group('pii', [
    ['pii', 0.8], ['personal', 0.7], ['customer', 0.6], ['ssn', 0.9], ['email', 0.5], ['phone', 0.5], ['address', 0.5],
    ['health', 0.8], ['phi', 0.9], ['payment', 0.8], ['card', 0.8], ['billing', 0.7],
  ]),
  ...group('secrets', [
    ['secret', 0.9], ['key', 0.7], ['credential', 0.9], ['token', 0.7], ['vault', 0.8], ['kms', 0.8], ['password', 0.9],
  ]),
  ...group('admin', [
    ['admin', 1], ['root', 1], ['superuser', 1], ['owner', 0.9], ['manage', 0.9], ['iam', 0.7], ['policy', 0.6],
    ['role', 0.6], ['directory.*write*', 1], ['full_access', 1], ['*', 1],
  ]),
  ...group('export', [['export', 0.7], ['dump', 0.8], ['backup', 0.6], ['bulk', 0.6], ['download', 0.6], ['all', 0.5]]),
  ...group('write', [['write', 0.6], ['delete', 0.7]]),
];

/** Defaults with `overrides` merged over them: same pattern (case-insensitive) replaces, new ones are added. */
export function mergeSensitivePatterns(overrides: readonly SensitivePattern[]): SensitivePattern[] {
  const byPattern = new Map<string, SensitivePattern>();
  for (const p of [...DEFAULT_SENSITIVE_PATTERNS, ...overrides]) byPattern.set(p.pattern.trim().toLowerCase(), { ...p, pattern: p.pattern.trim().toLowerCase() });
  return [...byPattern.values()].filter((p) => p.weight > 0);
}

/** `pii: pii, personal, …; secrets: …` — for the config reference. */
export function describeDefaultPatterns(): string {
  const byClass = new Map<string, string[]>();
  for (const p of DEFAULT_SENSITIVE_PATTERNS) byClass.set(p.class, [...(byClass.get(p.class) ?? []), `\`${p.pattern}\` ${p.weight}`]);
  return [...byClass].map(([c, ps]) => `${c}: ${ps.join(', ')}`).join('; ');
}

type Matcher = (lower: string, joined: string) => boolean;

function compile(pattern: string): Matcher {
  if (pattern === '*') return (lower) => lower.includes('*');
  if (/^[a-z0-9_]+$/.test(pattern)) {
    const word = `_${pattern}_`;
    const plural = `_${pattern}s_`;
    return (_lower, joined) => joined.includes(word) || joined.includes(plural);
  }
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return (lower) => re.test(lower);
}

/**
 * A classifier for `patterns` (already merged): the heaviest matching pattern of a scope, or
 * undefined when none matches. Memoized: an estate repeats a small set of scopes.
 */
export function createSensitivityClassifier(patterns: readonly SensitivePattern[]): (scope: string) => ScopeSensitivity | undefined {
  const compiled = patterns.map((p) => ({ p, match: compile(p.pattern) }));
  return memoize((scope: string): ScopeSensitivity | undefined => {
    const lower = scope.trim().toLowerCase();
    const joined = `_${scopeWords(scope).join('_')}_`;
    let best: SensitivePattern | undefined;
    for (const { p, match } of compiled) {
      if ((best === undefined || p.weight > best.weight) && match(lower, joined)) best = p;
    }
    return best && { class: best.class, weight: best.weight, pattern: best.pattern };
  }, 4096);
}
