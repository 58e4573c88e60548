/**
 * Version-aware schema migrations for the ClickHouse store.
 *
 * The same migrations run on embedded chDB (ClickHouse 26.x) and on old servers such as
 * Debian's ClickHouse 18.16, which lacks LowCardinality (experimental there), DateTime64,
 * table TTL and query parameters. `SELECT version()` picks the column types:
 *   modern: LowCardinality(String) for low-cardinality labels, DateTime64(3, 'UTC'), TTL on token_events
 *   18.x:   String, DateTime('UTC'), no TTL (expire token_events by dropping old partitions)
 *
 * Applied migration ids are recorded in `<db>.schema_migrations`, so `migrate()` is idempotent
 * and new migrations (ALTERs) can be appended to MIGRATIONS later. Every statement is itself
 * idempotent (IF NOT EXISTS) so a run that died half-way simply runs again.
 *
 * Deduplication: alert ids are deterministic, so `alerts` is a ReplacingMergeTree whose sorting
 * key ends with alert_id; merges collapse re-inserted copies eventually, and dashboards count
 * alerts exactly with GROUP BY alert_id (never plain count()). `token_inventory` is a
 * ReplacingMergeTree(version) read with FINAL. `issuer_mints_per_minute` is a SummingMergeTree
 * filled by a materialized view (`… TO …`, supported since long before 18.16); read it with sum().
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { TokenwatchError } from '../core/errors.js';
import { assertDatabaseName } from './clickhouse-client.js';
import { alertsOcsfViewStatements } from '../ocsf/clickhouse-view.js';
import { hygieneViewStatements } from '../hygiene/hygiene-sql.js';
import { incidentsTableStatements } from '../incidents/incident-store.js';

export interface StoreFeatures {
  lowCardinality: boolean;
  dateTime64: boolean;
  ttl: boolean;
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

export interface Migration {
  id: string;
  statements(ctx: MigrationContext): string[];
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
 * LowCardinality left experimental in 19.x, table TTL arrived in 19.6, DateTime64 in 20.1.
 * Thresholds err on the late side: an older server gets the plain types, which still work.
 */
export function featuresForVersion(version: string): StoreFeatures {
  const v = parseVersion(version);
  return { lowCardinality: atLeast(v, 19, 9), dateTime64: atLeast(v, 20, 1), ttl: atLeast(v, 19, 6) };
}

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

export const MIGRATIONS: readonly Migration[] = [
  {
    id: '0001_token_events',
    statements: ({ database: db, features: f }) => {
      const t = types(f);
      // TTL on ingestion time, not event time: a replay of last quarter's logs must not expire on arrival.
      const ttl = f.ttl ? `\nTTL ingested_at + INTERVAL ${TOKEN_EVENTS_TTL_DAYS} DAY` : '';
      return [
        `CREATE TABLE IF NOT EXISTS ${db}.token_events (
  event_id String,
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
  ingested_at DateTime('UTC') DEFAULT now()
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(time)
ORDER BY (issuer, time)${ttl}`,
      ];
    },
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
];

export async function migrate(client: ClickHouseClient, opts: { database: string }): Promise<MigrateResult> {
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
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    for (const statement of m.statements({ database: db, features })) await run(statement, m.id);
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
