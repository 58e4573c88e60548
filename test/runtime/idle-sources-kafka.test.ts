/**
 * Integration (real Kafka broker): when a quiet input partition stops holding the detection tasks.
 * Partition 1 of the input topic says one thing early and falls silent; partition 0 then carries
 * a key used after its revocation. With the default (`engine.source_idle_seconds` 0, Kafka
 * Streams' max.task.idle.ms 0) a batch that reads its partition to the end marks it idle in its
 * own frame: the alert follows without any timer. With 600 s quiet partitions hold every task
 * until they speak again — the trigger is held, not lost, and the alert follows their next records.
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
import { unframe } from '../../src/runtime/repartition-frame.js';
import { decodeRecord } from '../../src/runtime/token-event-codec.js';
import { alertsOf, BROKERS, collect, waitFor, oneInputKafka, scenarioTopics, repartitionedEvents } from './kafka-test-kit.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
const RUN = randomUUID().slice(0, 8);
const HMAC_KEY = 'idle-sources-kafka-test-key-012345';
const KEY = 'AKIAIDLESOURCES00001';
const QUIET_KEY = 'AKIAIDLESOURCES00002';
const keyFp = createFingerprinter({ key: HMAC_KEY })('aws', KEY);

const fixture = readFileSync(fileURLToPath(new URL('../fixtures/envelopes/cloudtrail-records.json', import.meta.url)), 'utf8');
/** Mint, two uses, the key's deletion, a rotation, a use 21 minutes after the deletion (10:05–10:41). */
const scenario = (JSON.parse(fixture.replaceAll('AKIAENVELOPEKEY00001', KEY)) as { Records: Record<string, unknown>[] }).Records;
const listBuckets = (JSON.parse(fixture.replaceAll('AKIAENVELOPEKEY00001', QUIET_KEY)) as { Records: Record<string, unknown>[] }).Records.find((r) => r.eventName === 'ListBuckets')!;
const quietRecord = (time: string, id: string): string => JSON.stringify({ ...listBuckets, eventTime: time, eventID: `idle-${id}` });

const kafka = new Kafka({ clientId: `tw-it-idle-${RUN}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
let producer: Producer;
const runners: KafkaRunner[] = [];
const readers: Consumer[] = [];
const cleanup: { topics: string[]; group: string }[] = [];

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

afterAll(async () => {
  await Promise.all(runners.map((r) => r.stop().catch(() => {})));
  await Promise.all(readers.map((c) => c.disconnect().catch(() => {})));
  await producer?.disconnect().catch(() => {});
  for (const c of cleanup) {
    await admin?.deleteTopics({ topics: c.topics }).catch(() => {});
    await admin?.deleteGroups([c.group]).catch(() => {});
  }
  await admin?.disconnect().catch(() => {});
});

/** A runner on its own topics (2 input partitions) with the given engine settings; partition 1 speaks once, then partition 0 carries the scenario. */
async function scenarioOn(tag: string, engine: Record<string, unknown>) {
  const prefix = `tw-it-idle-${tag}-${RUN}`;
  const env = `TW_IDLE_IT_KEY_${tag.toUpperCase()}`;
  const config = parseConfig({ hmac_key_env: env, engine, kafka: oneInputKafka(prefix), log: { level: 'silent' } });
  const k = config.kafka!;
  cleanup.push({ topics: scenarioTopics(k), group: k.group_id });
  const runner = await startKafkaRunner({ config, env: { [env]: HMAC_KEY }, logger: createLogger({ level: 'silent' }), http: false, store: false, sessionTimeoutMs: 10_000, partitionsConsumedConcurrently: 2 });
  runners.push(runner);
  const alerts = await collect(kafka, k.topics.alerts, prefix);
  const events = await collect(kafka, k.topics.by_token, prefix);
  readers.push(alerts.consumer, events.consumer);
  const topic = k.inputs[0]!.topic;
  await producer.send({ topic, messages: [{ partition: 1, value: quietRecord('2024-06-01T10:00:00Z', 'early') }] });
  await producer.send({ topic, messages: scenario.map((r) => ({ partition: 0, value: JSON.stringify(r) })) });
  const revoked = () => alertsOf(alerts.messages).filter((a) => a.detector === 'token_replay' && a.kind === 'use_after_revocation' && a.token_fp === keyFp);
  return { runner, topic, alerts, events, revoked };
}

describe('idle input sources on Kafka (engine.source_idle_seconds)', () => {
  it('by default a partition read to its end holds nothing: the alert follows with no idle timer, its partition marked idle in its own frame', async () => {
    const s = await scenarioOn('default', {});
    const [alert] = await waitFor('use_after_revocation alert', () => (s.revoked().length > 0 ? s.revoked() : undefined), 60_000);
    expect(alert!.last_seen).toBe('2024-06-01T10:41:13.000Z');
    // partition 0's source said it was idle in the very frame that carried its events (no timer):
    // some by_token message holds the source's events followed by its idle marker
    const source = `${s.topic}/0/cloudtrail`;
    const ownFrame = () =>
      s.events.messages
        .map((m) => unframe(m.value!).map(decodeRecord))
        .find((recs) => {
          const lastEvent = recs.findLastIndex((r) => r.kind === 'event' && r.source === source);
          return lastEvent >= 0 && recs.slice(lastEvent + 1).some((r) => r.kind === 'watermark' && r.source === source && r.idle);
        });
    expect(await waitFor('a frame with the source\'s events and then its idle marker', ownFrame, 20_000)).toBeDefined();
  }, 120_000);

  it('with 600 s quiet partitions hold the trigger until they speak again; then the same alert follows', async () => {
    const s = await scenarioOn('timer', { source_idle_seconds: 600 });
    // stage 1 repartitioned every event of both partitions (2 + 6 records)…
    await waitFor('every event repartitioned', () => (repartitionedEvents(s.events.messages).length >= 6 ? true : undefined), 20_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${repartitionedEvents(s.events.messages).map((e) => `${e.action}@${new Date(e.time).toISOString()}`).join(', ')}`);
    });
    // …but the tasks wait for partition 1, whose watermark stands at 10:00
    await new Promise((r) => setTimeout(r, 5000));
    expect(s.revoked()).toHaveLength(0);
    // a source's newest event waits for its next one (its watermark is newest − disorder − 1): both speak again
    await producer.send({ topic: s.topic, messages: [0, 1].map((partition) => ({ partition, value: quietRecord('2024-06-01T10:45:00Z', `late-${partition}`) })) });
    const [alert] = await waitFor('use_after_revocation alert once the partitions spoke again', () => (s.revoked().length > 0 ? s.revoked() : undefined), 60_000);
    expect(alert!.last_seen).toBe('2024-06-01T10:41:13.000Z');
  }, 120_000);
});
