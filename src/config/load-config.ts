import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TokenwatchError } from '../core/errors.js';
import { DETECTORS } from '../../detectors/index.js';
import { TokenwatchConfig } from './config-schema.js';
import { readPolicy } from '../policy/policy-file.js';

/** Turn zod issues into "path: problem — fix" lines. */
function describeIssues(err: z.ZodError, prefix = ''): { path: string; message: string }[] {
  return err.issues.map((i) => {
    const path = prefix + (i.path.map(String).join('.') || '(root)');
    let fix = '';
    if (i.code === 'unrecognized_keys') fix = ` — remove ${i.keys.map((k) => `"${k}"`).join(', ')} or check its spelling`;
    else if (i.code === 'invalid_type') fix = ` — set it to a ${i.expected}`;
    else if (i.code === 'invalid_value' && 'values' in i) fix = ` — use one of: ${(i.values as unknown[]).join(', ')}`;
    return { path, message: i.message + fix };
  });
}

/** Validate a parsed config object, including every detector's own config schema. */
export function parseConfig(raw: unknown): TokenwatchConfig {
  const parsed = TokenwatchConfig.safeParse(raw ?? {});
  if (!parsed.success) {
    const details = describeIssues(parsed.error);
    throw new TokenwatchError('config_invalid', `invalid config:\n${details.map((d) => `  ${d.path}: ${d.message}`).join('\n')}`, details, { cause: parsed.error });
  }
  const known = new Map(DETECTORS.map((d) => [d.meta.id as string, d]));
  for (const [id, cfg] of Object.entries(parsed.data.detectors)) {
    const def = known.get(id);
    if (!def) {
      throw new TokenwatchError('config_invalid', `invalid config:\n  detectors.${id}: unknown detector — use one of: ${[...known.keys()].join(', ')}`);
    }
    const r = def.config.safeParse(cfg);
    if (!r.success) {
      const details = describeIssues(r.error, `detectors.${id}.`);
      throw new TokenwatchError('config_invalid', `invalid config:\n${details.map((d) => `  ${d.path}: ${d.message}`).join('\n')}`, details, { cause: r.error });
    }
  }
  return parsed.data;
}

export async function loadConfig(file?: string): Promise<TokenwatchConfig> {
  if (!file) return parseConfig({});
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `cannot read config file ${file}: ${(cause as Error).message}`, undefined, { cause });
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(cause as Error).message}`, undefined, { cause });
  }
  return parseConfig(await withPolicyFile(raw, file));
}

/**
 * `policy.file` names the issuer policy: read it here (detectors do no I/O) into the
 * policy_violation detector's config, relative to the config file.
 */
async function withPolicyFile(raw: unknown, configFile: string): Promise<unknown> {
  const r = raw as { policy?: { file?: unknown }; detectors?: Record<string, Record<string, unknown> | undefined> } | null;
  const file = r?.policy?.file;
  if (r === null || typeof file !== 'string' || file.length === 0) return raw;
  const detectors = { ...(r.detectors ?? {}) };
  if (detectors.policy_violation?.policy !== undefined) {
    throw new TokenwatchError('config_invalid', 'invalid config:\n  policy.file: detectors.policy_violation.policy is also set — keep one of them');
  }
  const policy = await readPolicy(resolve(dirname(configFile), file));
  detectors.policy_violation = { ...(detectors.policy_violation ?? {}), policy };
  return { ...r, detectors };
}

/** The detector set with validated configs. */
export function detectorSet(cfg: TokenwatchConfig): { definition: (typeof DETECTORS)[number]; config: unknown }[] {
  return DETECTORS.map((definition) => ({ definition, config: definition.config.parse(cfg.detectors[definition.meta.id] ?? {}) }));
}
