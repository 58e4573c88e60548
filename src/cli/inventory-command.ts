/**
 * `tokenwatch inventory`: the token hygiene report (OWASP NHI1/5/7/10 findings and revocation
 * latency per service) from the stored inventory and events — embedded chDB by default, a
 * ClickHouse server with --store-url. Judged as of the newest stored event unless --at says otherwise.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { TokenwatchError } from '../core/errors.js';
import { parseTime } from '../core/time.js';
import { createStoreClientFromConfig } from '../store/clickhouse-client.js';
import { runHygieneReport, type HygieneReport } from '../hygiene/hygiene-report.js';

export async function inventoryCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      'store-url': { type: 'string' },
      config: { type: 'string' },
      at: { type: 'string', default: 'latest' },
      format: { type: 'string', default: 'table' },
    },
  });
  if (values.format !== 'table' && values.format !== 'json') {
    throw new TokenwatchError('config_invalid', `--format: expected table or json, got "${values.format}"`);
  }
  let asOf: number | undefined;
  if (values.at === 'now') asOf = Math.floor(Date.now() / 1000);
  else if (values.at !== 'latest') {
    const ms = parseTime(values.at);
    if (ms === undefined) throw new TokenwatchError('config_invalid', `--at: "${values.at}" is not a time (ISO-8601, "now" or "latest")`);
    asOf = Math.floor(ms / 1000);
  }
  const cfg = await loadConfig(values.config);
  if (values['data-dir']) cfg.store.path = values['data-dir'];
  if (values['store-url']) cfg.store.url = values['store-url'];
  const store = await createStoreClientFromConfig(cfg.store);
  try {
    const report = await runHygieneReport(store.client, cfg.store.database, asOf);
    process.stdout.write(values.format === 'json' ? JSON.stringify(report) + '\n' : formatHygieneReport(report));
  } finally {
    await store.close();
  }
  return 0;
}

/** The report as plain-text tables: findings by kind, the findings, revocation latency per service. */
export function formatHygieneReport(r: HygieneReport): string {
  const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');
  const byKind = new Map<string, number>();
  for (const f of r.findings) byKind.set(f.finding, (byKind.get(f.finding) ?? 0) + 1);
  const out = [`Token hygiene as of ${iso(r.as_of)}: ${r.findings.length} finding(s)`, ''];
  out.push(table(['finding', 'count'], [...byKind].map(([k, n]) => [k, String(n)])), '');
  out.push(
    table(
      ['severity', 'nhi', 'finding', 'token', 'kind', 'issuer', 'service', 'age_days', 'seen_at', 'detail'],
      r.findings.map((f) => [f.severity, f.owasp_nhi, f.finding, f.token_fp, f.token_kind, f.issuer, f.service, String(f.age_days), iso(f.seen_at), f.detail]),
    ),
    '',
    'Revocation honoured (uses after revoke, per service):',
    table(
      ['service', 'tokens', 'accepted', 'rejected', 'max_delay_s', 'median_delay_s'],
      r.revocation_latency.map((l) => [l.service || '(none)', String(l.tokens), String(l.accepted_uses), String(l.rejected_uses), String(l.max_delay_s), String(l.median_delay_s)]),
    ),
  );
  return out.join('\n') + '\n';
}

function table(cols: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const cell = (s: string) => (s.length > 80 ? s.slice(0, 77) + '...' : s);
  const cells = rows.map((r) => r.map(cell));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
