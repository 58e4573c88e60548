/**
 * One report scenario run against the embedded store (chDB) and a ClickHouse server (18.16 in
 * CI): migrate, write mints, alerts, incidents and inventory, then check the incidents table,
 * what the report reads and the HTML it renders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, DetectorId, Severity } from '../../schemas/alert.js';
import type { Incident } from '../../schemas/incident.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { InventoryRecord } from '../../src/inventory/inventory-record.js';
import { DAY, HOUR, MIN, ev, fp } from '../../detectors/case-helpers.js';
import { sha256Hex } from '../../src/core/hash.js';
import { IncidentBuilder } from '../../src/incidents/incident-builder.js';
import { incidentRow, writeIncidents } from '../../src/incidents/incident-store.js';
import { loadReportData, type ReportData } from '../../src/report/report-data.js';
import { renderReportHtml } from '../../src/report/report-html.js';
import { ClickHouseSink } from '../../src/sinks/clickhouse-sink.js';
import type { StoreClient } from '../../src/store/clickhouse-client.js';
import { migrate, type MigrateResult } from '../../src/store/migrations.js';
import { timePrecisionFor } from '../../src/store/rows.js';

export const T0 = Date.UTC(2026, 0, 5);

function mints(issuer: string, perHour: (hour: number) => number, hours: number): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (let h = 0; h < hours; h++) {
    const n = perHour(h);
    for (let i = 0; i < n; i++) {
      out.push(ev({ source: 'cloudtrail', platform: 'aws', action: 'mint', time: T0 + h * HOUR + Math.floor((i * HOUR) / (n + 1)), token: { fp: fp(`${issuer}-${h}-${i}`), kind: 'sts_session' }, issuer, operation: 'AssumeRole' }));
    }
  }
  return out;
}

/** ci-deployer: 2 mints an hour, 40 in hour 30; steady: 3 an hour; quiet: one mint. */
export const EVENTS: TokenEvent[] = [
  ...mints('role/ci-deployer', (h) => (h === 30 ? 40 : 2), 36),
  ...mints('role/steady', () => 3, 36),
  ...mints('app/quiet<script>', (h) => (h === 1 ? 1 : 0), 36),
];

function alert(name: string, detector: DetectorId, severity: Severity, at: number, issuer: string, token?: string): Alert {
  return {
    schema_version: 1, alert_id: sha256Hex(name), detector, detector_version: 1, kind: `${detector}_kind`, severity, score: 0.9,
    title: `${detector} on ${issuer}`, summary: 's', issuer, ...(token && { token_fp: fp(token) }),
    first_seen: new Date(at).toISOString(), last_seen: new Date(at + 5 * MIN).toISOString(),
    evidence: { events: [], baseline: {} }, mitre_attack: ['T1550.001'], owasp_nhi: ['NHI7'], runbook: 'r', dedup_key: `${detector}:${name}`,
  };
}

export const ALERTS: Alert[] = [
  alert('steady-drift', 'scope_drift', 'low', T0 + 10 * HOUR, 'role/steady'),
  alert('spike', 'mint_rate_spike', 'high', T0 + 30 * HOUR + 20 * MIN, 'role/ci-deployer'),
  alert('replay', 'token_replay', 'critical', T0 + 30 * HOUR + 40 * MIN, 'role/ci-deployer', 'F1'),
];

function inv(token: string, p: Partial<InventoryRecord>): InventoryRecord {
  return { token_fp: fp(token), kind: 'sts_session', scopes: [], audience: [], use_count: 1, services: ['s3'], networks: [], platforms: ['aws'], first_seen: T0, last_seen: T0 + HOUR, version: T0 + HOUR, ...p };
}

export const INVENTORY: InventoryRecord[] = [
  inv('F1', { issuer: 'role/ci-deployer', revoked_at: T0 + 31 * HOUR, last_use: T0 + 32 * HOUR, last_seen: T0 + 32 * HOUR, use_count: 5, services: ['s3', 'sts'], version: T0 + 32 * HOUR }),
  inv('F2', { issuer: 'role/steady', use_count: 0, services: [] }),
  inv('F3', { issuer: 'role/steady', expires_at: T0 + 2 * HOUR }),
  inv('F4', { issuer: 'app/quiet<script>', kind: 'api_key', minted_at: T0, expires_at: T0 + 200 * DAY, lifetime_ms: 200 * DAY, services: ['okta', 'crm', 'billing'] }),
  inv('F5', { issuer: 'role/steady', first_seen: T0 - 40 * DAY, last_seen: T0 - 40 * DAY, expires_at: T0 - 39 * DAY, version: T0 - 40 * DAY }),
];

export function incidentsOf(alerts: readonly Alert[]): Incident[] {
  const b = new IncidentBuilder();
  b.observeAlerts(alerts);
  b.finish();
  return b.drain();
}

/** Migrate `database` afresh and write the scenario: mints, alerts, inventory, incidents (twice, as a replay would). */
export async function populate(store: StoreClient, database: string): Promise<MigrateResult> {
  await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  const migrated = await migrate(store.client, { database });
  const precision = timePrecisionFor(migrated.features);
  const sink = new ClickHouseSink({ client: store.client, database, time_precision: precision });
  await sink.write('events', EVENTS);
  await sink.write('alerts', ALERTS);
  await sink.write('inventory', INVENTORY);
  await sink.close();
  const incidents = incidentsOf(ALERTS);
  await writeIncidents(store.client, database, precision, incidents);
  await writeIncidents(store.client, database, precision, incidents);
  return migrated;
}

export function defineReportSuite(label: string, open: () => Promise<StoreClient>, database: string, more?: (report: () => { data: ReportData; html: string }) => void): void {
  describe(label, () => {
    let store: StoreClient;
    let report: { data: ReportData; html: string } | undefined;
    const incidents = incidentsOf(ALERTS);

    beforeAll(async () => {
      store = await open();
      // incidents are written twice, as a replay of the same logs would: ids collapse in the report's GROUP BY
      await populate(store, database);
    });
    afterAll(async () => {
      if (!store) return;
      await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
      await store.close();
    });

    it('incident rows carry exactly the columns of the incidents table', async () => {
      const rs = await store.client.query({ query: `SELECT name FROM system.columns WHERE database = '${database}' AND table = 'incidents'`, format: 'JSONEachRow' });
      const cols = (await rs.json<{ name: string }>()).map((c) => c.name);
      expect(Object.keys(incidentRow(incidents[0]!, 's')).sort()).toEqual([...cols].sort());
    });

    it('reads minting series, alerts, incidents and hygiene counts back from the store', async () => {
      const data = await loadReportData(store.client, { database, spanMs: 7 * DAY, bucketMs: HOUR, maxIssuers: 6 }, label);
      report = { data, html: renderReportHtml(data) };
      expect(data.start).toBe(T0); // clipped to the first stored mint
      expect(data.end).toBe(T0 + 36 * HOUR);
      // the issuer with a mint-rate spike first, then other alerted issuers, then the busiest minters
      expect(data.issuers.map((s) => s.issuer)).toEqual(['role/ci-deployer', 'role/steady', 'app/quiet<script>']);
      const ci = data.issuers[0]!.mints;
      expect(ci).toHaveLength(36);
      expect(ci[30]).toBe(40);
      expect(ci[29]).toBe(2);
      expect(ci.reduce((a, b) => a + b, 0)).toBe(2 * 35 + 40);
      expect(data.alerts.map((a) => a.detector)).toEqual(['scope_drift', 'mint_rate_spike', 'token_replay']);
      expect(data.incidentsAvailable).toBe(true);
      expect(data.incidents.map((i) => [i.severity, i.alert_count])).toEqual([['low', 1], ['critical', 2]]);
      expect(data.hygiene).toEqual({
        tokens: 5, live: 2, revoked: 1, expired: 2, used_after_revocation: 1, never_used: 1, no_known_expiry: 2,
        lifetime_over_90_days: 1, several_services: 2, idle_30_days: 1,
      });
    });

    it('renders a self-contained page with every chart', () => {
      const html = report!.html;
      expect(html).not.toMatch(/<script|<link|<iframe|<img|@import|url\(|(?:src|href)\s*=/i);
      expect(html).toContain('app/quiet&lt;script&gt;'); // names are escaped
      expect(html.match(/<svg class="chart"/g)).toHaveLength(3 + 2); // 3 issuers, alerts over time, hygiene
      const ciChart = /<svg class="chart" data-chart="mint-rate-0".*?<\/svg>/s.exec(html)![0];
      expect(ciChart).toContain('class="band"');
      expect(ciChart.match(/class="alert-marker"/g)).toHaveLength(2);
      const overTime = /<svg class="chart" data-chart="alerts-over-time".*?<\/svg>/s.exec(html)![0];
      expect(overTime.match(/class="bar"/g)).toHaveLength(3);
      expect(overTime.match(/class="incident-marker"/g)).toHaveLength(2);
    });

    more?.(() => report!);
  });
}
