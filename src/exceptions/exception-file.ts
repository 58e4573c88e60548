/**
 * The exceptions file (YAML, or JSON by extension): read and validated with zod, appended to
 * by `tokenwatch exceptions add`. `exceptionFilterFor(config)` loads `exceptions.file` once
 * per config object, so every engine task of a runner shares one filter (and its counts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { z } from 'zod';
import { ExceptionEntry, ExceptionFile } from '../../schemas/exception.js';
import { TokenwatchError } from '../core/errors.js';
import type { TokenwatchConfig } from '../config/config-schema.js';
import { ExceptionFilter } from './exception-filter.js';

const isJson = (file: string): boolean => file.toLowerCase().endsWith('.json');

function invalid(file: string, err: z.ZodError, what = 'exceptions file'): TokenwatchError {
  const details = err.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
  return new TokenwatchError('config_invalid', `invalid ${what} ${file}:\n${details.map((d) => `  ${d.path}: ${d.message}`).join('\n')}`, details, { cause: err });
}

/** Parse and validate exceptions file text (YAML or JSON). */
export function parseExceptions(text: string, file: string): ExceptionEntry[] {
  let raw: unknown;
  try {
    raw = isJson(file) ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `exceptions file ${file} is not valid ${isJson(file) ? 'JSON' : 'YAML'}: ${(cause as Error).message}`, undefined, { cause });
  }
  const r = ExceptionFile.safeParse(raw);
  if (!r.success) throw invalid(file, r.error);
  return r.data.exceptions;
}

/** Read an exceptions file; a missing file holds no exceptions only when `allowMissing`. */
export function readExceptions(file: string, allowMissing = false): ExceptionEntry[] {
  if (allowMissing && !existsSync(file)) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `cannot read exceptions file ${file}: ${(cause as Error).message}`, undefined, { cause });
  }
  return parseExceptions(text, file);
}

/** Validate `entry` and append it (ids stay unique); creates the file when absent. Returns the stored entry. */
export function appendException(file: string, entry: unknown): ExceptionEntry {
  const existing = readExceptions(file, true);
  const parsed = ExceptionEntry.safeParse(entry);
  if (!parsed.success) throw invalid(file, parsed.error, 'exception, not added to');
  const all = ExceptionFile.safeParse({ exceptions: [...existing, parsed.data] });
  if (!all.success) throw invalid(file, all.error, 'exception, not added to');
  const doc = { exceptions: all.data.exceptions };
  writeFileSync(file, isJson(file) ? JSON.stringify(doc, null, 2) + '\n' : stringifyYaml(doc));
  return parsed.data;
}

const filters = new WeakMap<TokenwatchConfig, ExceptionFilter | undefined>();

/** The filter for `config.exceptions.file` (undefined when none is configured); loaded once per config. */
export function exceptionFilterFor(config: TokenwatchConfig): ExceptionFilter | undefined {
  if (filters.has(config)) return filters.get(config);
  const file = config.exceptions?.file;
  const filter = file === undefined ? undefined : new ExceptionFilter(readExceptions(file));
  filters.set(config, filter);
  return filter;
}
