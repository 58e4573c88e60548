/**
 * One store scenario run against both the embedded store (chDB) and a ClickHouse server:
 * migrate, write alerts/inventory/events through ClickHouseSink, then check every dashboard.
 * Times are anchored at the current hour so the 30-day TTL on token_events never drops them.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, DetectorId, Severity } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { InventoryRecord } from '../../src/inventory/inventory-record.js';
import { DAY, HOUR, MIN, ev, fp } from '../../detectors/case-helpers.js';
import { ClickHouseSink } from '../../src/sinks/clickhouse-sink.js';
import type { StoreClient } from '../../src/store/clickhouse-client.js';
import { listDashboards, runDashboard } from '../../src/store/dashboards.js';
import { MIGRATIONS, featuresForVersion, migrate, type MigrateResult } from '../../src/store/migrations.js';
import { alertRow, formatTime, inventoryRow, timePrecisionFor, tokenEventRow } from '../../src/store/rows.js';

export const NOW = Math.floor(Date.now() / HOUR) * HOUR;
/** Dashboards print times as DateTime: 'YYYY-MM-DD hh:mm:ss' UTC. */
export const dt = (ms: number): string => formatTime(ms, 's');

export function makeAlert(p: {
  name: string;
  detector: DetectorId;
  kind: string;
  severity: Severity;
  first_seen: number;
  token?: string;
  issuer?: string;
}): Alert {
  return {
    schema_version: 1,
    alert_id: createHash('sha256').update(p.name).digest('hex').slice(0, 32),
    detector: p.detector,
    detector_version: 1,
    kind: p.kind,
    severity: p.severity,
    score: 0.9,
    title: `${p.kind} test alert`,
    summary: `test alert ${p.name}`,
    ...(p.token ? { token_fp: fp(p.token) } : {}),
    ...(p.issuer ? { issuer: p.issuer } : {}),
    first_seen: new Date(p.first_seen).toISOString(),
    last_seen: new Date(p.first_seen + 5 * MIN).toISOString(),
    evidence: {
      events: [{ event_id: `okta:${p.name}`, time: new Date(p.first_seen).toISOString(), source: 'okta', action: 'use', ip: '192.0.2.10' }],
      baseline: { window_minutes: 60 },
    },
    mitre_attack: ['T1550.001'],
    owasp_nhi: ['NHI7'],
    runbook: 'docs/runbooks/test.md',
    dedup_key: `${p.detector}:${p.name}`,
  };
}

export const ALERTS = {
  replayF1: makeAlert({ name: 'a1', detector: 'token_replay', kind: 'use_after_revocation', severity: 'critical', first_seen: NOW - 2 * HOUR + 5 * MIN, token: 'F1', issuer: 'role/ci-deployer' }),
  spikeOld: makeAlert({ name: 'a2', detector: 'mint_rate_spike', kind: 'mint_rate_spike', severity: 'medium', first_seen: NOW - 2 * HOUR + 10 * MIN, issuer: 'role/ci-deployer' }),
  spikeRecent: makeAlert({ name: 'a3', detector: 'mint_rate_spike', kind: 'mint_rate_spike', severity: 'high', first_seen: NOW - 30 * MIN, issuer: 'role/ci-deployer' }),
  outsideWindow: makeAlert({ name: 'a4', detector: 'scope_drift', kind: 'scope_widened', severity: 'low', first_seen: NOW - 8 * DAY }),
  replayF3: makeAlert({ name: 'a5', detector: 'token_replay', kind: 'use_after_revocation', severity: 'critical', first_seen: NOW - 3 * HOUR + 1 * MIN, token: 'F3', issuer: 'app/okta-client' }),
};

function inv(p: Partial<InventoryRecord> & { token: string; first_seen: number; last_seen: number; version: number }): InventoryRecord {
  const { token, ...rest } = p;
  return { token_fp: fp(token), kind: 'sts_session', scopes: [], audience: [], use_count: 0, services: [], networks: [], platforms: ['aws'], ...rest };
}

export const INVENTORY = {
  // F1: first without revocation, then the newer version revoked and used afterwards: FINAL keeps v2.
  f1v1: inv({ token: 'F1', issuer: 'role/ci-deployer', scopes: ['s3:GetObject'], services: ['s3'], minted_at: NOW - 2 * DAY, first_seen: NOW - 2 * DAY, last_seen: NOW - 4 * HOUR, last_use: NOW - 4 * HOUR, use_count: 3, version: NOW - 4 * HOUR }),
  f1v2: inv({ token: 'F1', issuer: 'role/ci-deployer', scopes: ['s3:GetObject'], services: ['s3', 'sts'], minted_at: NOW - 2 * DAY, first_seen: NOW - 2 * DAY, last_seen: NOW - 2 * HOUR, last_use: NOW - 2 * HOUR, revoked_at: NOW - 3 * HOUR, use_count: 5, version: NOW - 2 * HOUR }),
  f2: inv({ token: 'F2', issuer: 'role/ci-deployer', scopes: ['s3:PutObject', 's3:GetObject'], services: ['s3'], minted_at: NOW - 10 * DAY, expires_at: NOW + HOUR, lifetime_ms: 11 * DAY, first_seen: NOW - 10 * DAY, last_seen: NOW - HOUR, use_count: 1, version: NOW - HOUR }),
  // F3: revoked, last use before the revocation: only its alert lists it.
  f3: inv({ token: 'F3', kind: 'oauth_access', platforms: ['okta'], issuer: 'app/okta-client', scopes: ['okta.users.read'], services: ['okta'], first_seen: NOW - 3 * DAY, last_seen: NOW - 2 * DAY, last_use: NOW - 2 * DAY, revoked_at: NOW - DAY, use_count: 2, version: NOW - DAY }),
  // F4: expired, seen at three services.
  f4: inv({ token: 'F4', kind: 'oauth_access', platforms: ['okta', 'gateway'], issuer: 'app/okta-client', scopes: ['crm.read', 'okta.users.read'], services: ['okta', 'crm', 'billing'], first_seen: NOW - 5 * DAY, last_seen: NOW - 2 * HOUR, expires_at: NOW - HOUR, use_count: 9, version: NOW - 2 * HOUR }),
};

function mints(issuer: string | undefined, count: number, start: number, action: TokenEvent['action'] = 'mint'): TokenEvent[] {
  return Array.from({ length: count }, (_, i) =>
    ev({
      source: 'cloudtrail',
      platform: 'aws',
      action,
      time: start + i * MIN,
      token: { fp: fp(`${issuer}-${start}-${i}`), kind: 'sts_session', hint: 'ASIA' },
      ...(issuer ? { issuer } : {}),
      service: 'sts.amazonaws.com',
      scopes_granted: ['s3:GetObject'],
      network: { ip: '192.0.2.7' },
      operation: 'AssumeRole',
    }),
  );
}

/** ci-deployer: 12 mints in the last hour, baseline days [2,3,1,0,2,4,2] → median 2 → ratio 6. steady: 3 vs 3. */
export const SPIKE_BASELINE = [2, 3, 1, 0, 2, 4, 2];
export const EVENTS: TokenEvent[] = [
  ...mints('role/ci-deployer', 12, NOW - 50 * MIN),
  ...SPIKE_BASELINE.flatMap((n, d) => mints('role/ci-deployer', n, NOW - (d + 1) * DAY - 40 * MIN)),
  ...mints('role/ci-deployer', 4, NOW - 45 * MIN, 'use'), // uses never count as mints
  ...mints('role/steady', 3, NOW - 30 * MIN),
  ...[1, 2, 3, 4, 5, 6, 7].flatMap((d) => mints('role/steady', 3, NOW - d * DAY - 30 * MIN)),
  ...mints('role/quiet', 5, NOW - 2 * DAY - 50 * MIN), // nothing in the last hour: not listed
  ...mints(undefined, 2, NOW - 20 * MIN), // no issuer: not in the per-issuer view
];

const sortFp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The dashboards' expected rows for the scenario above. */
export function expectedDashboards(): Record<string, unknown[]> {
  const hour = (ms: number) => dt(Math.floor(ms / HOUR) * HOUR);
  return {
    'alerts-per-detector-hourly': [
      { hour: hour(NOW - 3 * HOUR), detector: 'token_replay', alerts: 1, high_or_critical: 1 },
      { hour: hour(NOW - 2 * HOUR), detector: 'mint_rate_spike', alerts: 1, high_or_critical: 0 },
      { hour: hour(NOW - 2 * HOUR), detector: 'token_replay', alerts: 1, high_or_critical: 1 },
      { hour: hour(NOW - HOUR), detector: 'mint_rate_spike', alerts: 1, high_or_critical: 1 },
    ],
    'top-issuers-mint-rate': [
      { issuer: 'role/ci-deployer', last_hour_mints: 12, baseline_mints: 2, ratio: 6 },
      { issuer: 'role/steady', last_hour_mints: 3, baseline_mints: 3, ratio: 1 },
    ],
    'tokens-used-after-revocation': [
      { token_fp: fp('F1'), issuer: 'role/ci-deployer', revoked_at: dt(NOW - 3 * HOUR), last_use: dt(NOW - 2 * HOUR), use_count: 5, alerts: 1, last_alert_id: ALERTS.replayF1.alert_id },
      { token_fp: fp('F3'), issuer: 'app/okta-client', revoked_at: null, last_use: null, use_count: 0, alerts: 1, last_alert_id: ALERTS.replayF3.alert_id },
    ].sort((a, b) => sortFp(a.token_fp, b.token_fp)),
    'tokens-on-several-services': [
      { token_fp: fp('F4'), kind: 'oauth_access', issuer: 'app/okta-client', service_count: 3, services: ['okta', 'crm', 'billing'], platforms: ['okta', 'gateway'], use_count: 9, last_seen: dt(NOW - 2 * HOUR) },
      { token_fp: fp('F1'), kind: 'sts_session', issuer: 'role/ci-deployer', service_count: 2, services: ['s3', 'sts'], platforms: ['aws'], use_count: 5, last_seen: dt(NOW - 2 * HOUR) },
    ],
    'inventory-by-issuer': [
      { issuer: 'app/okta-client', tokens: 2, live_tokens: 0, scopes: ['crm.read', 'okta.users.read'], oldest_age_days: 5, newest_age_days: 3 },
      { issuer: 'role/ci-deployer', tokens: 2, live_tokens: 1, scopes: ['s3:GetObject', 's3:PutObject'], oldest_age_days: 10, newest_age_days: 2 },
    ],
  };
}

async function queryRows<T>(store: StoreClient, query: string): Promise<T[]> {
  const rs = await store.client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

/**
 * The shared suite. `open` returns the store under test; `database` must be private to the run.
 */
export function defineStoreSuite(label: string, open: () => Promise<StoreClient>, database: string): void {
  describe(label, () => {
    let store: StoreClient;
    let first: MigrateResult;

    beforeAll(async () => {
      store = await open();
      await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      first = await migrate(store.client, { database });
    });
    afterAll(async () => {
      if (!store) return;
      await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
      await store.close();
    });

    it('applies every migration once, records it, and is a no-op when run again', async () => {
      expect(first.applied).toEqual(MIGRATIONS.map((m) => m.id));
      const again = await migrate(store.client, { database });
      expect(again.applied).toEqual([]);
      expect(again.serverVersion).toBe(first.serverVersion);
      const recorded = await queryRows<{ version: string }>(store, `SELECT version FROM ${database}.schema_migrations ORDER BY version`);
      expect(recorded.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.id));
    });

    it('creates the column types the server version supports', async () => {
      expect(first.features).toEqual(featuresForVersion(first.serverVersion));
      const cols = await queryRows<{ table: string; name: string; type: string }>(
        store,
        `SELECT table, name, type FROM system.columns WHERE database = '${database}' AND table IN ('alerts', 'token_events', 'token_inventory')`,
      );
      const type = (table: string, name: string) => cols.find((c) => c.table === table && c.name === name)?.type;
      expect(type('alerts', 'first_seen')).toBe(first.features.dateTime64 ? "DateTime64(3, 'UTC')" : "DateTime('UTC')");
      expect(type('token_inventory', 'revoked_at')).toBe(first.features.dateTime64 ? "Nullable(DateTime64(3, 'UTC'))" : "Nullable(DateTime('UTC'))");
      expect(type('alerts', 'detector')).toBe(first.features.lowCardinality ? 'LowCardinality(String)' : 'String');
      const [ddl] = await queryRows<{ q: string }>(
        store,
        `SELECT create_table_query AS q FROM system.tables WHERE database = '${database}' AND name = 'token_events'`,
      );
      expect(ddl?.q.includes('TTL')).toBe(first.features.ttl);
    });

    it('row objects carry exactly the columns of their tables', async () => {
      const p = timePrecisionFor(first.features);
      const samples: [string, object][] = [
        ['alerts', alertRow(ALERTS.replayF1, p)],
        ['token_inventory', inventoryRow(INVENTORY.f2, p)],
        ['token_events', tokenEventRow(EVENTS[0]!, p)],
      ];
      for (const [table, row] of samples) {
        const cols = await queryRows<{ name: string }>(
          store,
          `SELECT name FROM system.columns WHERE database = '${database}' AND table = '${table}' ORDER BY position`,
        ).catch(async () =>
          // 18.16's system.columns has no `position`; its rows come in table order.
          queryRows<{ name: string }>(store, `SELECT name FROM system.columns WHERE database = '${database}' AND table = '${table}'`),
        );
        // ingested_at is filled by the server (DEFAULT now()), never by the sink
        expect(Object.keys(row), table).toEqual(cols.map((c) => c.name).filter((c) => c !== 'ingested_at'));
      }
    });

    describe('after writing the scenario through the sink', () => {
      beforeAll(async () => {
        const sink = new ClickHouseSink({
          client: store.client,
          database,
          time_precision: timePrecisionFor(first.features),
          config: { max_batch_rows: 40, flush_interval_ms: 20, max_queue_rows: 200, max_retries: 2, base_delay_ms: 10 },
        });
        const a = ALERTS;
        await Promise.all([
          sink.write('alerts', [a.replayF1, a.spikeOld, a.spikeRecent, a.outsideWindow, a.replayF3]),
          sink.write('inventory', [INVENTORY.f1v1, INVENTORY.f2, INVENTORY.f3, INVENTORY.f4]),
          sink.write('events', EVENTS),
        ]);
        // Re-delivery after a crash: the same alerts again, and the newer inventory version of F1.
        await sink.write('alerts', [a.replayF1, a.spikeRecent]);
        await sink.write('inventory', [INVENTORY.f1v2]);
        await sink.close();
        expect(sink.stats.rows_written).toBe(5 + 4 + EVENTS.length + 2 + 1);
        expect(sink.queueDepth).toBe(0);
      });

      it('stores every row; the view counts mints per issuer and minute', async () => {
        const [counts] = await queryRows<Record<string, number>>(
          store,
          `SELECT
             toUInt32((SELECT uniqExact(event_id) FROM ${database}.token_events)) AS events,
             toUInt32((SELECT uniqExact(alert_id) FROM ${database}.alerts)) AS alerts,
             toUInt32((SELECT sum(mints) FROM ${database}.issuer_mints_per_minute)) AS mints`,
        );
        const issuedMints = EVENTS.filter((e) => e.action === 'mint' && e.issuer).length;
        // Alerts: 7 rows were written, 5 distinct ids (merges may already have collapsed the copies).
        expect(counts).toEqual({ events: EVENTS.length, alerts: 5, mints: issuedMints });
      });

      it('fills the fields the sink leaves out with their defaults: stored rows read back whole', async () => {
        const p = timePrecisionFor(first.features);
        const ev0 = EVENTS.find((e) => e.issuer === undefined)!; // no issuer, no hint-less optional fields
        const [got] = await queryRows<Record<string, unknown>>(store, `SELECT * FROM ${database}.token_events WHERE event_id = '${ev0.event_id}' LIMIT 1`);
        delete got!.ingested_at;
        expect(got).toEqual(tokenEventRow(ev0, p));
        const [inv] = await queryRows<Record<string, unknown>>(store, `SELECT * FROM ${database}.token_inventory FINAL WHERE token_fp = '${INVENTORY.f3.token_fp}'`);
        // UInt64 comes back quoted in JSON (output_format_json_quote_64bit_integers)
        for (const k of ['use_count', 'version', 'lifetime_ms']) if (typeof inv![k] === 'string') inv![k] = Number(inv![k]);
        expect(inv).toEqual(inventoryRow(INVENTORY.f3, p));
      });

      it('keeps the evidence JSON and arrays intact', async () => {
        const [row] = await queryRows<{ evidence: string; mitre_attack: string[]; token_fp: string }>(
          store,
          `SELECT evidence, mitre_attack, token_fp FROM ${database}.alerts WHERE alert_id = '${ALERTS.replayF1.alert_id}' LIMIT 1`,
        );
        expect(JSON.parse(row!.evidence)).toEqual(ALERTS.replayF1.evidence);
        expect(row!.mitre_attack).toEqual(['T1550.001']);
        expect(row!.token_fp).toBe(fp('F1'));
      });

      it('lists the five dashboards with a title and description', () => {
        const ds = listDashboards();
        expect(ds.map((d) => d.name).sort()).toEqual(Object.keys(expectedDashboards()).sort());
        for (const d of ds) {
          expect(d.title.length, d.name).toBeGreaterThan(5);
          expect(d.description.length, d.name).toBeGreaterThan(20);
        }
      });

      for (const [name, rows] of Object.entries(expectedDashboards())) {
        it(`dashboard ${name}`, async () => {
          expect(await runDashboard(store.client, name, { database, now: NOW })).toEqual(rows);
        });
      }
    });
  });
}
