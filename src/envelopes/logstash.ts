/**
 * Logstash / Filebeat / Elastic Agent events: the vendor record with `@timestamp` (and
 * `@version`, `host`, `agent`, `ecs`, `log`, `input`, `fields`, `tags`) added, or — when the
 * JSON line was not decoded — only that metadata with the original line in `message` (Filebeat
 * `json.keys_under_root: false` puts the decoded line under `json`). Pipelines that lowercase
 * field names are undone for CloudTrail; a CloudTrail record without `eventTime` takes it from
 * `@timestamp`. Records that merely carry `@timestamp` (GitHub audit, Keycloak ECS logs) are
 * not Logstash events: see hasPipelineMarkers.
 * Shape: https://www.elastic.co/guide/en/beats/filebeat/current/exported-fields-beat-common.html
 */
import type { Envelope, InnerRecord } from './types.js';
import { isObject } from './types.js';
import { hasLowercasedCloudTrailKeys, restoreCloudTrailKeys } from './cloudtrail-keys.js';

/** Keys Logstash, Beats and ECS add around an event; a record of only these holds its line in `message`. */
const METADATA_KEYS = new Set(['@timestamp', '@version', '@metadata', 'message', 'host', 'port', 'agent', 'ecs', 'log', 'input', 'fields', 'tags', 'type', 'path', 'event', 'cloud', 'data_stream', 'json']);

function onlyMetadata(v: Record<string, unknown>): boolean {
  for (const k in v) if (!METADATA_KEYS.has(k)) return false;
  return true;
}

/** `@timestamp` as an ISO string (Logstash writes ISO; some exports write epoch milliseconds). */
function isoTime(t: unknown): string | undefined {
  if (typeof t === 'string' && t.length > 0) return t;
  if (typeof t === 'number' && Number.isFinite(t) && t > 0) return new Date(t).toISOString();
  return undefined;
}

/** The vendor record inside a Logstash event, with CloudTrail names and eventTime restored. */
function record(v: Record<string, unknown>): InnerRecord {
  if (onlyMetadata(v)) {
    if (isObject(v.json)) return withTime(v.json, v['@timestamp']);
    if (typeof v.message === 'string' && v.message.trimStart().startsWith('{')) return { text: v.message };
  }
  return withTime(v, v['@timestamp']);
}

function withTime(rec: Record<string, unknown>, timestamp: unknown): InnerRecord {
  const r = hasLowercasedCloudTrailKeys(rec) ? (restoreCloudTrailKeys(rec) as Record<string, unknown>) : rec;
  if (typeof r.eventSource === 'string' && typeof r.eventName === 'string' && r.eventTime === undefined) {
    const t = isoTime(timestamp);
    // the parsed record is ours alone: set the field rather than copy the object
    if (t !== undefined) r.eventTime = t;
  }
  return { value: r };
}

/**
 * `@timestamp` alone is not enough: vendors write it themselves (GitHub audit log exports,
 * Keycloak's and Quarkus' ECS JSON logs with flat dotted keys such as "log.logger"). A Logstash
 * or Beats event also carries what those pipelines add: `@version` (Logstash), `@metadata`
 * (Beats outputs), the nested ECS objects `agent`/`ecs`/`log`/`input`, `host` beside a
 * `message` (Logstash tcp/syslog inputs), only metadata around a JSON line or a `json` object,
 * or a CloudTrail record whose keys a pipeline lowercased.
 */
function hasPipelineMarkers(v: Record<string, unknown>): boolean {
  if ('@version' in v || isObject(v['@metadata'])) return true;
  if (isObject(v.agent) || isObject(v.ecs) || isObject(v.log) || isObject(v.input)) return true;
  if (typeof v.message === 'string' && 'host' in v) return true;
  if (onlyMetadata(v) && (isObject(v.json) || (typeof v.message === 'string' && v.message.trimStart().startsWith('{')))) return true;
  return hasLowercasedCloudTrailKeys(v);
}

export const logstash: Envelope = {
  id: 'logstash',
  description: 'Logstash/Filebeat/Elastic Agent event (@timestamp plus @version, @metadata, ECS agent/ecs/log/input objects, host+message or lowercased CloudTrail keys; record at top level, under json, or as a JSON line in message; CloudTrail key case and eventTime restored)',
  detect: (v) => '@timestamp' in v && hasPipelineMarkers(v),
  unwrap: (v) => ({ records: [record(v)] }),
};
