/**
 * What the HTML report shows, read from the store (embedded chDB or a ClickHouse server): the
 * minting rate of the busiest and the alerted issuers per bucket, alerts and incidents, and
 * inventory hygiene counts. The SQL is spliced text (ClickHouse 18.16 has no query parameters)
 * using only functions 18.16 and 26.x share, like src/store/dashboards/*.sql; times come back
 * as epoch seconds (UInt32), counts as UInt32. Alerts and incidents are counted once per id
 * (ReplacingMergeTree copies collapse in GROUP BY), the inventory is read with FINAL.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { assertDatabaseName } from '../store/clickhouse-client.js';

export interface ReportOptions {
  database: string;
  /** Report end (epoch ms); default: the newest stored event / alert time. */
  end?: number;
  /** How far back from `end` (ms); clipped to the first stored data. */
  spanMs: number;
  bucketMs: number;
  /** Issuers charted (alerted ones first, then the busiest minters). */
  maxIssuers: number;
}

export const DEFAULT_REPORT_OPTIONS: Omit<ReportOptions, 'database'> = { spanMs: 7 * 24 * 3600_000, bucketMs: 3600_000, maxIssuers: 6 };

export interface ReportAlert {
  alert_id: string;
  detector: string;
  kind: string;
  severity: string;
  issuer: string;
  token_fp: string;
  title: string;
  /** epoch ms of first_seen */
  time: number;
}

export interface ReportIncident {
  incident_id: string;
  severity: string;
  title: string;
  detectors: string[];
  alert_count: number;
  suppressed_repeats: number;
  time: number;
  last: number;
}

export interface IssuerSeries {
  issuer: string;
  /** mints per bucket, index i = bucket starting at start + i·bucketMs */
  mints: number[];
}

export interface HygieneCounts {
  tokens: number;
  live: number;
  revoked: number;
  expired: number;
  used_after_revocation: number;
  never_used: number;
  no_known_expiry: number;
  lifetime_over_90_days: number;
  several_services: number;
  idle_30_days: number;
}

export interface ReportData {
  generated_from: string;
  start: number;
  end: number;
  bucketMs: number;
  issuers: IssuerSeries[];
  alerts: ReportAlert[];
  incidents: ReportIncident[];
  /** false when the store has no incidents table yet (migrated before incidents existed). */
  incidentsAvailable: boolean;
  hygiene: HygieneCounts;
}

export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

const num = (v: unknown): number => Number(v ?? 0);

export async function loadReportData(client: ClickHouseClient, opts: ReportOptions, describe: string): Promise<ReportData> {
  const db = assertDatabaseName(opts.database);
  const [bounds] = await rows<{ first: number; last: number }>(
    client,
    // each branch as UInt32: 18.16 wants identical column types across UNION ALL; empty tables give 0
    `SELECT toUInt32(min(m)) AS first, toUInt32(max(m)) AS last FROM (
  SELECT toUInt32(min(minute)) AS m FROM ${db}.issuer_mints_per_minute UNION ALL SELECT toUInt32(max(minute)) AS m FROM ${db}.issuer_mints_per_minute
  UNION ALL SELECT toUInt32(toDateTime(min(first_seen))) AS m FROM ${db}.alerts UNION ALL SELECT toUInt32(toDateTime(max(last_seen))) AS m FROM ${db}.alerts
) WHERE m > 0`,
  );
  const lastData = num(bounds?.last) * 1000;
  const end = opts.end ?? (lastData > 0 ? Math.ceil((lastData + 1) / opts.bucketMs) * opts.bucketMs : Math.ceil(Date.now() / opts.bucketMs) * opts.bucketMs);
  const firstData = num(bounds?.first) * 1000;
  let start = end - opts.spanMs;
  if (firstData > start) start = Math.floor(firstData / opts.bucketMs) * opts.bucketMs;
  const S = `toDateTime(${Math.floor(start / 1000)})`;
  const E = `toDateTime(${Math.floor(end / 1000)})`;
  const buckets = Math.max(1, Math.ceil((end - start) / opts.bucketMs));

  const alerts = (
    await rows<Record<string, unknown>>(
      client,
      `SELECT alert_id, toString(any(detector)) AS detector, toString(any(kind)) AS kind, toString(argMax(severity, last_seen)) AS severity,
  toString(any(issuer)) AS issuer, any(token_fp) AS token_fp, any(title) AS title, toUInt32(toDateTime(min(first_seen))) AS t
FROM ${db}.alerts WHERE first_seen >= ${S} AND first_seen < ${E}
GROUP BY alert_id ORDER BY t, alert_id LIMIT 20000`,
    )
  ).map((r): ReportAlert => ({
    alert_id: String(r.alert_id), detector: String(r.detector), kind: String(r.kind), severity: String(r.severity),
    issuer: String(r.issuer ?? ''), token_fp: String(r.token_fp ?? ''), title: String(r.title ?? ''), time: num(r.t) * 1000,
  }));

  // alerted issuers first (mint-rate spikes before others), then the busiest minters
  const top = await rows<{ issuer: string }>(
    client,
    `SELECT toString(issuer) AS issuer, sum(mints) AS total FROM ${db}.issuer_mints_per_minute
WHERE minute >= ${S} AND minute < ${E} GROUP BY issuer ORDER BY total DESC, issuer LIMIT 200`,
  );
  const minting = new Set(top.map((r) => r.issuer));
  const chosen: string[] = [];
  const pick = (i: string) => {
    if (i !== '' && minting.has(i) && !chosen.includes(i) && chosen.length < opts.maxIssuers) chosen.push(i);
  };
  for (const a of alerts) if (a.detector === 'mint_rate_spike') pick(a.issuer);
  for (const a of alerts) pick(a.issuer);
  for (const r of top) pick(r.issuer);

  const issuers: IssuerSeries[] = chosen.map((issuer) => ({ issuer, mints: new Array<number>(buckets).fill(0) }));
  if (chosen.length > 0) {
    const series = await rows<{ issuer: string; b: number; mints: number | string }>(
      client,
      `SELECT toString(issuer) AS issuer, toUInt32(intDiv(toUInt32(minute) - ${Math.floor(start / 1000)}, ${Math.floor(opts.bucketMs / 1000)})) AS b, toUInt32(sum(mints)) AS mints
FROM ${db}.issuer_mints_per_minute
WHERE minute >= ${S} AND minute < ${E} AND issuer IN (${chosen.map(sqlString).join(', ')})
GROUP BY issuer, b ORDER BY issuer, b`,
    );
    for (const r of series) {
      const s = issuers.find((x) => x.issuer === r.issuer);
      if (s && r.b < buckets) s.mints[r.b] = num(r.mints);
    }
  }

  let incidents: ReportIncident[] = [];
  let incidentsAvailable = true;
  try {
    incidents = (
      await rows<Record<string, unknown>>(
        client,
        `SELECT incident_id, toString(argMax(severity, last_seen)) AS severity, argMax(title, last_seen) AS title, any(detectors) AS detectors,
  toUInt32(max(alert_count)) AS alert_count, toUInt32(max(suppressed_repeats)) AS suppressed_repeats,
  toUInt32(toDateTime(min(first_seen))) AS t, toUInt32(toDateTime(max(last_seen))) AS l
FROM ${db}.incidents WHERE first_seen >= ${S} AND first_seen < ${E}
GROUP BY incident_id ORDER BY t, incident_id LIMIT 5000`,
      )
    ).map((r): ReportIncident => ({
      incident_id: String(r.incident_id), severity: String(r.severity), title: String(r.title), detectors: (r.detectors as string[]) ?? [],
      alert_count: num(r.alert_count), suppressed_repeats: num(r.suppressed_repeats), time: num(r.t) * 1000, last: num(r.l) * 1000,
    }));
  } catch (err) {
    // a store migrated before incidents existed (code 60: unknown table): the report says so
    if (!/\b60\b|UNKNOWN_TABLE|doesn't exist|does not exist/i.test((err as Error).message)) throw err;
    incidentsAvailable = false;
  }

  const [h] = await rows<Record<string, unknown>>(
    client,
    `SELECT
  toUInt32(count()) AS tokens,
  toUInt32(countIf(isNull(revoked_at) AND (isNull(expires_at) OR assumeNotNull(expires_at) > ${E}))) AS live,
  toUInt32(countIf(isNotNull(revoked_at))) AS revoked,
  toUInt32(countIf(isNull(revoked_at) AND isNotNull(expires_at) AND assumeNotNull(expires_at) <= ${E})) AS expired,
  toUInt32(countIf(isNotNull(revoked_at) AND isNotNull(last_use) AND assumeNotNull(last_use) > assumeNotNull(revoked_at))) AS used_after_revocation,
  toUInt32(countIf(use_count = 0)) AS never_used,
  toUInt32(countIf(isNull(expires_at))) AS no_known_expiry,
  toUInt32(countIf(ifNull(lifetime_ms, 0) > 7776000000)) AS lifetime_over_90_days,
  toUInt32(countIf(length(services) > 1)) AS several_services,
  toUInt32(countIf(last_seen < ${E} - INTERVAL 30 DAY)) AS idle_30_days
FROM ${db}.token_inventory FINAL`,
  );
  const hygiene = Object.fromEntries(HYGIENE_KEYS.map((k) => [k, num(h?.[k])])) as unknown as HygieneCounts;
  return { generated_from: describe, start, end, bucketMs: opts.bucketMs, issuers, alerts, incidents, incidentsAvailable, hygiene };
}

export const HYGIENE_KEYS: readonly (keyof HygieneCounts)[] = [
  'tokens', 'live', 'revoked', 'expired', 'used_after_revocation', 'never_used', 'no_known_expiry', 'lifetime_over_90_days', 'several_services', 'idle_30_days',
];
