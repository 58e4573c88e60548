/**
 * Which records an envelope claims: the logstash envelope needs Logstash/Beats markers beside
 * `@timestamp` (vendors that write `@timestamp` themselves — GitHub audit, Keycloak ECS logs —
 * are read as they are), and `aws guardduty get-findings` pages are opened one finding each.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeOpened, openRecord, type OpenedRecord, type RecordLimits } from '../../src/envelopes/index.js';
import { guarddutyFindings } from '../../src/envelopes/guardduty-findings.js';
import { azureEventHubs } from '../../src/envelopes/azure-event-hubs.js';
import { logstash } from '../../src/envelopes/logstash.js';
import { decodeValue } from '../../src/pipeline/decode.js';
import type { TokenEvent } from '../../schemas/token-event.js';

const VENDORS = fileURLToPath(new URL('../fixtures/vendors/', import.meta.url));
const ENVELOPES = fileURLToPath(new URL('../fixtures/envelopes/', import.meta.url));
const LIMITS: RecordLimits = { maxEventBytes: 256 * 1024, maxDepth: 32, maxDecompressedBytes: 16 * 1024 * 1024 };
const ctx = { fingerprint: createFingerprinter({ key: 'envelope-detection-test-key-0123456789' }) };
const vendor = (path: string): Record<string, unknown> => JSON.parse(readFileSync(VENDORS + path, 'utf8')) as Record<string, unknown>;
const RECORDS = (JSON.parse(readFileSync(ENVELOPES + 'cloudtrail-records.json', 'utf8')) as { Records: Record<string, unknown>[] }).Records;

/** Every valid record of a vendor fixture directory: the single-record files and replay.ndjson lines. */
function validRecords(dir: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const name of readdirSync(VENDORS + dir).sort()) {
    if (name.startsWith('invalid-')) continue;
    if (name.endsWith('.json')) out.push(vendor(`${dir}/${name}`));
    else if (name.endsWith('.ndjson')) for (const l of readFileSync(`${VENDORS}${dir}/${name}`, 'utf8').split('\n')) if (l.trim()) out.push(JSON.parse(l) as Record<string, unknown>);
  }
  return out;
}

function eventsOf(opened: OpenedRecord[]): TokenEvent[] {
  return opened.flatMap((o) => {
    const r = decodeOpened(o, ctx);
    if (!r.ok) throw new Error(`rejected: ${r.error.message}`);
    return r.events;
  });
}

describe('logstash envelope: not every @timestamp is Logstash', () => {
  it('leaves native GitHub audit log records alone (they carry @timestamp themselves)', () => {
    const records = validRecords('github_audit').filter((r) => '@timestamp' in r);
    expect(records.length).toBeGreaterThanOrEqual(15);
    for (const r of records) {
      expect(logstash.detect(r), String(r._document_id)).toBe(false);
      const [o] = openRecord(JSON.stringify(r), LIMITS);
      expect(o!.envelope).toBeUndefined();
    }
    const events = eventsOf(records.map((r) => openRecord(JSON.stringify(r), LIMITS)[0]!));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.source === 'github_audit' && e.envelope === undefined)).toBe(true);
  });

  it('leaves a Keycloak ECS JSON log line (flat "log.logger", "ecs.version") alone', () => {
    const line = vendor('keycloak/ecs-log-client-login.json');
    expect(logstash.detect(line)).toBe(false);
    const opened = openRecord(JSON.stringify(line), LIMITS);
    expect(opened).toEqual([{ value: line }]);
    const events = eventsOf(opened);
    expect(events).toHaveLength(1);
    expect(events[0]!.source).toBe('keycloak');
    expect(events[0]!.envelope).toBeUndefined();
  });

  it('still opens real Logstash and Filebeat events', () => {
    const [fromLogstash] = openRecord(JSON.stringify({ ...RECORDS[1], '@timestamp': '2024-06-01T10:07:02.000Z', '@version': '1' }), LIMITS);
    expect(fromLogstash).toMatchObject({ envelope: 'logstash', value: RECORDS[1] });
    // Filebeat with json.keys_under_root: the record at top level beside agent/ecs/log objects
    const beat = { ...RECORDS[2], '@timestamp': '2024-06-01T10:12:40.000Z', agent: { type: 'filebeat', version: '8.13.4' }, ecs: { version: '8.0.0' }, log: { file: { path: '/var/log/ct.ndjson' }, offset: 0 } };
    expect(openRecord(JSON.stringify(beat), LIMITS)[0]!.envelope).toBe('logstash');
    // Logstash tcp input: host + the line in message
    const tcp = { '@timestamp': '2024-06-01T10:20:00.000Z', host: '10.0.0.5', port: 51234, message: JSON.stringify(RECORDS[3]) };
    expect(openRecord(JSON.stringify(tcp), LIMITS)[0]).toMatchObject({ envelope: 'logstash', value: RECORDS[3] });
    // only @timestamp around a JSON line
    expect(openRecord(JSON.stringify({ '@timestamp': '2024-06-01T10:20:00.000Z', message: JSON.stringify(RECORDS[4]) }), LIMITS)[0]).toMatchObject({ envelope: 'logstash', value: RECORDS[4] });
    // the Filebeat export fixture: @metadata + log + message
    for (const l of readFileSync(ENVELOPES + 'filebeat-message.ndjson', 'utf8').trim().split('\n')) expect(openRecord(l, LIMITS)[0]!.envelope).toBe('logstash');
  });

  it('opens a lowercased CloudTrail record with only @timestamp added (an Elastic ingest pipeline)', () => {
    const { eventTime, ...rest } = RECORDS[1]!;
    const lower = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k.toLowerCase(), v]));
    const [o] = openRecord(JSON.stringify({ ...lower, '@timestamp': eventTime }), LIMITS);
    expect(o!.envelope).toBe('logstash');
    expect((o!.value as Record<string, unknown>).eventTime).toBe(eventTime);
    expect((o!.value as Record<string, unknown>).eventName).toBe(RECORDS[1]!.eventName);
  });

  it('does not take a vendor record with a plain "message" string and @timestamp for a Logstash event', () => {
    expect(logstash.detect({ '@timestamp': 1, action: 'repo.create', message: 'created repository' })).toBe(false);
  });
});

describe('guardduty_findings envelope (aws guardduty get-findings)', () => {
  const credential = vendor('guardduty/cli-credential-access-anomalous-behavior.json');
  const portProbe = vendor('guardduty/port-probe-no-credential.json');

  it('opens {"Findings":[…]} one finding per record; the events are those of the findings on their own', () => {
    const page = { Findings: [credential, portProbe] };
    const opened = openRecord(JSON.stringify(page), LIMITS);
    expect(opened.map((o) => [o.envelope, o.envelope_index])).toEqual([
      ['guardduty_findings', 0],
      ['guardduty_findings', 1],
    ]);
    expect(opened.map((o) => o.value)).toEqual([credential, portProbe]);
    const events = eventsOf(opened);
    const plain = [credential, portProbe].flatMap((f) => {
      const r = decodeValue(f, ctx);
      if (!r.ok) throw new Error(r.error.message);
      return r.events;
    });
    expect(plain).toHaveLength(1); // the CredentialAccess finding; a port probe names no key
    expect(events).toEqual(plain.map((e) => ({ ...e, envelope: 'guardduty_findings' })));
    expect(events[0]).toMatchObject({ source: 'guardduty', action: 'reuse_signal', signal: 'CredentialAccess:IAMUser/AnomalousBehavior' });
  });

  it('opens an empty page to nothing and dead-letters a non-object element on its own', () => {
    expect(openRecord('{"Findings":[]}', LIMITS)).toEqual([]);
    const opened = openRecord(JSON.stringify({ Findings: [credential, 'oops'] }), LIMITS);
    expect(opened[0]!.value).toEqual(credential);
    expect(opened[1]).toMatchObject({ envelope: 'guardduty_findings', envelope_index: 1, inner_raw: 'oops' });
    expect(opened[1]!.error?.code).toBe('schema_violation');
  });

  it('claims only pages of findings: not a single finding, an EventBridge finding or other Findings arrays', () => {
    expect(guarddutyFindings.detect(credential)).toBe(false);
    expect(guarddutyFindings.detect(vendor('guardduty/eventbridge-instance-credential-exfiltration-outside-aws.json'))).toBe(false);
    expect(guarddutyFindings.detect({ Findings: [{ Id: 'x' }] })).toBe(false); // no Type: not a GuardDuty finding
    expect(guarddutyFindings.detect({ Findings: [], NextToken: 'abc' })).toBe(false);
  });
});

describe('azure_event_hubs envelope (Azure Monitor diagnostic settings via Event Hubs)', () => {
  const audit = vendor('entra_audit/monitor-update-application-certificates-and-secrets.json');
  const consent = vendor('entra_audit/monitor-consent-to-application.json');

  it('opens {"records":[…]} one Azure Monitor record per element; the events are those of the records on their own', () => {
    const opened = openRecord(JSON.stringify({ records: [audit, consent] }), LIMITS);
    expect(opened.map((o) => [o.envelope, o.envelope_index])).toEqual([
      ['azure_event_hubs', 0],
      ['azure_event_hubs', 1],
    ]);
    const plain = [audit, consent].flatMap((r) => {
      const d = decodeValue(r, ctx);
      if (!d.ok) throw new Error(d.error.message);
      return d.events;
    });
    expect(plain.length).toBeGreaterThan(0);
    expect(eventsOf(opened)).toEqual(plain.map((e) => ({ ...e, envelope: 'azure_event_hubs' })));
  });

  it('claims only arrays of Azure Monitor records, and dead-letters a non-object element on its own', () => {
    expect(azureEventHubs.detect(audit)).toBe(false);
    expect(azureEventHubs.detect({ records: [{ id: 1 }] })).toBe(false);
    expect(azureEventHubs.detect({ Records: [audit] })).toBe(false); // CloudTrail's S3 objects spell it Records
    expect(openRecord('{"records":[]}', LIMITS)).toEqual([]);
    const opened = openRecord(JSON.stringify({ records: [audit, 7] }), LIMITS);
    expect(opened[1]).toMatchObject({ envelope: 'azure_event_hubs', envelope_index: 1 });
    expect(opened[1]!.error?.code).toBe('schema_violation');
  });
});
