/**
 * Runs the hygiene queries against a store (embedded chDB or a server) as of a reference time.
 * The reference defaults to the newest stored event time, not the wall clock: replayed history
 * is judged as of its own end, and the same data always gives the same findings.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { TokenwatchError } from '../core/errors.js';
import { assertDatabaseName } from '../store/clickhouse-client.js';
import { hygieneFindingsSelect, revocationLatencySelect, type HygieneFindingKind } from './hygiene-sql.js';

export interface HygieneFinding {
  finding: HygieneFindingKind;
  severity: 'low' | 'medium' | 'high' | 'critical';
  owasp_nhi: string;
  token_fp: string;
  token_kind: string;
  issuer: string;
  subject: string;
  service: string;
  age_days: number;
  /** Unix seconds: when the finding was last evidenced (last sighting, resumed use, last use). */
  seen_at: number;
  detail: string;
}

export interface RevocationLatency {
  service: string;
  tokens: number;
  accepted_uses: number;
  rejected_uses: number;
  max_delay_s: number;
  median_delay_s: number;
  last_s: number;
}

export interface HygieneReport {
  /** Unix seconds the findings were judged at. */
  as_of: number;
  findings: HygieneFinding[];
  revocation_latency: RevocationLatency[];
}

const SEVERITY_RANK: Record<string, number> = { critical: 0, high: 1, medium: 2, low: 3 };

async function rows<T>(client: ClickHouseClient, query: string, what: string): Promise<T[]> {
  try {
    const rs = await client.query({ query, format: 'JSONEachRow' });
    return await rs.json<T>();
  } catch (cause) {
    throw new TokenwatchError('sink_failed', `hygiene query failed (${what}): ${(cause as Error).message}`, undefined, { cause });
  }
}

/** The newest event time stored (Unix seconds), else the newest inventory sighting, else undefined. */
export async function latestStoredTime(client: ClickHouseClient, database: string): Promise<number | undefined> {
  const db = assertDatabaseName(database);
  const [r] = await rows<{ t: number | string }>(
    client,
    `SELECT greatest((SELECT toUInt32(toDateTime(max(time))) FROM ${db}.token_events), (SELECT toUInt32(toDateTime(max(last_seen))) FROM ${db}.token_inventory)) AS t`,
    'latest time',
  );
  const t = Number(r?.t ?? 0);
  return t > 0 ? t : undefined;
}

/** All findings and the per-service revocation latency, as of `asOf` (Unix seconds; default the newest stored time). */
export async function runHygieneReport(client: ClickHouseClient, database: string, asOf?: number): Promise<HygieneReport> {
  const db = assertDatabaseName(database);
  const ref = asOf ?? (await latestStoredTime(client, db)) ?? Math.floor(Date.now() / 1000);
  if (!Number.isInteger(ref) || ref < 0) throw new TokenwatchError('config_invalid', `hygiene reference time must be whole Unix seconds, got ${ref}`);
  const findings = await rows<HygieneFinding>(client, hygieneFindingsSelect(db, `toUInt32(${ref})`), 'findings');
  const toNum = <T extends object>(r: T, keys: (keyof T)[]): T => {
    for (const k of keys) (r as Record<keyof T, unknown>)[k] = Number(r[k]);
    return r;
  };
  for (const f of findings) toNum(f, ['age_days', 'seen_at']);
  findings.sort(
    (a, b) =>
      (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9) ||
      a.finding.localeCompare(b.finding) ||
      a.issuer.localeCompare(b.issuer) ||
      a.service.localeCompare(b.service) ||
      a.token_fp.localeCompare(b.token_fp),
  );
  const latency = await rows<RevocationLatency>(client, revocationLatencySelect(db), 'revocation latency');
  for (const l of latency) toNum(l, ['tokens', 'accepted_uses', 'rejected_uses', 'max_delay_s', 'median_delay_s', 'last_s']);
  return { as_of: ref, findings, revocation_latency: latency };
}
