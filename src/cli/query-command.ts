/**
 * `tokenwatch query`: run a shipped dashboard query (or ad-hoc SQL) against the store —
 * the embedded chDB directory by default, a ClickHouse server with --store-url.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { TokenwatchError } from '../core/errors.js';
import { parseTime } from '../core/time.js';
import { createStoreClientFromConfig } from '../store/clickhouse-client.js';
import { listDashboards, runDashboard } from '../store/dashboards.js';

export async function queryCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      'store-url': { type: 'string' },
      config: { type: 'string' },
      dashboard: { type: 'string' },
      sql: { type: 'string' },
      at: { type: 'string', default: 'latest' },
      list: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (values.list || (!values.dashboard && !values.sql)) {
    for (const d of listDashboards()) process.stdout.write(`${d.name.padEnd(32)} ${d.title}\n`);
    return values.list ? 0 : 2;
  }
  const cfg = await loadConfig(values.config);
  if (values['data-dir']) cfg.store.path = values['data-dir'];
  if (values['store-url']) cfg.store.url = values['store-url'];
  const store = await createStoreClientFromConfig(cfg.store);
  try {
    let rows: Record<string, unknown>[];
    if (values.sql) {
      const rs = await store.client.query({ query: values.sql, format: 'JSONEachRow' });
      rows = await rs.json();
    } else {
      let now: number | undefined;
      if (values.at === 'latest') {
        // replayed data: anchor dashboards at the newest event time stored, not the wall clock
        const rs = await store.client.query({ query: `SELECT toUnixTimestamp(max(time)) AS t FROM ${cfg.store.database}.token_events`, format: 'JSONEachRow' });
        const [r] = await rs.json<{ t: number | string }>();
        const t = Number(r?.t ?? 0);
        now = t > 0 ? (t + 60) * 1000 : undefined;
      } else if (values.at !== 'now') {
        now = parseTime(values.at);
        if (now === undefined) throw new TokenwatchError('config_invalid', `--at: "${values.at}" is not a time (ISO-8601, "now" or "latest")`);
      }
      rows = await runDashboard(store.client, values.dashboard!, { database: cfg.store.database, now });
    }
    process.stdout.write(values.json ? rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '') : table(rows));
  } finally {
    await store.close();
  }
  return 0;
}

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s.length > 60 ? s.slice(0, 57) + '...' : s;
  };
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}
