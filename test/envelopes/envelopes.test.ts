/**
 * Every envelope, opened by `openRecord` before format detection: the fixtures under
 * test/fixtures/envelopes wrap the same six CloudTrail records (test/fixtures/envelopes/
 * cloudtrail-records.json: a key minted, used twice, deleted, a KMS service event, a use after
 * the delete) the way each pipeline delivers them, shapes from the AWS and Elastic docs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { ENVELOPES, decodeOpened, openRecord, reasonInEnvelope, type OpenedRecord, type RecordLimits } from '../../src/envelopes/index.js';
import { restoreCloudTrailKeys } from '../../src/envelopes/cloudtrail-keys.js';
import { splitConcatenatedJson } from '../../src/envelopes/concatenated-json.js';
import { TokenEvent } from '../../schemas/token-event.js';

const FIX = fileURLToPath(new URL('../fixtures/envelopes/', import.meta.url));
const fixture = (name: string): string => readFileSync(FIX + name, 'utf8');
const RECORDS = (JSON.parse(fixture('cloudtrail-records.json')) as { Records: Record<string, unknown>[] }).Records;
const EVENT_IDS = RECORDS.map((r) => r.eventID);
const LIMITS: RecordLimits = { maxEventBytes: 256 * 1024, maxDepth: 32, maxDecompressedBytes: 16 * 1024 * 1024 };
const ctx = { fingerprint: createFingerprinter({ key: 'envelope-test-key-0123456789abcdef' }) };

const values = (opened: OpenedRecord[]): unknown[] => opened.map((o) => o.value);

/** Decodes every opened record; returns the token events (each checked against the schema). */
function events(opened: OpenedRecord[]): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (const o of opened) {
    const r = decodeOpened(o, ctx);
    if (!r.ok) throw new Error(`record ${o.envelope_index} rejected: ${r.error.message}`);
    for (const e of r.events) out.push(TokenEvent.parse(e));
  }
  return out;
}

describe('envelope registry', () => {
  it('has one module per envelope, with unique ids and descriptions', () => {
    expect(ENVELOPES.map((e) => e.id)).toEqual(['cloudtrail_records', 'eventbridge', 'cloudwatch_logs', 'cloudtrail_lookup_events', 'guardduty_findings', 'azure_event_hubs', 'elasticsearch', 'logstash']);
    for (const e of ENVELOPES) expect(e.description.length).toBeGreaterThan(20);
  });

  it('leaves a plain vendor record alone (no envelope, no copy)', () => {
    const opened = openRecord(JSON.stringify(RECORDS[1]), LIMITS);
    expect(opened).toHaveLength(1);
    expect(opened[0]!.envelope).toBeUndefined();
    expect(opened[0]!.value).toEqual(RECORDS[1]);
    expect(events(opened).every((e) => e.envelope === undefined)).toBe(true);
  });
});

describe('eventbridge', () => {
  const lines = fixture('eventbridge-cloudtrail.ndjson').trim().split('\n');

  it('unwraps detail of "AWS API Call via CloudTrail" (and "AWS Service Event via CloudTrail")', () => {
    const opened = lines.flatMap((l) => openRecord(l, LIMITS));
    expect(values(opened)).toEqual(RECORDS);
    expect(opened.every((o) => o.envelope === 'eventbridge' && o.envelope_index === 0)).toBe(true);
    const evs = events(opened);
    expect(evs.length).toBe(7); // create = mint (+ use of the admin key), 2 uses, delete = revoke (+ use), use after delete; KMS service event: none
    expect(evs.every((e) => e.envelope === 'eventbridge' && e.source === 'cloudtrail')).toBe(true);
  });

  it('leaves other EventBridge events (a GuardDuty finding) whole for their own format', () => {
    const finding = { version: '0', id: 'x', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', detail: { type: 'Recon:EC2/PortProbeUnprotectedPort' } };
    const opened = openRecord(JSON.stringify(finding), LIMITS);
    expect(opened[0]!.envelope).toBeUndefined();
    expect(opened[0]!.value).toEqual(finding);
  });
});

describe('cloudwatch_logs', () => {
  it('opens a decoded DATA_MESSAGE: one record per logEvents[].message', () => {
    const opened = openRecord(fixture('cloudwatch-logs-batch.json'), LIMITS);
    expect(values(opened)).toEqual(RECORDS);
    expect(opened.map((o) => o.envelope_index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(events(opened).every((e) => e.envelope === 'cloudwatch_logs')).toBe(true);
  });

  it('opens the Lambda event {"awslogs":{"data"}} made by gzip -9 | base64 (as AWS delivers it)', () => {
    expect(values(openRecord(fixture('cloudwatch-logs-lambda-event.json'), LIMITS))).toEqual(RECORDS);
  });

  it('opens a batch built with zlib + base64 here, as a raw gzip Kafka value and as base64 text', () => {
    const batch = JSON.stringify(JSON.parse(fixture('cloudwatch-logs-batch.json')));
    const gz = gzipSync(batch);
    expect(values(openRecord(gz, LIMITS))).toEqual(RECORDS); // Kinesis record data / Kafka value: gzip bytes
    expect(values(openRecord(gz.toString('base64'), LIMITS))).toEqual(RECORDS); // Kinesis "data" as text
    expect(values(openRecord(Buffer.from(JSON.stringify(gz.toString('base64'))), LIMITS))).toEqual(RECORDS); // a JSON string
  });

  it('skips a CONTROL_MESSAGE instead of dead-lettering it', () => {
    expect(openRecord(fixture('cloudwatch-logs-control-message.json'), LIMITS)).toEqual([{ skipped: 'control_message', envelope: 'cloudwatch_logs' }]);
  });

  it('dead-letters a bad message on its own, with its position; its siblings go on', () => {
    const batch = JSON.parse(fixture('cloudwatch-logs-batch.json'));
    batch.logEvents[2].message = '{"eventVersion": "1.08", truncated';
    batch.logEvents[4] = { id: '1', timestamp: 1 };
    const opened = openRecord(JSON.stringify(batch), LIMITS);
    expect(opened).toHaveLength(6);
    expect(opened[2]).toMatchObject({ envelope: 'cloudwatch_logs', envelope_index: 2, inner_raw: '{"eventVersion": "1.08", truncated' });
    expect(opened[2]!.error?.code).toBe('invalid_json');
    expect(opened[4]!.error?.code).toBe('schema_violation');
    expect(reasonInEnvelope(opened[2]!, opened[2]!.error!).message).toMatch(/^cloudwatch_logs\[2\]: not valid JSON/);
    expect(values(opened.filter((o) => !o.error))).toEqual([RECORDS[0], RECORDS[1], RECORDS[3], RECORDS[5]]);
  });

  it('rejects an unknown messageType and a broken awslogs.data with a reason', () => {
    const [bad] = openRecord(JSON.stringify({ messageType: 'OTHER', logGroup: 'g', logEvents: [] }), LIMITS);
    expect(bad!.error?.code).toBe('schema_violation');
    const [corrupt] = openRecord(JSON.stringify({ awslogs: { data: Buffer.from('not gzip at all').toString('base64') } }), LIMITS);
    expect(corrupt!.error?.code).toBe('decompression_failed');
  });

  it('refuses a gzip bomb in awslogs.data with too_large', () => {
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20)).toString('base64');
    const [o] = openRecord(JSON.stringify({ awslogs: { data: bomb } }), { ...LIMITS, maxDecompressedBytes: 1024 * 1024 });
    expect(o!.error?.code).toBe('too_large');
  });
});

describe('cloudtrail_lookup_events', () => {
  it('parses each Events[].CloudTrailEvent string', () => {
    const opened = openRecord(fixture('lookup-events.json'), LIMITS);
    expect(values(opened)).toEqual([...RECORDS].reverse()); // the API lists newest first
    expect(events(opened).every((e) => e.envelope === 'cloudtrail_lookup_events')).toBe(true);
  });

  it('also opens one Events[] element on its own (--query "Events[]")', () => {
    const one = JSON.parse(fixture('lookup-events.json')).Events[0];
    expect(values(openRecord(JSON.stringify(one), LIMITS))).toEqual([RECORDS[5]]);
  });

  it('dead-letters an element without CloudTrailEvent', () => {
    const page = { Events: [{ EventId: 'a', CloudTrailEvent: JSON.stringify(RECORDS[1]) }, { EventId: 'b' }] };
    const opened = openRecord(JSON.stringify(page), LIMITS);
    expect(opened[0]!.value).toEqual(RECORDS[1]);
    expect(opened[1]).toMatchObject({ envelope: 'cloudtrail_lookup_events', envelope_index: 1, inner_raw: { EventId: 'b' } });
    expect(opened[1]!.error?.code).toBe('schema_violation');
  });
});

describe('elasticsearch and logstash', () => {
  it('opens a search response of lowercased Logstash events: names restored, eventTime from @timestamp', () => {
    const opened = openRecord(fixture('elasticsearch-search-response.json'), LIMITS);
    expect(opened).toHaveLength(6);
    expect(opened.every((o) => o.envelope === 'elasticsearch/logstash')).toBe(true);
    const first = opened[0]!.value as Record<string, unknown>;
    expect(first.eventTime).toBe('2024-06-01T10:05:44.000Z');
    expect((first.userIdentity as Record<string, unknown>).accessKeyId).toBe('ASIAEXAMPLEADMINSSO3');
    const evs = events(opened);
    expect(evs).toHaveLength(7);
    // the same token events as the records themselves give, envelope aside
    const plain = events(RECORDS.map((r) => ({ value: r })));
    expect(evs.map(({ envelope, ...e }) => e)).toEqual(plain);
    expect(evs.every((e) => e.envelope === 'elasticsearch/logstash')).toBe(true);
  });

  it('opens one hit on its own line (elasticdump)', () => {
    const hit = JSON.parse(fixture('elasticsearch-search-response.json')).hits.hits[1];
    const [o] = openRecord(JSON.stringify(hit), LIMITS);
    expect(o!.envelope).toBe('elasticsearch/logstash');
    expect((o!.value as Record<string, unknown>).eventName).toBe('ListBuckets');
  });

  it('reads a Filebeat event whose message is the CloudTrail line', () => {
    const opened = fixture('filebeat-message.ndjson').trim().split('\n').flatMap((l) => openRecord(l, LIMITS));
    expect(values(opened)).toEqual(RECORDS);
    expect(events(opened).every((e) => e.envelope === 'logstash')).toBe(true);
  });

  it('reads Filebeat json decoding under "json", and a record with @timestamp at top level', () => {
    const [underJson] = openRecord(JSON.stringify({ '@timestamp': '2024-06-01T10:07:02.000Z', json: RECORDS[1], host: { name: 'h' } }), LIMITS);
    expect(underJson!.value).toEqual(RECORDS[1]);
    const { eventTime: _t, ...noTime } = RECORDS[2]!;
    const [top] = openRecord(JSON.stringify({ ...noTime, '@timestamp': 1717236760000, '@version': '1' }), LIMITS);
    expect((top!.value as Record<string, unknown>).eventTime).toBe('2024-06-01T10:12:40.000Z');
  });

  it('restores CloudTrail names at every depth and keeps a canonical twin', () => {
    expect(restoreCloudTrailKeys({ eventname: 'x', useridentity: { accesskeyid: 'k', sessioncontext: { sessionissuer: { username: 'r' } } }, custom_field: 1 })).toEqual({
      eventName: 'x',
      userIdentity: { accessKeyId: 'k', sessionContext: { sessionIssuer: { userName: 'r' } } },
      custom_field: 1,
    });
    expect(restoreCloudTrailKeys({ eventName: 'keep', eventname: 'drop' })).toEqual({ eventName: 'keep' });
  });

  it('dead-letters a hit without _source', () => {
    const opened = openRecord(JSON.stringify({ hits: { hits: [{ _index: 'i', _id: '1' }] } }), LIMITS);
    expect(opened[0]!.error?.code).toBe('schema_violation');
    expect(opened[0]!.envelope).toBe('elasticsearch');
  });
});

describe('cloudtrail_records, nesting and limits', () => {
  it('opens a CloudTrail S3 object arriving as one value', () => {
    const opened = openRecord(fixture('cloudtrail-records.json'), LIMITS);
    expect(values(opened)).toEqual(RECORDS);
    expect(opened.every((o) => o.envelope === 'cloudtrail_records')).toBe(true);
  });

  it('opens a zstd-compressed value (written by the zstd CLI)', () => {
    const opened = openRecord(readFileSync(FIX + 'cloudtrail-records.json.zst'), LIMITS);
    expect(values(opened)).toEqual(RECORDS);
    expect(events(opened)).toHaveLength(7);
  });

  it('opens envelopes inside envelopes: a CloudWatch Logs batch of EventBridge events', () => {
    const eb = fixture('eventbridge-cloudtrail.ndjson').trim().split('\n');
    const batch = { messageType: 'DATA_MESSAGE', owner: '123456789012', logGroup: 'eb', logStream: 's', subscriptionFilters: ['f'], logEvents: eb.map((message, i) => ({ id: String(i), timestamp: 1, message })) };
    const opened = openRecord(gzipSync(JSON.stringify(batch)), LIMITS);
    expect(values(opened)).toEqual(RECORDS);
    expect(opened.every((o) => o.envelope === 'cloudwatch_logs/eventbridge')).toBe(true);
  });

  it('accepts an envelope above max_event_bytes, checking each inner record against it', () => {
    const big = { ...RECORDS[1], requestParameters: { pad: 'p'.repeat(3000) } };
    const small = JSON.stringify(RECORDS[2]);
    const batch = JSON.stringify({ Records: [RECORDS[1], big, ...Array.from({ length: 20 }, () => JSON.parse(small))] });
    const limits = { ...LIMITS, maxEventBytes: 2500 };
    expect(batch.length).toBeGreaterThan(limits.maxEventBytes);
    const opened = openRecord(batch, limits);
    expect(opened).toHaveLength(22);
    expect(opened[1]!.error?.code).toBe('too_large');
    expect(opened.filter((o) => o.error)).toHaveLength(1);
    // a plain record above the limit is still too_large
    expect(openRecord(JSON.stringify(big), limits)[0]!.error?.code).toBe('too_large');
  });

  it('rejects hostile input inside an envelope', () => {
    const text = `{"detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{"eventSource":"iam.amazonaws.com","eventName":"X","__proto__":{"polluted":true}}}`;
    const [o] = openRecord(text, LIMITS);
    expect(o!.error?.code).toBe('hostile_input');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reports a corrupt gzip value as decompression_failed', () => {
    const gz = gzipSync(fixture('cloudwatch-logs-batch.json'));
    const [o] = openRecord(gz.subarray(0, 200), LIMITS);
    expect(o!.error?.code).toBe('decompression_failed');
  });
});

describe('concatenated_json (Firehose without a delimiter)', () => {
  it('splits objects written back to back, strings with braces included, and nothing else', () => {
    expect(splitConcatenatedJson('{"a":"}{"}{"b":[1,{"c":2}]} \n{"d":3}')).toEqual(['{"a":"}{"}', '{"b":[1,{"c":2}]}', '{"d":3}']);
    expect(splitConcatenatedJson('{"a":1}')).toBeUndefined();
    expect(splitConcatenatedJson('{"a":1}x{"b":2}')).toBeUndefined();
    expect(splitConcatenatedJson('{"a":1}{"b":')).toBeUndefined();
    expect(splitConcatenatedJson('[1]{"b":2}')).toBeUndefined();
  });

  it('opens CloudWatch Logs batches gzipped one by one and concatenated, as Firehose writes them to S3', () => {
    const batch = JSON.stringify(JSON.parse(fixture('cloudwatch-logs-batch.json')));
    const firehose = Buffer.concat([gzipSync(batch), gzipSync(batch)]);
    const opened = openRecord(firehose, LIMITS);
    expect(values(opened)).toEqual([...RECORDS, ...RECORDS]);
    expect(opened.every((o) => o.envelope === 'concatenated_json/cloudwatch_logs')).toBe(true);
    expect(opened.map((o) => o.envelope_index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('opens plain records back to back and dead-letters a bad piece alone', () => {
    const text = JSON.stringify(RECORDS[1]) + JSON.stringify({ ...RECORDS[2], __proto__x: 1 }).replace('__proto__x', '__proto__') + JSON.stringify(RECORDS[5]);
    const opened = openRecord(text, LIMITS);
    expect(opened).toHaveLength(3);
    expect(opened[0]).toMatchObject({ value: RECORDS[1], envelope: 'concatenated_json', envelope_index: 0 });
    expect(opened[1]!.error?.code).toBe('hostile_input');
    expect(opened[2]!.value).toEqual(RECORDS[5]);
  });
});
