/**
 * TokenEvent / Alert / InventoryRecord → ClickHouse row objects for JSONEachRow inserts.
 * Column names match the tables created in migrations.ts (test/store/* checks them against
 * system.columns on both the embedded store and the server).
 *
 * Times are written as 'YYYY-MM-DD hh:mm:ss[.sss]' UTC strings: that text parses into both
 * DateTime and DateTime64(3) columns. ClickHouse 18.16 rejects the fractional part on a
 * DateTime column, so `precision: 's'` drops it; modern servers take '.sss' even for DateTime.
 * Optional strings become '' (no Nullable(String)), optional times NULL.
 */
import type { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { InventoryRecord } from '../inventory/inventory-record.js';
import { TokenwatchError } from '../core/errors.js';

/** 'ms' for servers with DateTime64 (writes milliseconds), 's' for old servers (ClickHouse 18.x). */
export type TimePrecision = 'ms' | 's';

export function timePrecisionFor(features: { dateTime64: boolean }): TimePrecision {
  return features.dateTime64 ? 'ms' : 's';
}

/** DateTime ends at 2106; clamp far-future expiries (some vendors say "never" with year 9999). */
const MAX_TIME_MS = Date.UTC(2105, 11, 31, 23, 59, 59);

export function formatTime(ms: number, precision: TimePrecision): string {
  if (!Number.isFinite(ms)) throw new TokenwatchError('sink_failed', `cannot store non-finite time ${ms}`);
  const clamped = Math.min(Math.max(Math.trunc(ms), 0), MAX_TIME_MS);
  const iso = new Date(clamped).toISOString(); // YYYY-MM-DDThh:mm:ss.sssZ
  return `${iso.slice(0, 10)} ${iso.slice(11, precision === 'ms' ? 23 : 19)}`;
}

function formatOptionalTime(ms: number | undefined, precision: TimePrecision): string | null {
  return ms === undefined ? null : formatTime(ms, precision);
}

function parseIsoTime(iso: string, field: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new TokenwatchError('sink_failed', `alert ${field} is not an ISO-8601 time`);
  return ms;
}

export interface TokenEventRow {
  event_id: string;
  source: string;
  platform: string;
  action: string;
  time: string;
  token_fp: string;
  token_kind: string;
  token_hint: string;
  token_one_time: 0 | 1;
  parent_fp: string;
  issuer: string;
  minted_by: string;
  authority: string;
  subject: string;
  audience: string[];
  service: string;
  scopes_requested: string[];
  scopes_granted: string[];
  scopes_used: string[];
  issued_at: string | null;
  expires_at: string | null;
  ip: string;
  asn: string;
  network_label: string;
  user_agent: string;
  workload_kind: string;
  workload_id: string;
  outcome: string;
  operation: string;
  signal: string;
}

export function tokenEventRow(ev: TokenEvent, precision: TimePrecision): TokenEventRow {
  return {
    event_id: ev.event_id,
    source: ev.source,
    platform: ev.platform,
    action: ev.action,
    time: formatTime(ev.time, precision),
    token_fp: ev.token.fp,
    token_kind: ev.token.kind,
    token_hint: ev.token.hint ?? '',
    token_one_time: ev.token.one_time ? 1 : 0,
    parent_fp: ev.parent_fp ?? '',
    issuer: ev.issuer ?? '',
    minted_by: ev.minted_by ?? '',
    authority: ev.authority ?? '',
    subject: ev.subject ?? '',
    audience: ev.audience ?? [],
    service: ev.service ?? '',
    scopes_requested: ev.scopes_requested ?? [],
    scopes_granted: ev.scopes_granted ?? [],
    scopes_used: ev.scopes_used ?? [],
    issued_at: formatOptionalTime(ev.issued_at, precision),
    expires_at: formatOptionalTime(ev.expires_at, precision),
    ip: ev.network?.ip ?? '',
    asn: ev.network?.asn ?? '',
    network_label: ev.network?.label ?? '',
    user_agent: ev.user_agent ?? '',
    workload_kind: ev.workload?.kind ?? '',
    workload_id: ev.workload?.id ?? '',
    outcome: ev.outcome ?? '',
    operation: ev.operation ?? '',
    signal: ev.signal ?? '',
  };
}

export interface AlertRow {
  alert_id: string;
  schema_version: number;
  detector: string;
  detector_version: number;
  kind: string;
  severity: string;
  score: number;
  title: string;
  summary: string;
  token_fp: string;
  issuer: string;
  subject: string;
  service: string;
  first_seen: string;
  last_seen: string;
  /** `{ events, baseline }` as a JSON string. */
  evidence: string;
  mitre_attack: string[];
  owasp_nhi: string[];
  runbook: string;
  dedup_key: string;
}

export function alertRow(alert: Alert, precision: TimePrecision): AlertRow {
  return {
    alert_id: alert.alert_id,
    schema_version: alert.schema_version,
    detector: alert.detector,
    detector_version: alert.detector_version,
    kind: alert.kind,
    severity: alert.severity,
    score: alert.score,
    title: alert.title,
    summary: alert.summary,
    token_fp: alert.token_fp ?? '',
    issuer: alert.issuer ?? '',
    subject: alert.subject ?? '',
    service: alert.service ?? '',
    first_seen: formatTime(parseIsoTime(alert.first_seen, 'first_seen'), precision),
    last_seen: formatTime(parseIsoTime(alert.last_seen, 'last_seen'), precision),
    evidence: JSON.stringify(alert.evidence),
    mitre_attack: alert.mitre_attack,
    owasp_nhi: alert.owasp_nhi,
    runbook: alert.runbook,
    dedup_key: alert.dedup_key,
  };
}

export interface InventoryRow {
  token_fp: string;
  kind: string;
  issuer: string;
  subject: string;
  authority: string;
  minted_by: string;
  scopes: string[];
  audience: string[];
  minted_at: string | null;
  expires_at: string | null;
  lifetime_ms: number | null;
  first_seen: string;
  last_seen: string;
  first_use: string | null;
  last_use: string | null;
  use_count: number;
  services: string[];
  networks: string[];
  platforms: string[];
  revoked_at: string | null;
  version: number;
}

export function inventoryRow(rec: InventoryRecord, precision: TimePrecision): InventoryRow {
  return {
    token_fp: rec.token_fp,
    kind: rec.kind,
    issuer: rec.issuer ?? '',
    subject: rec.subject ?? '',
    authority: rec.authority ?? '',
    minted_by: rec.minted_by ?? '',
    scopes: rec.scopes,
    audience: rec.audience,
    minted_at: formatOptionalTime(rec.minted_at, precision),
    expires_at: formatOptionalTime(rec.expires_at, precision),
    // A negative lifetime (expiry before mint: clock skew in vendor data) is not a lifetime.
    lifetime_ms: rec.lifetime_ms !== undefined && rec.lifetime_ms >= 0 ? Math.trunc(rec.lifetime_ms) : null,
    first_seen: formatTime(rec.first_seen, precision),
    last_seen: formatTime(rec.last_seen, precision),
    first_use: formatOptionalTime(rec.first_use, precision),
    last_use: formatOptionalTime(rec.last_use, precision),
    use_count: rec.use_count,
    services: rec.services,
    networks: rec.networks,
    platforms: [...rec.platforms],
    revoked_at: formatOptionalTime(rec.revoked_at, precision),
    version: Math.max(0, Math.trunc(rec.version)),
  };
}

/**
 * A row object as one JSONEachRow line, without the fields that hold their column's default
 * ('' for String and LowCardinality(String), NULL for Nullable, [] for Array): ClickHouse fills
 * omitted fields with those (18.16 as well as current), and leaving them out makes a token event
 * line ~20 % shorter to send and to parse. Keys are our own column names (no escaping needed).
 */
export function encodeRowLine(row: object): string {
  const out: string[] = ['{'];
  const r = row as Record<string, unknown>;
  for (const key in r) {
    const v = r[key];
    if (v === '' || v === null || v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    // pieces joined once: a line grown by += is a rope that costs more to flatten than to build
    out.push(out.length > 1 ? `,"${key}":` : `"${key}":`, typeof v === 'number' && Number.isFinite(v) ? String(v) : JSON.stringify(v));
  }
  out.push('}\n');
  return out.join('');
}

/** Characters JSON.stringify escapes in a string: quote, backslash, controls, lone surrogates (any surrogate: checked precisely there). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON.stringify writes it; most of ours need no escaping, so skip its scan-and-copy. */
function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

function jsonStrings(a: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < a.length; i++) out += (i === 0 ? '' : ',') + jsonString(a[i]!);
  return `${out}]`;
}

/**
 * The line's pieces, joined once at the end: a line grown by `+=` is a rope of ~60 string objects,
 * and flattening it (which its UTF-8 encoding must) cost 7.3 µs a line, twice what building it did
 * (measured); join() copies each piece once into a flat string. One array, reused: no I/O between
 * a line's start and its join, so no other line can interleave.
 */
const parts: string[] = [];

/** `"key":value` appended when the string is not empty (as encodeRowLine leaves '' out). */
function putString(key: string, v: string | undefined): void {
  if (v) parts.push(parts.length > 1 ? `,"${key}":` : `"${key}":`, jsonString(v));
}

function putStrings(key: string, v: readonly string[] | undefined): void {
  if (v && v.length > 0) parts.push(parts.length > 1 ? `,"${key}":` : `"${key}":`, jsonStrings(v));
}

/**
 * encodeRowLine(tokenEventRow(ev, precision)), written straight from the event: the same line
 * byte for byte (test/store/rows.test.ts compares them over simulated and edge-case events), without
 * the 30-field row object and the generic walk over it: 4.6–5.3 µs a row against 12–17 µs for the
 * two (measured, bench-free loop over 100,000 simulated events), the largest cost of storing token events.
 */
export function encodeTokenEventLine(ev: TokenEvent, precision: TimePrecision): string {
  const t = ev.token;
  parts.length = 0;
  parts.push('{');
  putString('event_id', ev.event_id);
  putString('source', ev.source);
  putString('platform', ev.platform);
  putString('action', ev.action);
  putString('time', formatTime(ev.time, precision));
  putString('token_fp', t.fp);
  putString('token_kind', t.kind);
  putString('token_hint', t.hint);
  parts.push(parts.length > 1 ? ',"token_one_time":' : '"token_one_time":', t.one_time ? '1' : '0');
  putString('parent_fp', ev.parent_fp);
  putString('issuer', ev.issuer);
  putString('minted_by', ev.minted_by);
  putString('authority', ev.authority);
  putString('subject', ev.subject);
  putStrings('audience', ev.audience);
  putString('service', ev.service);
  putStrings('scopes_requested', ev.scopes_requested);
  putStrings('scopes_granted', ev.scopes_granted);
  putStrings('scopes_used', ev.scopes_used);
  if (ev.issued_at !== undefined) putString('issued_at', formatTime(ev.issued_at, precision));
  if (ev.expires_at !== undefined) putString('expires_at', formatTime(ev.expires_at, precision));
  const n = ev.network;
  if (n) {
    putString('ip', n.ip);
    putString('asn', n.asn);
    putString('network_label', n.label);
  }
  putString('user_agent', ev.user_agent);
  const w = ev.workload;
  if (w) {
    putString('workload_kind', w.kind);
    putString('workload_id', w.id);
  }
  putString('outcome', ev.outcome);
  putString('operation', ev.operation);
  putString('signal', ev.signal);
  parts.push('}\n');
  const line = parts.join('');
  parts.length = 0;
  return line;
}
