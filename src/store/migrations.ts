/**
 * Version-aware schema migrations for the ClickHouse store.
 *
 * The same migrations run on embedded chDB (ClickHouse 26.x) and on old servers such as
 * Debian's ClickHouse 18.16, which lacks LowCardinality (experimental there), DateTime64,
 * table TTL, query parameters and insert deduplication outside replicated tables.
 * `SELECT version()` picks the column types and features:
 *   modern: LowCardinality(String) for low-cardinality labels, DateTime64(3, 'UTC'), TTL on token_events,
 *           non_replicated_deduplication_window on the written tables (the sink sends a token per batch)
 *   18.x:   String, DateTime('UTC'), no TTL (expire token_events by dropping old partitions)
 *
 * Applied migration ids are recorded in `<db>.schema_migrations`, so `migrate()` is idempotent
 * and new migrations are appended to MIGRATIONS. Every statement is itself idempotent (IF NOT
 * EXISTS), and a migration that swaps tables (`apply`) looks at what exists first, so a run that
 * died half-way simply runs again.
 *
 * Idempotent storage (a re-inserted batch, or the same rows split differently after a crash,
 * never changes a figure a reader sees; no reader needs FINAL for that):
 * - `token_events` is a ReplacingMergeTree whose sorting key ends with event_id (an event's issuer
 *   and time are part of it, so copies share a partition and a key). Merges drop copies
 *   eventually; readers count uniqExact(event_id) or group by event_id, never plain count().
 * - `issuer_mints_per_minute_state` (AggregatingMergeTree) holds uniqExactState(event_id) per
 *   issuer and minute, filled by a materialized view: a copy of a mint adds nothing to the set.
 *   `issuer_mints_per_minute` is a plain view over it with the old columns (issuer, minute, mints).
 * - `alerts` is a ReplacingMergeTree(last_seen) whose sorting key ends with alert_id; dashboards
 *   count with GROUP BY alert_id / uniqExact(alert_id), the alerts_ocsf view keeps one row per id.
 * - `token_inventory` rows are absolute snapshots (counters included) with a version, read with
 *   FINAL: a re-inserted snapshot replaces itself.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { TokenwatchError } from '../core/errors.js';
import { assertDatabaseName } from './clickhouse-client.js';
import { alertsOcsfSelect, alertsOcsfViewStatements } from '../ocsf/clickhouse-view.js';
import { hygieneViewStatements } from '../hygiene/hygiene-sql.js';
import { incidentsTableStatements } from '../incidents/incident-store.js';

export interface StoreFeatures {
  lowCardinality: boolean;
  dateTime64: boolean;
  ttl: boolean;
  /**
   * MergeTree tables take `non_replicated_deduplication_window` and inserts take
   * `insert_deduplication_token` (22.2+): a retried batch is dropped by the server itself.
   */
  insertDeduplication: boolean;
}

export interface MigrateResult {
  serverVersion: string;
  /** Ids of the migrations this run applied (empty when the schema was already current). */
  applied: string[];
  features: StoreFeatures;
}

export interface MigrationContext {
  database: string;
  features: StoreFeatures;
}

/** What a migration's `apply` step may do: run a statement, read rows. */
export interface MigrationExec {
  run(statement: string): Promise<void>;
  rows<T>(query: string): Promise<T[]>;
}

export interface Migration {
  id: string;
  statements(ctx: MigrationContext): string[];
  /** Steps that depend on what exists (table swaps); run after `statements`, must be safe to re-run. */
  apply?(exec: MigrationExec, ctx: MigrationContext): Promise<void>;
}

/** Days of raw token events kept where the server supports TTL. */
export const TOKEN_EVENTS_TTL_DAYS = 30;

function parseVersion(version: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new TokenwatchError('sink_failed', `cannot parse ClickHouse version ${JSON.stringify(version)}`);
  return [Number(m[1]), Number(m[2])];
}

function atLeast(v: [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

/**
 * LowCardinality left experimental in 19.x, table TTL arrived in 19.6, DateTime64 in 20.1,
 * insert_deduplication_token in 22.2 (non_replicated_deduplication_window earlier).
 * Thresholds err on the late side: an older server gets the plain types, which still work.
 */
export function featuresForVersion(version: string): StoreFeatures {
  const v = parseVersion(version);
  return { lowCardinality: atLeast(v, 19, 9), dateTime64: atLeast(v, 20, 1), ttl: atLeast(v, 19, 6), insertDeduplication: atLeast(v, 22, 2) };
}

/** Inserted blocks whose hashes a table remembers to drop a retried copy (modern servers only). */
export const INSERT_DEDUPLICATION_WINDOW = 1000;

export async function detectServer(client: ClickHouseClient): Promise<{ serverVersion: string; features: StoreFeatures }> {
  const rs = await client.query({ query: 'SELECT version() AS version', format: 'JSONEachRow' });
  const rows = await rs.json<{ version: string }>();
  const serverVersion = rows[0]?.version;
  if (!serverVersion) throw new TokenwatchError('sink_failed', 'SELECT version() returned no row');
  return { serverVersion, features: featuresForVersion(serverVersion) };
}

function types(f: StoreFeatures) {
  const time = f.dateTime64 ? "DateTime64(3, 'UTC')" : "DateTime('UTC')";
  return {
    label: f.lowCardinality ? 'LowCardinality(String)' : 'String',
    time,
    optTime: `Nullable(${time})`,
  };
}

function tokenEventsColumns(f: StoreFeatures): string {
  const t = types(f);
  return `  event_id String,
  source ${t.label},
  platform ${t.label},
  action ${t.label},
  time ${t.time},
  token_fp String,
  token_kind ${t.label},
  token_hint String,
  token_one_time UInt8,
  parent_fp String,
  issuer ${t.label},
  minted_by String,
  authority ${t.label},
  subject String,
  audience Array(String),
  service ${t.label},
  scopes_requested Array(String),
  scopes_granted Array(String),
  scopes_used Array(String),
  issued_at ${t.optTime},
  expires_at ${t.optTime},
  ip String,
  asn String,
  network_label String,
  user_agent String,
  workload_kind ${t.label},
  workload_id String,
  outcome ${t.label},
  operation ${t.label},
  signal String,
  ingested_at DateTime('UTC') DEFAULT now()`;
}

/** TTL on ingestion time, not event time: a replay of last quarter's logs must not expire on arrival. */
function tokenEventsTtl(f: StoreFeatures): string {
  return f.ttl ? `\nTTL ingested_at + INTERVAL ${TOKEN_EVENTS_TTL_DAYS} DAY` : '';
}

function mintStateSelect(db: string): string {
  return `SELECT issuer, toStartOfMinute(time) AS minute, uniqExactState(event_id) AS mints_state
FROM ${db}.token_events
WHERE action = 'mint' AND issuer != ''
GROUP BY issuer, minute`;
}

function createTokenEvents(name: string, f: StoreFeatures): string {
  // Copies of an event share its issuer and time: same partition, same key, collapsed by merges.
  return `CREATE TABLE ${name} (
${tokenEventsColumns(f)}
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (issuer, time, event_id)${tokenEventsTtl(f)}`;
}

/**
 * token_events (MergeTree) → ReplacingMergeTree by event_id: copy into token_events_0008, swap
 * names, drop the old table. No engine change in place exists on 18.16. Each step checks what
 * exists, so a run killed between any two steps finishes on the next run.
 */
async function swapTokenEvents(x: MigrationExec, db: string, f: StoreFeatures): Promise<void> {
  const engineOf = async (name: string): Promise<string | undefined> =>
    (await x.rows<{ engine: string }>(`SELECT engine FROM system.tables WHERE database = '${db}' AND name = '${name}'`))[0]?.engine;
  const next = `${db}.token_events_0008`;
  const old = `${db}.token_events_pre_0008`;
  const current = await engineOf('token_events');
  if (current === undefined) {
    // killed between the two renames (or the table was dropped by hand)
    if ((await engineOf('token_events_0008')) !== undefined) await x.run(`RENAME TABLE ${next} TO ${db}.token_events`);
    else await x.run(createTokenEvents(`${db}.token_events`, f));
  } else if (current !== 'ReplacingMergeTree') {
    await x.run(`DROP TABLE IF EXISTS ${next}`);
    await x.run(createTokenEvents(next, f));
    await x.run(`INSERT INTO ${next} SELECT * FROM ${db}.token_events`);
    await x.run(`RENAME TABLE ${db}.token_events TO ${old}`);
    await x.run(`RENAME TABLE ${next} TO ${db}.token_events`);
  }
  await x.run(`DROP TABLE IF EXISTS ${old}`);
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: '0001_token_events',
    statements: ({ database: db, features: f }) => [
      // The first layout: a plain MergeTree. 0008 swaps it for the deduplicating one.
      `CREATE TABLE IF NOT EXISTS ${db}.token_events (
${tokenEventsColumns(f)}
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (issuer, time)${tokenEventsTtl(f)}`,
    ],
  },
  {
    id: '0002_alerts',
    statements: ({ database: db, features: f }) => {
      const t = types(f);
      return [
        `CREATE TABLE IF NOT EXISTS ${db}.alerts (
  alert_id String,
  schema_version UInt8,
  detector ${t.label},
  detector_version UInt16,
  kind ${t.label},
  severity ${t.label},
  score Float64,
  title String,
  summary String,
  token_fp String,
  issuer ${t.label},
  subject String,
  service ${t.label},
  first_seen ${t.time},
  last_seen ${t.time},
  evidence String,
  mitre_attack Array(String),
  owasp_nhi Array(String),
  runbook String,
  dedup_key String
) ENGINE = ReplacingMergeTree(last_seen)
PARTITION BY toYYYYMM(first_seen)
ORDER BY (detector, first_seen, alert_id)`,
      ];
    },
  },
  {
    id: '0003_token_inventory',
    statements: ({ database: db, features: f }) => {
      const t = types(f);
      return [
        `CREATE TABLE IF NOT EXISTS ${db}.token_inventory (
  token_fp String,
  kind ${t.label},
  issuer ${t.label},
  subject String,
  authority ${t.label},
  minted_by String,
  scopes Array(String),
  audience Array(String),
  minted_at ${t.optTime},
  expires_at ${t.optTime},
  lifetime_ms Nullable(UInt64),
  first_seen ${t.time},
  last_seen ${t.time},
  first_use ${t.optTime},
  last_use ${t.optTime},
  use_count UInt64,
  services Array(String),
  networks Array(String),
  platforms Array(String),
  revoked_at ${t.optTime},
  version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY token_fp`,
      ];
    },
  },
  {
    id: '0004_issuer_mints_per_minute',
    statements: ({ database: db, features: f }) => {
      const t = types(f);
      return [
        `CREATE TABLE IF NOT EXISTS ${db}.issuer_mints_per_minute (
  issuer ${t.label},
  minute DateTime('UTC'),
  mints UInt64
) ENGINE = SummingMergeTree(mints)
PARTITION BY toYYYYMM(minute)
ORDER BY (issuer, minute)`,
        // TO <table> (not POPULATE): the view only routes new inserts; the target is a normal table.
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.issuer_mints_per_minute_mv TO ${db}.issuer_mints_per_minute AS
SELECT issuer, toStartOfMinute(time) AS minute, count() AS mints
FROM ${db}.token_events
WHERE action = 'mint' AND issuer != ''
GROUP BY issuer, minute`,
      ];
    },
  },
  {
    // alerts as OCSF Detection Finding JSON; built from string functions 18.16 has too (src/ocsf/clickhouse-view.ts)
    id: '0005_alerts_ocsf_view',
    statements: ({ database: db, features: f }) => alertsOcsfViewStatements(db, f),
  },
  {
    // hygiene findings and revocation latency per service (src/hygiene/hygiene-sql.ts); same SQL on 18.16 and current
    id: '0006_hygiene_views',
    statements: ({ database: db }) => hygieneViewStatements(db),
  },
  {
    // incidents: correlated alerts (src/incidents/), one row per closed incident
    id: '0007_incidents',
    statements: ({ database: db, features: f }) => incidentsTableStatements(db, f),
  },
  {
    // idempotent storage: deduplicating token_events, mint counts as sets of event ids, alerts_ocsf one row per alert
    id: '0008_idempotent_writes',
    statements: () => [],
    apply: async (x, { database: db, features: f }) => {
      // The old view counts every inserted copy of a mint; it hangs on token_events, so it goes before the swap.
      await x.run(`DROP TABLE IF EXISTS ${db}.issuer_mints_per_minute_mv`);
      await swapTokenEvents(x, db, f);

      // The SummingMergeTree (or the view of a half-finished run) makes room for the view of the same name.
      await x.run(`DROP TABLE IF EXISTS ${db}.issuer_mints_per_minute`);
      await x.run(`CREATE TABLE IF NOT EXISTS ${db}.issuer_mints_per_minute_state (
  issuer ${types(f).label},
  minute DateTime('UTC'),
  mints_state AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (issuer, minute)`);
      await x.run(`CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.issuer_mints_per_minute_state_mv TO ${db}.issuer_mints_per_minute_state AS
${mintStateSelect(db)}`);
      // Backfill from the stored events; a set union, so a re-run (or a row the view already took) adds nothing.
      await x.run(`INSERT INTO ${db}.issuer_mints_per_minute_state ${mintStateSelect(db)}`);
      await x.run(`CREATE VIEW IF NOT EXISTS ${db}.issuer_mints_per_minute AS
SELECT issuer, minute, toUInt64(uniqExactMerge(mints_state)) AS mints
FROM ${db}.issuer_mints_per_minute_state
GROUP BY issuer, minute`);

      // One finding per alert id, the newest copy, whether or not ReplacingMergeTree has merged yet.
      await x.run(`DROP TABLE IF EXISTS ${db}.alerts_ocsf`);
      await x.run(`CREATE VIEW ${db}.alerts_ocsf AS
${alertsOcsfSelect(`(SELECT * FROM ${db}.alerts ORDER BY alert_id, last_seen DESC LIMIT 1 BY alert_id)`, f)}`);

      // Rebuilt so they take the current hygiene SQL (which counts uses by event id).
      await x.run(`DROP TABLE IF EXISTS ${db}.revocation_latency`);
      await x.run(`DROP TABLE IF EXISTS ${db}.hygiene_findings`);
      for (const statement of hygieneViewStatements(db)) await x.run(statement);

      if (f.insertDeduplication) {
        for (const table of ['token_events', 'alerts', 'token_inventory']) {
          await x.run(`ALTER TABLE ${db}.${table} MODIFY SETTING non_replicated_deduplication_window = ${INSERT_DEDUPLICATION_WINDOW}`);
        }
      }
    },
  },
];

export interface MigrateOptions {
  database: string;
  /** The migrations to bring the schema to; default all of MIGRATIONS (tests pass a prefix to build an older schema). */
  migrations?: readonly Migration[];
}

export async function migrate(client: ClickHouseClient, opts: MigrateOptions): Promise<MigrateResult> {
  const db = assertDatabaseName(opts.database);
  const { serverVersion, features } = await detectServer(client);
  const run = async (query: string, what: string): Promise<void> => {
    try {
      await client.command({ query });
    } catch (cause) {
      throw new TokenwatchError('sink_failed', `ClickHouse migration failed (${what}): ${(cause as Error).message}`, undefined, { cause });
    }
  };

  await run(`CREATE DATABASE IF NOT EXISTS ${db}`, 'create database');
  await run(
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (
  version String,
  applied_at DateTime('UTC'),
  server_version String
) ENGINE = ReplacingMergeTree()
ORDER BY version`,
    'schema_migrations',
  );

  const rs = await client.query({ query: `SELECT DISTINCT version FROM ${db}.schema_migrations`, format: 'JSONEachRow' });
  const done = new Set((await rs.json<{ version: string }>()).map((r) => r.version));

  const applied: string[] = [];
  for (const m of opts.migrations ?? MIGRATIONS) {
    if (done.has(m.id)) continue;
    const ctx: MigrationContext = { database: db, features };
    for (const statement of m.statements(ctx)) await run(statement, m.id);
    if (m.apply) {
      await m.apply(
        {
          run: (statement) => run(statement, m.id),
          rows: async <T>(query: string): Promise<T[]> => {
            const rows = await client.query({ query, format: 'JSONEachRow' });
            return rows.json<T>();
          },
        },
        ctx,
      );
    }
    // Ids and versions are our own constants or the server's version string, quoted defensively.
    await run(
      `INSERT INTO ${db}.schema_migrations (version, applied_at, server_version) VALUES (${sqlString(m.id)}, now(), ${sqlString(serverVersion)})`,
      `record ${m.id}`,
    );
    applied.push(m.id);
  }
  return { serverVersion, applied, features };
}

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
