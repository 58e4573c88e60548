/** The issuer policy file (YAML, or JSON by extension): read and validated with zod, written by `policy suggest`. */
import { readFile, writeFile } from 'node:fs/promises';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { Policy } from '../../schemas/policy.js';
import { TokenwatchError } from '../core/errors.js';

const isJson = (file: string): boolean => file.toLowerCase().endsWith('.json');

export function parsePolicy(text: string, file: string): Policy {
  let raw: unknown;
  try {
    raw = isJson(file) ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `policy file ${file} is not valid ${isJson(file) ? 'JSON' : 'YAML'}: ${(cause as Error).message}`, undefined, { cause });
  }
  const r = Policy.safeParse(raw ?? {});
  if (!r.success) {
    const details = r.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    throw new TokenwatchError('config_invalid', `invalid policy file ${file}:\n${details.map((d) => `  ${d.path}: ${d.message}`).join('\n')}`, details, { cause: r.error });
  }
  return r.data;
}

export async function readPolicy(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `cannot read policy file ${file}: ${(cause as Error).message}`, undefined, { cause });
  }
  return parsePolicy(text, file);
}

export async function writePolicy(file: string, policy: Policy, header?: string): Promise<void> {
  if (isJson(file)) return writeFile(file, JSON.stringify(policy, null, 2) + '\n');
  const comment = header ? header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n') + '\n' : '';
  await writeFile(file, comment + stringifyYaml(policy));
}
