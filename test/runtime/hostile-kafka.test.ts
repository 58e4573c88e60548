/**
 * Integration (real Kafka broker): well-formed hostile input on an input topic. Records dated
 * 2100 and 1970 are dead-lettered as implausible_time and never repartitioned, so no task
 * watermark moves and the real scenario after them still raises its alert; invalid UTF-8 is
 * refused at the edge; the dead-letter topic holds no raw secret, key id, session id or Okta
 * token id (dead_letter.payload: mask), and says what its value keeps.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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
const RUN = randomUUID().slice(0, 8);
const P = `tw-it-hostile-${RUN}`;
const HMAC_KEY = 'hostile-kafka-test-key-0123456789';
const fp = createFingerprinter({ key: HMAC_KEY });
const KEY = 'AKIAHOSTILEKAFKA0001';
const SECRETS = { sessionToken: 'IQoJb3JpZ2luX2VjHOSTILEKAFKASESSION', secretAccessKey: 'wJalrXUtnFEMI/HOSTILE/KAFKA', stsKey: 'ASIAHOSTILEKAFKASTS1', oktaTokenId: '00Thostilekafkatoken', oktaSession: '102hostilekafkasession' };

const records = (JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/envelopes/cloudtrail-records.json', import.meta.url)), 'utf8').replaceAll('AKIAENVELOPEKEY00001', KEY)) as { Records: Record<string, unknown>[] }).Records;
const listBuckets = records.find((r) => r.eventName === 'ListBuckets')!;
const at = (time: string, id: string) => JSON.stringify({ ...listBuckets, eventTime: time, eventID: `hostile-${id}` });
const withSecrets = JSON.stringify({ ...listBuckets, eventTime: 'not-a-time', eventID: 'hostile-secrets', responseElements: { credentials: { accessKeyId: SECRETS.stsKey, sessionToken: SECRETS.sessionToken, secretAccessKey: SECRETS.secretAccessKey } } });
const oktaLike = JSON.stringify({ eventType: 'system.api_token.create', authenticationContext: { externalSessionId: SECRETS.oktaSession }, target: [{ type: 'Token', id: SECRETS.oktaTokenId }] });
const good = JSON.stringify(listBuckets);
const cut = good.indexOf('"eventName"');
const invalidUtf8 = Buffer.concat([Buffer.from(good.slice(0, cut)), Buffer.from([0xff, 0xfe]), Buffer.from(good.slice(cut))]);

const kafka = new Kafka({ clientId: P, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
let producer: Producer;
let runner: KafkaRunner | undefined;
const readers: Consumer[] = [];
const config = parseConfig({
  hmac_key_env: 'TW_HOSTILE_IT_KEY',
  engine: { source_idle_seconds: 1, reorder_max_delay_seconds: 60 },
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

describe('well-formed hostile input on a Kafka input topic', () => {
  it('dead-letters implausible times and invalid UTF-8 with masked payloads; the real scenario still alerts', async () => {
    runner = await startKafkaRunner({ config, env: { TW_HOSTILE_IT_KEY: HMAC_KEY }, logger: createLogger({ level: 'silent' }), http: false, store: false, sessionTimeoutMs: 10_000, partitionsConsumedConcurrently: 2 });
    const alertReader = await collect(kafka, k.topics.alerts, P);
    const dlqReader = await collect(kafka, k.topics.dead_letter, P);
    const eventReader = await collect(kafka, k.topics.by_token, P);
    readers.push(alertReader.consumer, dlqReader.consumer, eventReader.consumer);

    const topic = k.inputs[0]!.topic;
    // one Kafka key: one input partition, in this order; the poison comes before the revocation
    const [mint, use1, use2, revoke, ...rest] = records.map((r) => JSON.stringify(r));
    const values: { key: string; value: string | Buffer }[] = [
      { key: 's', value: mint! },
      { key: 's', value: at('2100-01-01T00:00:00Z', 'future') },
      { key: 's', value: use1! },
      { key: 's', value: at('1970-01-01T00:00:01Z', 'epoch') },
      { key: 's', value: use2! },
      { key: 's', value: invalidUtf8 },
      { key: 's', value: withSecrets },
      { key: 's', value: oktaLike },
      { key: 's', value: revoke! },
      ...rest.map((value) => ({ key: 's', value })),
    ];
    await producer.send({ topic, messages: values });

    const keyFp = fp('aws', KEY);
    await waitFor('use_after_revocation alert on the real key', () => alertsOf(alertReader.messages).some((a) => a.detector === 'token_replay' && a.kind === 'use_after_revocation' && a.token_fp === keyFp) || undefined);

    const dead = await waitFor('5 dead letters', () => (dlqReader.messages.length >= 5 ? dlqReader.messages : undefined));
    expect(dead).toHaveLength(5);
    const codes = dead.map((d) => d.headers.reason_code).sort();
    expect(codes).toEqual(['implausible_time', 'implausible_time', 'invalid_utf8', 'schema_violation', 'unknown_format']);
    const implausible = dead.filter((d) => d.headers.reason_code === 'implausible_time');
    expect(implausible.map((d) => d.headers.reason_message).join('\n')).toMatch(/2100-01-01T00:00:00.000Z is more than limits.max_future_skew_seconds/);
    expect(implausible.map((d) => d.headers.reason_message).join('\n')).toMatch(/1970-01-01T00:00:01.000Z is before limits.min_event_time/);
    for (const d of implausible) {
      expect(d.headers.payload).toBe('masked');
      expect(JSON.parse(d.value!.toString()).eventName).toBe('ListBuckets');
    }
    const utf8 = dead.find((d) => d.headers.reason_code === 'invalid_utf8')!;
    expect(utf8.value).toBeNull();
    expect(utf8.headers).toMatchObject({ payload: 'dropped_binary', payload_bytes: String(invalidUtf8.length) });
    // no raw secret, key id, session id or token id anywhere on the dead-letter topic
    const all = dead.map((d) => `${d.value?.toString() ?? ''}${JSON.stringify(d.headers)}`).join('\n');
    for (const s of [KEY, ...Object.values(SECRETS)]) expect(all).not.toContain(s);
    expect(all).toContain('[masked]');

    // nothing implausible reached a detection task: no watermark could move to 2100 or back to 1970
    await waitFor('repartitioned events', () => (repartitionedEvents(eventReader.messages).length >= 5 ? true : undefined));
    const times = repartitionedEvents(eventReader.messages).map((e) => e.time);
    expect(Math.max(...times)).toBeLessThan(Date.UTC(2025, 0, 1));
    expect(Math.min(...times)).toBeGreaterThan(Date.UTC(2024, 0, 1));
    expect(runner.stats().events_implausible).toBe(2);
    expect(runner.stats().records_invalid).toBe(5);
    const metrics = await runner.metrics.registry.metrics();
    expect(metrics).toContain(`tokenwatch_events_invalid_total{source="${topic}",code="implausible_time"} 2`);
    expect(metrics).toContain(`tokenwatch_events_invalid_total{source="${topic}",code="invalid_utf8"} 1`);
  });
});
