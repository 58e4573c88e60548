/**
 * The `alerts_ocsf` ClickHouse view: each stored alert as an OCSF 1.8.0 Detection Finding JSON
 * string (`finding`), next to alert_id, detector, severity and the times for filtering.
 *
 * ClickHouse 18.16 has no JSON-building functions (toJSONString, named tuples as objects), so the
 * JSON is concatenated from escaped strings with functions both 18.16 and current ClickHouse have
 * (concat, replaceAll, replaceRegexpAll, extractAll, visitParamExtractRaw, arrayMap,
 * arrayStringConcat, transform). Only the time conversion differs (DateTime vs DateTime64).
 *
 * The view carries the attributes the alerts table can give without the mapper's logic: the
 * class/type constants, severity, status, metadata, finding_info (analytic, types, times,
 * related events, ATT&CK technique/sub-technique without tactics), resources, remediation, and
 * `unmapped` {score, evidence} with the evidence JSON (events and baseline) verbatim. Evidences
 * and observables with tactics come from the mapper (replay, Kafka), not from SQL.
 */
import { ATTACK_TECHNIQUES } from './attack-catalog.js';
import { OCSF_VERSION } from './validate.js';

export interface ViewFeatures {
  dateTime64: boolean;
}

/** A ClickHouse single-quoted literal. */
const lit = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** SQL for the JSON string value of a String expression: quotes, backslashes and control characters escaped. */
function jsonString(expr: string): string {
  let e = `replaceAll(${expr}, ${lit('\\')}, ${lit('\\\\')})`;
  e = `replaceAll(${e}, ${lit('"')}, ${lit('\\"')})`;
  e = `replaceAll(${e}, ${lit('\n')}, ${lit('\\n')})`;
  e = `replaceAll(${e}, ${lit('\r')}, ${lit('\\r')})`;
  e = `replaceAll(${e}, ${lit('\t')}, ${lit('\\t')})`;
  e = `replaceRegexpAll(${e}, ${lit('[\\x00-\\x1F]')}, '')`;
  return `concat('"', ${e}, '"')`;
}

/** `"key":<json>` pieces joined into an object; a piece of '' (an absent optional) is dropped. */
function object(pieces: string[]): string {
  return `concat('{', arrayStringConcat(arrayFilter(x -> x != '', [${pieces.join(', ')}]), ','), '}')`;
}
const field = (key: string, json: string): string => `concat(${lit(`"${key}":`)}, ${json})`;
const optional = (col: string, piece: string): string => `if(${col} = '', '', ${piece})`;
const jsonArray = (elements: string): string => `concat('[', arrayStringConcat(${elements}, ','), ']')`;

function attackSql(): string {
  const ids = Object.keys(ATTACK_TECHNIQUES);
  const names = ids.map((id) => ATTACK_TECHNIQUES[id]!.name);
  const nameOf = (e: string): string => `transform(${e}, [${ids.map(lit).join(', ')}], [${names.map(lit).join(', ')}], '')`;
  const entity = (e: string): string => object([field('uid', jsonString(e)), `if(${nameOf(e)} = '', '', ${field('name', jsonString(nameOf(e)))})`]);
  const parent = `splitByChar('.', t)[1]`;
  const oneAttack = object([field('technique', entity(parent)), `if(position(t, '.') = 0, '', ${field('sub_technique', entity('t'))})`]);
  return jsonArray(`arrayMap(t -> ${oneAttack}, mitre_attack)`);
}

/** The SELECT that turns rows of `source` (the alerts table's columns) into findings. */
export function alertsOcsfSelect(source: string, f: ViewFeatures): string {
  const ms = (col: string): string => (f.dateTime64 ? `toString(toUnixTimestamp64Milli(${col}))` : `toString(toUInt64(toUnixTimestamp(${col})) * 1000)`);
  const severityId = `transform(toString(severity), ['low', 'medium', 'high', 'critical'], ['2', '3', '4', '5'], '0')`;
  const severityCaption = `transform(toString(severity), ['low', 'medium', 'high', 'critical'], ['Low', 'Medium', 'High', 'Critical'], 'Unknown')`;
  const detectorKind = `concat(toString(detector), '/', toString(kind))`;
  const analyticType = `transform(toString(detector), ['mint_rate_spike', 'credential_context', 'scope_drift'], ['3', '2', '2'], '1')`;
  const analyticCaption = `transform(toString(detector), ['mint_rate_spike', 'credential_context', 'scope_drift'], ['Statistical', 'Behavioral', 'Behavioral'], 'Rule')`;
  // event ids as they sit in the evidence JSON: already-escaped JSON string content
  const eventIds = `extractAll(evidence, ${lit('"event_id":"((?:[^"\\\\]|\\\\.)*)"')})`;
  const finding = object([
    `'"class_uid":2004,"class_name":"Detection Finding","category_uid":2,"category_name":"Findings","activity_id":1,"activity_name":"Create","type_uid":200401,"type_name":"Detection Finding: Create"'`,
    field('time', ms('last_seen')),
    field('start_time', ms('first_seen')),
    field('end_time', ms('last_seen')),
    field('severity_id', severityId),
    field('severity', jsonString(severityCaption)),
    `'"status_id":1,"status":"New","is_alert":true,"action_id":3,"action":"Observed","disposition_id":15,"disposition":"Detected"'`,
    field('message', jsonString('summary')),
    field(
      'metadata',
      object([
        `'"version":${JSON.stringify(OCSF_VERSION)},"profiles":["security_control"],"product":{"name":"tokenwatch","vendor_name":"tokenwatch"}'`,
        field('uid', jsonString('alert_id')),
        field('correlation_uid', jsonString('dedup_key')),
      ]),
    ),
    field(
      'finding_info',
      object([
        field('uid', jsonString('alert_id')),
        field('title', jsonString('title')),
        field('desc', jsonString('summary')),
        field(
          'analytic',
          object([
            field('name', jsonString(detectorKind)),
            field('uid', jsonString(`concat(toString(detector), ':', toString(kind))`)),
            field('type_id', analyticType),
            field('type', jsonString(analyticCaption)),
            field('version', jsonString('toString(detector_version)')),
          ]),
        ),
        field('types', jsonArray(`[${jsonString(`concat('tokenwatch/', ${detectorKind})`)}]`)),
        field('first_seen_time', ms('first_seen')),
        field('last_seen_time', ms('last_seen')),
        field('related_events', jsonArray(`arrayMap(e -> concat('{"uid":"', e, '"}'), ${eventIds})`)),
        field('related_events_count', `toString(length(${eventIds}))`),
        `if(empty(mitre_attack), '', ${field('attacks', attackSql())})`,
        `if(empty(owasp_nhi), '', ${field('tags', `concat('[{"name":"owasp_nhi","values":', ${jsonArray(`arrayMap(n -> ${jsonString('n')}, owasp_nhi)`)}, '}]')`)})`,
      ]),
    ),
    `if(empty(mitre_attack), '', ${field('attacks', attackSql())})`,
    field(
      'resources',
      jsonArray(
        `arrayFilter(x -> x != '', [
          ${optional('token_fp', `concat('{"uid":', ${jsonString('token_fp')}, ',"type":"token","role_id":3,"role":"Affected"}')`)},
          ${optional('toString(issuer)', `concat('{"uid":', ${jsonString('toString(issuer)')}, ',"type":"token_issuer",', if(token_fp = '', '"role_id":3,"role":"Affected"', '"role_id":4,"role":"Related"'), '}')`)},
          ${optional('toString(service)', `concat('{"name":', ${jsonString('toString(service)')}, ',"type":"service","role_id":1,"role":"Target"}')`)}
        ])`,
      ),
    ),
    field('remediation', object([field('desc', jsonString('runbook'))])),
    // evidence is the alert's evidence object as JSON.stringify wrote it: embedded verbatim
    field('unmapped', `concat('{"score":', toString(score), ',"evidence":', if(evidence = '', 'null', evidence), '}')`),
  ]);
  return `SELECT alert_id, detector, kind, severity, first_seen, last_seen, ${finding} AS finding
FROM ${source}`;
}

/** The view over `<db>.alerts`; a plain (not materialized) view, so it always reflects the table. */
export function alertsOcsfViewStatements(database: string, f: ViewFeatures): string[] {
  return [`CREATE VIEW IF NOT EXISTS ${database}.alerts_ocsf AS\n${alertsOcsfSelect(`${database}.alerts`, f)}`];
}
