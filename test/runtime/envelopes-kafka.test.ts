/**
 * Integration (real Kafka broker, scripts/services.sh up): compressed and enveloped record values
 * on an input topic become token events and alerts through stage 1 of the Kafka runtime. Every
 * shape carries its own copy of the scenario in test/fixtures/envelopes/cloudtrail-records.json
 * (its own key id and event ids), so each shape must raise its own use_after_revocation alert.
 * Broken values are dead-lettered with the reason (the payload masked, or dropped when it cannot be masked); valid records without a credential
 * and CloudWatch Logs control messages are counted as skipped.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { createLogger } from '../../src/core/logger.js';
import { startKafkaRunner, type KafkaRunner } from '../../src/runtime/kafka-runner.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { repartitionedEvents, alertsOf, BROKERS, collect, waitFor, oneInputKafka, scenarioTopics } from './kafka-test-kit.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
const FIX = fileURLToPath(new URL('../fixtures/envelopes/', import.meta.url));
const RUN = randomUUID().slice(0, 8);
const P = `tw-it-env-${RUN}`;
const HMAC_KEY = 'envelopes-kafka-test-key-0123456789';
const fp = createFingerprinter({ key: HMAC_KEY });
const KEY = 'AKIAENVELOPEKEY00001';

const RECORDS_TEXT = readFileSync(FIX + 'cloudtrail-records.json', 'utf8');
/** The scenario with its own key id and event ids: shape n raises its own alert. */
const variant = (n: number): Record<string, unknown>[] =>
  (JSON.parse(RECORDS_TEXT.replaceAll(KEY, keyOf(n)).replace(/"eventID":"7a1e0c3b-2d4f-4a6b-8c9d-0e1f2a3b4c0(\d)"/g, `"eventID":"7a1e0c3b-2d4f-4a6b-8c9d-${String(n).padStart(6, '0')}0000c0$1"`)) as { Records: Record<string, unknown>[] }).Records;
const keyOf = (n: number): string => `AKIAENVELOPEKEY000${String(n).padStart(2, '0')}`;
const cwlBatch = (records: unknown[]) => ({
  messageType: 'DATA_MESSAGE',
  owner: '123456789012',
  logGroup: 'aws-cloudtrail-logs-123456789012',
  logStream: '123456789012_CloudTrail_us-east-1',
  subscriptionFilters: ['tokenwatch'],
  logEvents: records.map((r, i) => ({ id: `3819540620893710291012399476871038713917382764${i}`, timestamp: Date.parse(String((r as { eventTime: string }).eventTime)), message: JSON.stringify(r) })),
});
const eventbridge = (r: Record<string, unknown>) => ({ version: '0', id: randomUUID(), 'detail-type': r.eventType === 'AwsServiceEvent' ? 'AWS Service Event via CloudTrail' : 'AWS API Call via CloudTrail', source: 'aws.iam', account: '123456789012', time: r.eventTime, region: 'us-east-1', resources: [], detail: r });
const lowerKeys = (v: unknown): unknown => (Array.isArray(v) ? v.map(lowerKeys) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k.toLowerCase(), lowerKeys(x)])) : v);

/** shape → the values produced for it (Buffers or strings), and the envelope its events must carry. */
const SHAPES: { name: string; envelope?: string; values: (Buffer | string)[] }[] = [
  { name: 'gzip S3 object', envelope: 'cloudtrail_records', values: [gzipSync(JSON.stringify({ Records: variant(1) }))] },
  { name: 'eventbridge', envelope: 'eventbridge', values: variant(2).map((r) => JSON.stringify(eventbridge(r))) },
  { name: 'cloudwatch logs gzip (Kinesis data)', envelope: 'cloudwatch_logs', values: [gzipSync(JSON.stringify(cwlBatch(variant(3))))] },
  { name: 'cloudwatch logs lambda event', envelope: 'cloudwatch_logs', values: [JSON.stringify({ awslogs: { data: gzipSync(JSON.stringify(cwlBatch(variant(4)))).toString('base64') } })] },
  { name: 'lookup-events', envelope: 'cloudtrail_lookup_events', values: [JSON.stringify({ Events: variant(5).map((r) => ({ EventId: r.eventID, EventName: r.eventName, CloudTrailEvent: JSON.stringify(r) })) })] },
  {
    name: 'elasticsearch hits of lowercased logstash events',
    envelope: 'elasticsearch/logstash',
    values: [JSON.stringify({ hits: { hits: variant(6).map((r, i) => { const { eventtime, ...src } = lowerKeys(r) as Record<string, unknown>; return { _index: 'logstash-ct', _id: String(i), _source: { ...src, '@timestamp': eventtime } }; }) } })],
  },
  { name: 'gzip per record (plain CloudTrail records, each value gzipped)', values: variant(7).map((r) => gzipSync(JSON.stringify(r))) },
];

const BOMB = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20));
const full = gzipSync(JSON.stringify(cwlBatch(variant(9))));
const CORRUPT = full.subarray(0, full.length - 16);
const broken = cwlBatch(variant(8));
broken.logEvents[2]!.message = '{"eventVersion":"1.08","eventName":';
const CONTROL = JSON.stringify({ messageType: 'CONTROL_MESSAGE', owner: 'CloudwatchLogs', logGroup: '', logStream: '', subscriptionFilters: [], logEvents: [{ id: '', timestamp: 1717236000000, message: 'CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.' }] });

const kafka = new Kafka({ clientId: P, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
let producer: Producer;
let runner: KafkaRunner | undefined;
const readers: Consumer[] = [];
const config = parseConfig({
  hmac_key_env: 'TW_ENV_IT_KEY',
  engine: { source_idle_seconds: 1, reorder_max_delay_seconds: 60 },
  limits: { max_decompressed_bytes: 1024 * 1024 },
  kafka: oneInputKafka(P),
  log: { level: 'silent' },
});
const k = config.kafka!;
const TOPICS = scenarioTopics(k);

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

afterAll(async () => {
  await runner?.stop().catch(() => {});
  await Promise.all(readers.map((c) => c.disconnect().catch(() => {})));
  await producer?.disconnect().catch(() => {});
  await admin?.deleteTopics({ topics: TOPICS }).catch(() => {});
  await admin?.deleteGroups([k.group_id]).catch(() => {});
  await admin?.disconnect().catch(() => {});
});

describe('compressed and enveloped records on a Kafka input topic', () => {
  it('become token events with their envelope and raise each shape\'s alert; broken ones are dead-lettered with a reason', async () => {
    runner = await startKafkaRunner({ config, env: { TW_ENV_IT_KEY: HMAC_KEY }, logger: createLogger({ level: 'silent' }), http: false, store: false, sessionTimeoutMs: 10_000, partitionsConsumedConcurrently: 2 });
    const alertReader = await collect(kafka, k.topics.alerts, P);
    const dlqReader = await collect(kafka, k.topics.dead_letter, P);
    const eventReader = await collect(kafka, k.topics.by_token, P);
    readers.push(alertReader.consumer, dlqReader.consumer, eventReader.consumer);

    const topic = k.inputs[0]!.topic;
    const messages = SHAPES.flatMap((s) => s.values.map((value) => ({ key: s.name, value })));
    await producer.send({ topic, messages });
    await producer.send({
      topic,
      messages: [
        { key: 'bomb', value: BOMB },
        { key: 'corrupt', value: CORRUPT },
        { key: 'broken-batch', value: gzipSync(JSON.stringify(broken)) },
        { key: 'control', value: CONTROL },
      ],
    });

    const shapes = SHAPES.length + 1; // the broken batch still carries a whole scenario but the one bad record
    const alerts = await waitFor(`a use_after_revocation alert per shape (${shapes})`, () => {
      const a = alertsOf(alertReader.messages).filter((x) => x.detector === 'token_replay' && x.kind === 'use_after_revocation');
      return new Set(a.map((x) => x.token_fp)).size >= shapes ? a : undefined;
    });
    const expectedFps = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => fp('aws', keyOf(n)));
    expect(new Set(alerts.map((a) => a.token_fp))).toEqual(new Set(expectedFps));
    expect(JSON.stringify(alertsOf(alertReader.messages))).not.toContain('AKIAENVELOPEKEY');

    // token events on the repartition topic carry the envelope they came in
    const events = repartitionedEvents(eventReader.messages);
    for (const [i, s] of SHAPES.entries()) {
      const keyFp = fp('aws', keyOf(i + 1));
      const own = events.filter((e) => e.token.fp === keyFp);
      expect(own.length, s.name).toBe(5); // mint, 2 uses, revoke, use after revoke
      expect(new Set(own.map((e) => e.envelope)), s.name).toEqual(new Set([s.envelope]));
    }

    // dead letters: the reason (and where inside the envelope), the payload as dead_letter.payload keeps it
    const dead = await waitFor('3 dead letters', () => (dlqReader.messages.length >= 3 ? dlqReader.messages : undefined));
    expect(dead).toHaveLength(3);
    const byKey = new Map(dead.map((d) => [d.key, d]));
    expect(byKey.get('bomb')!.headers.reason_code).toBe('too_large');
    expect(byKey.get('bomb')!.headers.reason_message).toMatch(/max_decompressed_bytes.*decompression bomb/);
    // values that cannot be masked (a bomb, corrupt gzip) keep no payload; a gzipped one that opens is stored decompressed, masked
    expect(byKey.get('bomb')!.value).toBeNull();
    expect(byKey.get('bomb')!.headers).toMatchObject({ payload: 'dropped_binary', payload_bytes: String(BOMB.length) });
    expect(byKey.get('corrupt')!.value).toBeNull();
    expect(byKey.get('corrupt')!.headers.payload).toBe('dropped_binary');
    expect(byKey.get('broken-batch')!.headers.payload).toBe('masked');
    expect(JSON.parse(byKey.get('broken-batch')!.value!.toString()).logEvents).toHaveLength(broken.logEvents.length);
    expect(byKey.get('corrupt')!.headers.reason_code).toBe('decompression_failed');
    expect(byKey.get('broken-batch')!.headers.reason_code).toBe('invalid_json');
    expect(byKey.get('broken-batch')!.headers.reason_message).toMatch(/^cloudwatch_logs\[2\]: not valid JSON/);

    // skipped, never dead-lettered: one service event without a credential per scenario copy, one control message
    await waitFor('skips counted', () => (runner!.stats().records_skipped >= 9 ? true : undefined));
    const metrics = await runner.metrics.registry.metrics();
    expect(metrics).toContain(`tokenwatch_records_skipped_total{source="${topic}",reason="no_credential"} 8`);
    expect(metrics).toContain(`tokenwatch_records_skipped_total{source="${topic}",reason="control_message"} 1`);
    expect(metrics).toContain(`tokenwatch_events_invalid_total{source="${topic}",code="too_large"} 1`);
    expect(metrics).toContain(`tokenwatch_events_invalid_total{source="${topic}",code="decompression_failed"} 1`);
    expect(runner.stats().records_invalid).toBe(3);
    expect(runner.stats().records_in).toBe(messages.length + 4);
  }, 180_000);
});
