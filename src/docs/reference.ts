/**
 * The README's reference sections, generated from the code itself (vendor format registry,
 * detector metadata and zod config schemas, the alert schema), so the docs cannot drift:
 * `npm run docs` rewrites them and test/docs/readme.test.ts fails when they are stale.
 */
import { z } from 'zod';
import { DETECTORS } from '../../detectors/index.js';
import { FORMATS } from '../normalize/index.js';
import { Alert } from '../../schemas/alert.js';
import { TokenEvent } from '../../schemas/token-event.js';
import { KONG_CUSTOM_FIELDS_BY_LUA } from '../normalize/kong.js';
import { ENVOY_RECOMMENDED_JSON_FORMAT } from '../normalize/envoy.js';

type JsonSchema = { type?: string | string[]; description?: string; default?: unknown; properties?: Record<string, JsonSchema>; items?: JsonSchema; enum?: unknown[]; anyOf?: JsonSchema[] };

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const typeOf = (p: JsonSchema): string =>
  p.enum ? p.enum.map((v) => JSON.stringify(v)).join(' \\| ') : p.anyOf ? p.anyOf.map(typeOf).join(' \\| ') : p.type === 'array' ? `${p.items ? typeOf(p.items) : 'any'}[]` : String(p.type ?? 'object');

function fieldsTable(schema: z.ZodType, withDefault: boolean): string[] {
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema & { required?: string[] };
  const rows = withDefault ? ['| field | type | default | meaning |', '|---|---|---|---|'] : ['| field | type | required | meaning |', '|---|---|---|---|'];
  for (const [name, p] of Object.entries(js.properties ?? {})) {
    const third = withDefault ? `\`${cell(JSON.stringify(p.default))}\`` : (js.required ?? []).includes(name) ? 'yes' : '';
    rows.push(`| \`${name}\` | ${typeOf(p)} | ${third} | ${cell(p.description ?? '')} |`);
  }
  return rows;
}

export function formatsReference(): string {
  const rows = ['| format id | platform | what it reads |', '|---|---|---|'];
  for (const f of FORMATS) rows.push(`| \`${f.id}\` | ${f.platform} | ${cell(f.description)} |`);
  return rows.join('\n');
}

export function detectorsReference(): string {
  const out: string[] = [];
  for (const d of DETECTORS) {
    const m = d.meta;
    out.push(`### \`${m.id}\` (v${m.version}, keyed by ${m.key_by})`, '', m.description, '');
    out.push(`ATT&CK: ${m.mitre_attack.join(', ')} · OWASP NHI Top 10: ${m.owasp_nhi.join(', ')}`, '');
    out.push('| kind | severity | title |', '|---|---|---|');
    for (const [k, km] of Object.entries(m.kinds)) out.push(`| \`${k}\` | ${km.severity} | ${cell(km.title)}${km.mitre_attack ? ` (${km.mitre_attack.join(', ')})` : ''} |`);
    out.push('', `Config (\`detectors.${m.id}\`):`, '', ...fieldsTable(d.config, true), '');
    out.push('Runbook:', '', ...m.runbook.split('\n').map((l) => (l.trim() ? `> ${l}` : '>')), '');
  }
  return out.join('\n').trimEnd();
}

export function alertReference(): string {
  return fieldsTable(Alert, false).join('\n');
}

export function tokenEventReference(): string {
  return fieldsTable(TokenEvent, false).join('\n');
}

export const SECTIONS: Record<string, () => string> = {
  formats: formatsReference,
  detectors: detectorsReference,
  alert: alertReference,
  'token-event': tokenEventReference,
  'kong-config': () => ['```yaml', KONG_CUSTOM_FIELDS_BY_LUA.trimEnd(), '```'].join('\n'),
  'envoy-config': () => ['```json', JSON.stringify(ENVOY_RECOMMENDED_JSON_FORMAT, null, 2), '```'].join('\n'),
};

/** Replace every `<!-- generated:NAME -->…<!-- /generated:NAME -->` block with fresh output. */
export function renderReadme(readme: string): string {
  let out = readme;
  for (const [name, gen] of Object.entries(SECTIONS)) {
    const re = new RegExp(`(<!-- generated:${name} -->)[\\s\\S]*?(<!-- /generated:${name} -->)`);
    if (!re.test(out)) throw new Error(`README.md lacks the generated:${name} markers`);
    out = out.replace(re, (_m, a: string, b: string) => `${a}\n${gen()}\n${b}`);
  }
  return out;
}
