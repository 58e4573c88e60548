/**
 * Idempotent writes, one suite run against both the embedded store (chDB) and a ClickHouse
 * server: the store scenario of store-fixtures.ts written once, written twice in the same
 * batches (a retry whose ack was lost), written again split differently and out of order (a
 * redelivery after a crash), and written twice into a database built by the old migrations
 * (0001–0007) and then upgraded. Merges are stopped on every table, so no figure is right
 * because ClickHouse happened to collapse the copies: readers must deduplicate by themselves.
 * Every dashboard and every view must give the same rows in all four databases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { InventoryRecord } from '../../src/inventory/inventory-record.js';
import { HOUR, MIN, ev, fp } from '../../detectors/case-helpers.js';
import { ClickHouseSink, type ClickHouseSinkConfig } from '../../src/sinks/clickhouse-sink.js';
import type { StoreClient } from '../../src/store/clickhouse-client.js';
import { listDashboards, runDashboard } from '../../src/store/dashboards.js';
import { MIGRATIONS, migrate, type MigrateResult } from '../../src/store/migrations.js';
import { timePrecisionFor } from '../../src/store/rows.js';
import { ALERTS, EVENTS, INVENTORY, NOW, expectedDashboards } from './store-fixtures.js';

/** Uses the hygiene views count: F1 used after its revocation (NOW - 3 h), a person using an API key. */
export const HYGIENE_EVENTS: TokenEvent[] = [
  ev({ time: NOW - 150 * MIN, token: { fp: fp('F1'), kind: 'sts_session' }, issuer: 'role/ci-deployer', service: 's3', outcome: 'success', source: 'cloudtrail', platform: 'aws' }),
  ev({ time: NOW - 2 * HOUR, token: { fp: fp('F1'), kind: 'sts_session' }, issuer: 'role/ci-deployer', service: 's3', outcome: 'failure', source: 'cloudtrail', platform: 'aws' }),
  ...[1, 2, 3].map((i) =>
    ev({ time: NOW - 40 * MIN + i * MIN, token: { fp: fp('K1'), kind: 'api_key' }, issuer: 'app/billing', subject: 'svc-billing', service: 'billing', user_agent: 'Mozilla/5.0 (X11; Linux x86_64)', outcome: 'success' }),
  ),
];

const ALL_EVENTS = [...EVENTS, ...HYGIENE_EVENTS];
const ALL_ALERTS: Alert[] = Object.values(ALERTS);
const INVENTORY_FIRST: InventoryRecord[] = [INVENTORY.f1v1, INVENTORY.f2, INVENTORY.f3, INVENTORY.f4];

/** Figures a user reads besides the dashboards: the event table and every view. `{db}` is replaced. */
export const VIEW_QUERIES: Record<string, string> = {
  token_events: `SELECT toUInt32(uniqExact(event_id)) AS events, toUInt32(uniqExactIf(event_id, action = 'mint')) AS mints FROM {db}.token_events`,
  issuer_mints_per_minute: `SELECT toString(issuer) AS issuer, toString(minute) AS minute, toUInt32(mints) AS mints FROM {db}.issuer_mints_per_minute ORDER BY issuer, minute`,
  alerts_ocsf: `SELECT alert_id, finding FROM {db}.alerts_ocsf ORDER BY alert_id`,
  revocation_latency: `SELECT * FROM {db}.revocation_latency ORDER BY service`,
  hygiene_findings: `SELECT * FROM {db}.hygiene_findings ORDER BY finding, token_fp, issuer, service, detail`,
};

/**
 * Views whose SQL (src/hygiene/hygiene-sql.ts) still counts stored rows, not event ids: a
 * repeated use counts twice. Empty this set once that file counts uniqExact(event_id) / groups
 * by event_id (the change is described in the store idempotency report); `it.fails` turns red then.
 */
const COUNTS_COPIES_UNTIL_HYGIENE_SQL_FIX = new Set<string>();

type Writer = (cfg: Partial<ClickHouseSinkConfig>) => Promise<ClickHouseSink>;

/** The scenario once, as the runner writes it: alerts, the first inventory snapshots, events, then F1's newer snapshot. */
async function writeOnce(open: Writer, cfg: Partial<ClickHouseSinkConfig> = {}): Promise<void> {
  const sink = await open(cfg);
  await Promise.all([sink.write('alerts', ALL_ALERTS), sink.write('inventory', INVENTORY_FIRST), sink.write('events', ALL_EVENTS)]);
  await sink.write('inventory', [INVENTORY.f2, INVENTORY.f1v2]);
  await sink.close();
}

/** Everything again, reversed and cut into other batches, the old F1 snapshot after the new one. */
async function writeResplit(open: Writer): Promise<void> {
  const sink = await open({ max_batch_rows: 7 });
  const events = [...ALL_EVENTS].reverse();
  for (let i = 0; i < events.length; i += 13) await sink.write('events', events.slice(i, i + 13));
  await sink.write('alerts', [...ALL_ALERTS].reverse());
  await sink.write('inventory', [INVENTORY.f1v2, INVENTORY.f4, INVENTORY.f3, INVENTORY.f1v1, INVENTORY.f2]);
  await sink.close();
}

async function rowsOf<T = Record<string, unknown>>(store: StoreClient, query: string): Promise<T[]> {
  const rs = await store.client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

/** Merges stopped: copies stay as they were inserted. */
async function stopMerges(store: StoreClient, db: string): Promise<void> {
  for (const t of ['token_events', 'alerts', 'token_inventory', 'issuer_mints_per_minute_state', 'issuer_mints_per_minute']) {
    const exists = await rowsOf(store, `SELECT name FROM system.tables WHERE database = '${db}' AND name = '${t}' AND engine LIKE '%MergeTree'`);
    if (exists.length > 0) await store.client.command({ query: `SYSTEM STOP MERGES ${db}.${t}` });
  }
}

export function defineIdempotencySuite(label: string, open: () => Promise<StoreClient>, prefix: string): void {
  const dbs = { once: `${prefix}_once`, twice: `${prefix}_twice`, resplit: `${prefix}_resplit`, upgraded: `${prefix}_upgraded` };

  describe(label, () => {
    let store: StoreClient;
    let migrated: MigrateResult;
    let rawEventsTwice = 0;
    let oldMintsTwice = 0;
    let upgradeApplied: string[] = [];

    const writer =
      (database: string): Writer =>
      async (cfg) =>
        new ClickHouseSink({
          client: store.client,
          database,
          time_precision: timePrecisionFor(migrated.features),
          insert_deduplication: migrated.features.insertDeduplication,
          config: { max_batch_rows: 40, flush_interval_ms: 20, max_queue_rows: 500, max_retries: 2, base_delay_ms: 10, ...cfg },
        });

    beforeAll(async () => {
      store = await open();
      for (const db of Object.values(dbs)) await store.client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
      for (const db of [dbs.once, dbs.twice, dbs.resplit]) {
        migrated = await migrate(store.client, { database: db });
        await stopMerges(store, db);
      }
      await writeOnce(writer(dbs.once));
      await writeOnce(writer(dbs.twice));
      await writeOnce(writer(dbs.twice));
      await writeOnce(writer(dbs.resplit));
      await writeResplit(writer(dbs.resplit));
      rawEventsTwice = (await rowsOf<{ n: number }>(store, `SELECT toUInt32(count()) AS n FROM ${dbs.twice}.token_events`))[0]!.n;

      // A database as the code before 0008 built and filled it: the scenario stored twice, the old view counting both.
      const before = MIGRATIONS.filter((m) => m.id < '0008');
      await migrate(store.client, { database: dbs.upgraded, migrations: before });
      await stopMerges(store, dbs.upgraded);
      const oldWriter: Writer = async (cfg) =>
        new ClickHouseSink({
          client: store.client,
          database: dbs.upgraded,
          time_precision: timePrecisionFor(migrated.features),
          config: { max_batch_rows: 40, flush_interval_ms: 20, max_queue_rows: 500, max_retries: 2, base_delay_ms: 10, ...cfg },
        });
      await writeOnce(oldWriter);
      await writeOnce(oldWriter);
      oldMintsTwice = (await rowsOf<{ n: number }>(store, `SELECT toUInt32(sum(mints)) AS n FROM ${dbs.upgraded}.issuer_mints_per_minute`))[0]!.n;
      upgradeApplied = (await migrate(store.client, { database: dbs.upgraded })).applied;
      await stopMerges(store, dbs.upgraded);
    });

    afterAll(async () => {
      if (!store) return;
      for (const db of Object.values(dbs)) await store.client.command({ query: `DROP DATABASE IF EXISTS ${db}` }).catch(() => undefined);
      await store.close();
    });

    it('keeps the copies apart from the figures: stored rows repeat, counted rows do not', async () => {
      // With insert deduplication the server drops the identical second batches itself; without it (18.16) they are stored.
      expect(rawEventsTwice).toBe(migrated.features.insertDeduplication ? ALL_EVENTS.length : 2 * ALL_EVENTS.length);
      const issuedMints = ALL_EVENTS.filter((e) => e.action === 'mint' && e.issuer).length;
      // the bug this fixes: the old summing view counted every copy of a mint (no dedup window on the old tables)
      expect(oldMintsTwice).toBe(2 * issuedMints);
      for (const db of Object.values(dbs)) {
        const [r] = await rowsOf(store, VIEW_QUERIES.token_events!.replaceAll('{db}', db));
        expect(r, db).toEqual({ events: ALL_EVENTS.length, mints: ALL_EVENTS.filter((e) => e.action === 'mint').length });
      }
    });

    it('upgrades a database built by the old migrations', async () => {
      expect(upgradeApplied).toEqual(MIGRATIONS.filter((m) => m.id >= '0008').map((m) => m.id));
      const [engine] = await rowsOf<{ engine: string; key: string }>(
        store,
        `SELECT engine, sorting_key AS key FROM system.tables WHERE database = '${dbs.upgraded}' AND name = 'token_events'`,
      ).catch(() => rowsOf<{ engine: string }>(store, `SELECT engine FROM system.tables WHERE database = '${dbs.upgraded}' AND name = 'token_events'`));
      expect(engine?.engine).toBe('ReplacingMergeTree');
      const leftovers = await rowsOf(store, `SELECT name FROM system.tables WHERE database = '${dbs.upgraded}' AND name LIKE 'token_events_%'`);
      expect(leftovers).toEqual([]);
      expect((await migrate(store.client, { database: dbs.upgraded })).applied).toEqual([]);
    });

    for (const d of listDashboards()) {
      it(`dashboard ${d.name}: the same rows however often and however split the rows arrived`, async () => {
        const want = expectedDashboards()[d.name];
        for (const db of Object.values(dbs)) expect(await runDashboard(store.client, d.name, { database: db, now: NOW }), `${d.name} in ${db}`).toEqual(want);
      });
    }

    for (const [view, query] of Object.entries(VIEW_QUERIES)) {
      (COUNTS_COPIES_UNTIL_HYGIENE_SQL_FIX.has(view) ? it.fails : it)(`${view}: the same rows in every database`, async () => {
        const once = await rowsOf(store, query.replaceAll('{db}', dbs.once));
        expect(once.length, `${view} has rows to compare`).toBeGreaterThan(0);
        for (const db of [dbs.twice, dbs.resplit, dbs.upgraded]) expect(await rowsOf(store, query.replaceAll('{db}', db)), `${view} in ${db}`).toEqual(once);
      });
    }

    it('the mint view counts each mint once per issuer and minute', async () => {
      const rows = await rowsOf<{ issuer: string; mints: number }>(store, VIEW_QUERIES.issuer_mints_per_minute!.replaceAll('{db}', dbs.twice));
      const total = rows.reduce((n, r) => n + r.mints, 0);
      expect(total).toBe(ALL_EVENTS.filter((e) => e.action === 'mint' && e.issuer).length);
    });

    it('alerts_ocsf has one finding per alert id', async () => {
      const rows = await rowsOf<{ alert_id: string }>(store, VIEW_QUERIES.alerts_ocsf!.replaceAll('{db}', dbs.resplit));
      expect(rows.map((r) => r.alert_id)).toEqual(ALL_ALERTS.map((a) => a.alert_id).sort());
    });
  });
}
