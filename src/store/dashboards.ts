/**
 * Dashboard queries: src/store/dashboards/*.sql. Each file starts with `--` comment lines: the
 * first is the title, the rest say what it shows. Placeholders, substituted as SQL text because
 * ClickHouse 18.16 has no query parameters:
 *   {{database}}  the store's database (validated identifier)
 *   {{now}}       the time the dashboard is anchored at, as toDateTime(<epoch s>); defaults to
 *                 the wall clock, pass an event time to look at replayed/historical data.
 * The queries use only syntax that runs on ClickHouse 18.16 and on 26.x (embedded chDB), and
 * give the same JSON on both (times as DateTime 'YYYY-MM-DD hh:mm:ss', counts as UInt32).
 *
 * The .sql files are read at run time from next to this module, or from src/store/dashboards
 * when running from dist/ (tsc does not copy them).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { TokenwatchError } from '../core/errors.js';
import { assertDatabaseName } from './clickhouse-client.js';

export interface Dashboard {
  /** File name without `.sql`, e.g. `alerts-per-detector-hourly`. */
  name: string;
  title: string;
  description: string;
  /** The query template with placeholders, header comment removed. */
  sql: string;
}

const CANDIDATE_DIRS = [
  new URL('./dashboards/', import.meta.url),
  // dist/src/store/dashboards.js → <root>/src/store/dashboards/
  new URL('../../../src/store/dashboards/', import.meta.url),
];

export function dashboardsDir(): string {
  for (const url of CANDIDATE_DIRS) {
    const dir = fileURLToPath(url);
    if (existsSync(dir)) return dir;
  }
  throw new TokenwatchError('config_invalid', 'dashboard SQL files not found (src/store/dashboards/)');
}

export function parseDashboard(name: string, text: string): Dashboard {
  const lines = text.split(/\r?\n/);
  const header: string[] = [];
  while (lines.length > 0 && lines[0]!.startsWith('--')) header.push(lines.shift()!.replace(/^--\s?/, '').trim());
  const sql = lines.join('\n').trim().replace(/;\s*$/, '');
  if (header.length === 0 || sql === '') throw new TokenwatchError('config_invalid', `dashboard ${name}: needs a header comment and a query`);
  return { name, title: header[0]!, description: header.slice(1).join(' '), sql };
}

let cache: Dashboard[] | undefined;

export function listDashboards(): Dashboard[] {
  if (!cache) {
    const dir = dashboardsDir();
    cache = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .map((f) => parseDashboard(f.slice(0, -4), readFileSync(`${dir}${f}`, 'utf8')));
  }
  return cache;
}

export function getDashboard(name: string): Dashboard {
  const d = listDashboards().find((x) => x.name === name);
  if (!d) throw new TokenwatchError('config_invalid', `unknown dashboard ${JSON.stringify(name)}; known: ${listDashboards().map((x) => x.name).join(', ')}`);
  return d;
}

export interface RenderOptions {
  database: string;
  /** Anchor time (epoch ms); default Date.now(). */
  now?: number;
}

export function renderDashboard(dashboard: Dashboard, opts: RenderOptions): string {
  const database = assertDatabaseName(opts.database);
  const nowSeconds = Math.floor((opts.now ?? Date.now()) / 1000);
  if (!Number.isSafeInteger(nowSeconds) || nowSeconds < 0) throw new TokenwatchError('config_invalid', 'dashboard anchor time must be a non-negative epoch ms');
  const sql = dashboard.sql.replaceAll('{{database}}', database).replaceAll('{{now}}', `toDateTime(${nowSeconds})`);
  const unknown = /\{\{[^}]*\}\}/.exec(sql);
  if (unknown) throw new TokenwatchError('config_invalid', `dashboard ${dashboard.name}: unknown placeholder ${unknown[0]}`);
  return sql;
}

export async function runDashboard<Row = Record<string, unknown>>(
  client: ClickHouseClient,
  name: string,
  opts: RenderOptions,
): Promise<Row[]> {
  const query = renderDashboard(getDashboard(name), opts);
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return rs.json<Row>();
}
