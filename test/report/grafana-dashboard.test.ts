/**
 * scripts/grafana/dashboards/tokenwatch.json: every panel query (and the issuer variable's)
 * runs against the real schema — embedded chDB with the report scenario — after expanding the
 * grafana-clickhouse-datasource macros the way the plugin does, and returns what the panel shows.
 * chDB binds one data directory per process; vitest gives this file its own fork.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HOUR } from '../../detectors/case-helpers.js';
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse-client.js';
import { T0, populate } from './report-fixtures.js';

interface Target { datasource: { type: string; uid: string }; rawSql: string; format: number; queryType: string; refId: string }
interface Panel { id: number; type: string; title: string; datasource: { uid: string }; targets: Target[] }
const dashboard = JSON.parse(readFileSync(new URL('../../scripts/grafana/dashboards/tokenwatch.json', import.meta.url), 'utf8')) as {
  uid: string; panels: Panel[]; templating: { list: { name: string; query: string; datasource: { uid: string } }[] };
};
const datasource = (parse(readFileSync(new URL('../../scripts/grafana/provisioning/datasources/tokenwatch-clickhouse.yaml', import.meta.url), 'utf8')) as {
  datasources: { uid: string; type: string; jsonData: { defaultDatabase: string } }[];
}).datasources[0]!;

const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-grafana-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FROM = Math.floor(T0 / 1000);
const TO = Math.floor((T0 + 36 * HOUR) / 1000);

/** The plugin's macros for a time range, an interval and the issuer variable (SQL string format). */
function expand(sql: string, issuer: string, intervalSeconds = 3600): string {
  return sql
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_m, col: string) => `${col} >= toDateTime(${FROM}) AND ${col} <= toDateTime(${TO})`)
    .replace(/\$__timeInterval\(([^)]+)\)/g, (_m, col: string) => `toStartOfInterval(toDateTime(${col}), INTERVAL ${intervalSeconds} second)`)
    .replaceAll('$__fromTime', `toDateTime(${FROM})`)
    .replaceAll('$__toTime', `toDateTime(${TO})`)
    .replaceAll('${issuer:sqlstring}', `'${issuer.replace(/'/g, "\\'")}'`);
}

describe('Grafana dashboard', () => {
  let store: StoreClient;
  const run = async (sql: string, issuer = 'role/ci-deployer') => {
    const expanded = expand(sql, issuer);
    expect(expanded).not.toMatch(/\$__|\$\{/);
    const rs = await store.client.query({ query: expanded, format: 'JSONEachRow' });
    return rs.json<Record<string, unknown>>();
  };
  const panel = (title: string) => dashboard.panels.find((p) => p.title.startsWith(title))!;

  beforeAll(async () => {
    store = await createStoreClient({ path: join(dir, 'chdb') });
    await populate(store, datasource.jsonData.defaultDatabase);
  });
  afterAll(async () => store?.close());

  it('uses the provisioned ClickHouse data source in every panel and query', () => {
    expect(datasource.type).toBe('grafana-clickhouse-datasource');
    const refs = [...dashboard.panels.flatMap((p) => [p.datasource, ...p.targets.map((t) => t.datasource)]), ...dashboard.templating.list.map((v) => v.datasource)];
    for (const r of refs) expect(r.uid).toBe(datasource.uid);
    expect(dashboard.panels.map((p) => p.title)).toEqual(['Alerts over time per detector', 'Minting rate vs baseline: ${issuer}', 'Top replayed tokens', 'Inventory hygiene', 'Incidents']);
    for (const t of dashboard.panels.flatMap((p) => p.targets)) expect([t.format, t.queryType]).toEqual(t.format === 0 ? [0, 'timeseries'] : [1, 'table']);
  });

  it('lists issuers for the variable, busiest first', async () => {
    const rows = await run(dashboard.templating.list[0]!.query);
    expect(rows.map((r) => r.issuer)).toEqual(['role/ci-deployer', 'role/steady', 'app/quiet<script>']);
  });

  it('alerts over time: one row per detector and hour, and the incidents', async () => {
    const [alerts, incidents] = panel('Alerts over time').targets;
    const rows = await run(alerts!.rawSql);
    expect(rows.map((r) => [r.detector, Number(r.alerts)])).toEqual([['scope_drift', 1], ['mint_rate_spike', 1], ['token_replay', 1]]);
    const inc = await run(incidents!.rawSql);
    expect(inc.map((r) => Number(r.incidents))).toEqual([1, 1]); // written twice, counted once
  });

  it('minting rate: mints per hour against the same hour of the previous days', async () => {
    const [mints, alerts] = panel('Minting rate').targets;
    const rows = await run(mints!.rawSql);
    expect(rows).toHaveLength(36);
    expect(rows.map((r) => Number(r.mints))[30]).toBe(40);
    // hour 30 (06:00 on day 2) against 06:00 of the 7 previous days: [0 × 6 (no data, counted as 0), 2]
    expect(Number(rows[30]!.baseline)).toBe(0);
    expect(Number(rows[30]!.baseline_p90)).toBe(2);
    // hour 35 (11:00 on day 2) against 11:00 on day 1: 2 mints, not hour 30's spike
    expect(Number(rows[35]!.baseline_p90)).toBe(2);
    expect(Number(rows[29]!.mints)).toBe(2);
    const marks = await run(alerts!.rawSql);
    expect(marks.map((r) => r.detector)).toEqual(['mint_rate_spike', 'token_replay']);
    expect(await run(mints!.rawSql, "role/o'brien")).toHaveLength(36); // quoted safely, all zero
  });

  it('top replayed tokens and incidents tables', async () => {
    const replayed = await run(panel('Top replayed tokens').targets[0]!.rawSql);
    expect(replayed).toHaveLength(1);
    expect([replayed[0]!.issuer, Number(replayed[0]!.alerts)]).toEqual(['role/ci-deployer', 1]);
    const incidents = await run(panel('Incidents').targets[0]!.rawSql);
    expect(incidents.map((r) => [r.severity, Number(r.alerts)])).toEqual([['critical', 2], ['low', 1]]);
  });

  it('inventory hygiene counts', async () => {
    const [h] = await run(panel('Inventory hygiene').targets[0]!.rawSql);
    expect(Object.fromEntries(Object.entries(h!).map(([k, v]) => [k, Number(v)]))).toMatchObject({
      tokens: 5, revoked: 1, used_after_revocation: 1, never_used: 1, no_known_expiry: 2, lifetime_over_90_days: 1, several_services: 2,
    });
  });
});
