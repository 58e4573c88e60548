/**
 * Incidents in ClickHouse: the `incidents` table (migration 0007, same DDL shape on embedded chDB
 * and ClickHouse 18.16) and its JSONEachRow rows. An incident is written once, when it closes;
 * ids are deterministic, so a ReplacingMergeTree collapses a re-written incident (replays,
 * redelivery) and queries count with GROUP BY incident_id.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Incident } from '../../schemas/incident.js';
import { TokenwatchError } from '../core/errors.js';
import { assertDatabaseName } from '../store/clickhouse-client.js';
import { formatTime, type TimePrecision } from '../store/rows.js';

export function incidentsTableStatements(db: string, f: { lowCardinality: boolean; dateTime64: boolean }): string[] {
  const label = f.lowCardinality ? 'LowCardinality(String)' : 'String';
  const time = f.dateTime64 ? "DateTime64(3, 'UTC')" : "DateTime('UTC')";
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.incidents (
  incident_id String,
  schema_version UInt8,
  title String,
  severity ${label},
  max_alert_severity ${label},
  detectors Array(String),
  token_fps Array(String),
  issuers Array(String),
  first_seen ${time},
  last_seen ${time},
  alert_count UInt32,
  suppressed_repeats UInt32,
  alert_ids Array(String),
  alerts String,
  timeline String
) ENGINE = ReplacingMergeTree(last_seen)
PARTITION BY toYYYYMM(first_seen)
ORDER BY (first_seen, incident_id)`,
  ];
}

export interface IncidentRow {
  incident_id: string;
  schema_version: number;
  title: string;
  severity: string;
  max_alert_severity: string;
  detectors: string[];
  token_fps: string[];
  issuers: string[];
  first_seen: string;
  last_seen: string;
  alert_count: number;
  suppressed_repeats: number;
  alert_ids: string[];
  alerts: string;
  timeline: string;
}

export function incidentRow(inc: Incident, precision: TimePrecision): IncidentRow {
  return {
    incident_id: inc.incident_id,
    schema_version: inc.schema_version,
    title: inc.title,
    severity: inc.severity,
    max_alert_severity: inc.max_alert_severity,
    detectors: inc.detectors,
    token_fps: inc.token_fps,
    issuers: inc.issuers,
    first_seen: formatTime(Date.parse(inc.first_seen), precision),
    last_seen: formatTime(Date.parse(inc.last_seen), precision),
    alert_count: inc.alert_count,
    suppressed_repeats: inc.suppressed_repeats,
    alert_ids: inc.alerts.map((a) => a.alert_id),
    alerts: JSON.stringify(inc.alerts),
    timeline: JSON.stringify(inc.timeline),
  };
}

/** One JSONEachRow insert (incidents are few: no batching beyond the caller's array). */
export async function writeIncidents(client: ClickHouseClient, database: string, precision: TimePrecision, incidents: readonly Incident[]): Promise<void> {
  if (incidents.length === 0) return;
  const db = assertDatabaseName(database);
  try {
    await client.insert({ table: `${db}.incidents`, values: incidents.map((i) => incidentRow(i, precision)), format: 'JSONEachRow' });
  } catch (cause) {
    throw new TokenwatchError('sink_failed', `ClickHouse insert into ${db}.incidents failed: ${(cause as Error).message}`, undefined, { cause });
  }
}
