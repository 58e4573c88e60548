/**
 * Integration: task state survives a hand-over (real local Kafka, scripts/services.sh up).
 * Runner A sees a role session's home context and stops gracefully (a final checkpoint of every
 * task's changed state keys); runner B in the same group sees the same key used from outside.
 * B can only call that a new context (credential_context, issuer-keyed, its learning shortened
 * to one observation for the test) with A's state. In the main case B restores it from the
 * changelog and replays nothing; in the control B's changelog topic is empty, so B rebuilds the
 * state by replaying the repartition partition from its start with effects muted. Both raise
 * exactly the one alert, and nothing A already published is published again.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { parseConfig } from '../../src/config/load-config.js';
import type { TokenwatchConfig } from '../../src/config/config-schema.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { createLogger } from '../../src/core/logger.js';
import { groupLag, startKafkaRunner, type KafkaRunner } from '../../src/runtime/kafka-runner.js';
import { readPartitionRange, topicOffsets } from '../../src/runtime/partition-reader.js';
import { apiCallRecord, assumeRoleRecord, type AwsRole, type AwsSession } from '../../src/simulate/cloudtrail-writer.js';
import { Rng } from '../../src/simulate/prng.js';
import { alertsOf, BROKERS, collect as collectMessages, waitFor, type CollectedMessage } from './kafka-test-kit.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
const HMAC_KEY = 'changelog-test-hmac-key-0123456789abcdef';
const ENV = { TW_CL_HMAC_KEY: HMAC_KEY };
const RUN = randomUUID().slice(0, 8);
const MIN = 60_000;
const T = Date.UTC(2026, 1, 2, 9);
const log = createLogger({ level: process.env.TW_TEST_LOG ?? 'silent' });
const fp = createFingerprinter({ key: HMAC_KEY });

// one EC2 role session: home context = the workload's private IP with the Go SDK
const rng = new Rng(7, 'changelog-test');
const role: AwsRole = { accountId: '123456789012', name: 'batch-role', arn: 'arn:aws:iam::123456789012:role/batch-role', roleId: 'AROAQWERTYUIOPASDFGHJ' };
const session: AwsSession = { role, sessionName: 'i-0abc1234def567890', accessKeyId: 'ASIAQWERTYUIOPAS2345', createdAt: T, expiresAt: T + 6 * 60 * MIN, ec2RoleDelivery: '2.0' };
const HOME = { sourceIp: '10.20.1.10', userAgent: 'aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5' };
const THIEF = { sourceIp: '198.51.100.23', userAgent: 'python-requests/2.31.0' };
const call = (time: number, ctx: typeof HOME, eventName = 'GetObject'): string =>
  JSON.stringify(apiCallRecord(rng, { time, region: 'us-east-1', session, eventSource: 's3.amazonaws.com', eventName, readOnly: true, data: true, sourceIp: ctx.sourceIp, userAgent: ctx.userAgent }));
/** Before the restart: the mint and uses from home; the last one is still in the reorder buffer at the checkpoint. */
const BEFORE = [
  JSON.stringify(assumeRoleRecord(rng, { time: T, region: 'us-east-1', role, sessionName: session.sessionName, newKeyId: session.accessKeyId, expiresAt: session.expiresAt, caller: { service: 'ec2.amazonaws.com' } })),
  call(T + 1 * MIN, HOME),
  call(T + 10 * MIN, HOME),
  call(T + 20 * MIN, HOME),
];
/** After the restart: the key from outside, then more from outside so the watermark passes the first one. */
const AFTER = [call(T + 25 * MIN, THIEF, 'ListBuckets'), call(T + 26 * MIN, THIEF, 'ListBuckets'), call(T + 40 * MIN, THIEF, 'ListBuckets')];
const stolenFp = fp('aws', session.accessKeyId);

interface Scenario {
  config: TokenwatchConfig;
  /** B's config: the control points it at another (empty) changelog topic. */
  configB: TokenwatchConfig;
  input: string;
  topics: string[];
}

function scenario(name: string, control: boolean): Scenario {
  const p = `tw-cl-${RUN}-${name}`;
  const raw = (changelog: string) => ({
    hmac_key_env: 'TW_CL_HMAC_KEY',
    // sources never go idle during the test: the checkpoint must carry the events still held for ordering
    engine: { source_idle_seconds: 600 },
    // what A learned is one context of one credential: judge from that
    detectors: { credential_context: { learning_hours: 0, min_observations: 1, suspect_surprise: 0.5, alert_surprise: 0.5 } },
    kafka: {
      brokers: BROKERS,
      client_id: `tw-cl-${name}`,
      group_id: `${p}.group`,
      inputs: [{ topic: `${p}.cloudtrail`, format: 'cloudtrail' }],
      checkpoint_interval_seconds: 1,
      topics: { alerts: `${p}.alerts`, dead_letter: `${p}.dead-letter`, by_token: `${p}.by-token`, by_issuer: `${p}.by-issuer`, changelog, partitions: 2, replication_factor: 1 },
    },
    log: { level: 'silent' },
  });
  const config = parseConfig(raw(`${p}.changelog`));
  const configB = parseConfig(raw(control ? `${p}.changelog-empty` : `${p}.changelog`));
  const k = config.kafka!.topics;
  const topics = [`${p}.cloudtrail`, k.alerts, k.dead_letter, k.by_token, k.by_issuer, k.changelog, configB.kafka!.topics.changelog];
  return { config, configB, input: `${p}.cloudtrail`, topics: [...new Set(topics)] };
}

const kafka = new Kafka({ clientId: `tw-cl-${RUN}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
let producer: Producer;
const scenarios: Scenario[] = [];
const runners: KafkaRunner[] = [];
const readers: Consumer[] = [];

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

afterAll(async () => {
  await Promise.all([...runners.map((r) => r.stop().catch(() => {})), ...readers.map((c) => c.disconnect().catch(() => {}))]);
  await producer?.disconnect().catch(() => {});
  for (const s of scenarios) {
    await admin.deleteTopics({ topics: s.topics }).catch(() => {});
    await admin.deleteGroups([s.config.kafka!.group_id]).catch(() => {});
  }
  await admin?.disconnect().catch(() => {});
});

function start(config: TokenwatchConfig): Promise<KafkaRunner> {
  return startKafkaRunner({ config, env: ENV, logger: log, http: false, store: false, sessionTimeoutMs: 10_000, partitionsConsumedConcurrently: 4 }).then((r) => {
    runners.push(r);
    return r;
  });
}

async function caughtUp(s: Scenario, runner: KafkaRunner, records: number): Promise<void> {
  const k = s.config.kafka!.topics;
  await waitFor(
    `runner consumed ${records} records through both stages`,
    async () => (runner.stats().records_in === records && runner.stats().events_detected > 0 && (await groupLag(admin, s.config.kafka!.group_id, [s.input, k.by_token, k.by_issuer])) === 0) || undefined,
    30_000,
  );
}

async function counter(runner: KafkaRunner, result: string): Promise<number> {
  const text = await runner.metrics.registry.metrics();
  const m = new RegExp(`^tokenwatch_checkpoints_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Committed records of a topic, read_committed (a transactional topic's offsets include its commit markers). */
async function committedRecords(topic: string): Promise<number> {
  let n = 0;
  for (const p of await topicOffsets(admin, topic)) { // both scenarios list offsets at once: kafkajs' admin needs them queued
    const r = await readPartitionRange({ topic, partition: p.partition, from: 'earliest', to: 'end' }, { kafka, admin, groupPrefix: `tw-cl-${RUN}.count`, timeoutMs: 20_000, onMessages: () => undefined });
    n += r.messages;
  }
  return n;
}

/** A then B in one group; returns what B's alert topic and metrics show. */
async function restartAcross(s: Scenario): Promise<{ a: KafkaRunner; b: KafkaRunner; alerts: CollectedMessage[]; changelog: { key: string; value: Buffer | null }[] }> {
  const k = s.config.kafka!.topics;
  // one input partition: with sources that never go idle, a second partition that never gets a
  // record would hold every task back (tasks wait to hear from every input partition)
  await admin.createTopics({ topics: [{ topic: s.input, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  const a = await start(s.config);
  await producer.send({ topic: s.input, messages: BEFORE.map((value) => ({ key: role.name, value })) });
  await caughtUp(s, a, BEFORE.length);
  await a.stop();

  const b = await start(s.configB);
  const alertReader = await collectMessages(kafka, k.alerts, `tw-cl-${RUN}`);
  readers.push(alertReader.consumer);
  await producer.send({ topic: s.input, messages: AFTER.map((value) => ({ key: role.name, value })) });
  await caughtUp(s, b, AFTER.length);
  // every alert committed on the topic (transaction markers do not count) has reached the reader
  const written = await committedRecords(k.alerts);
  await waitFor('alert reader caught up', () => alertReader.messages.length >= written || undefined, 20_000);

  const cl = await collectMessages(kafka, k.changelog, `tw-cl-${RUN}`);
  readers.push(cl.consumer);
  const clCount = await committedRecords(k.changelog);
  await waitFor('changelog read', () => cl.messages.length >= clCount || undefined, 20_000);
  return { a, b, alerts: alertReader.messages, changelog: cl.messages.map((m) => ({ key: m.key!, value: m.value })) };
}

const secondContext = (msgs: CollectedMessage[]) => alertsOf(msgs).filter((x) => x.detector === 'credential_context' && x.token_fp === stolenFp);

/** A changelog value: JSON, gzipped above 1 KiB (task-state-store.ts). */
const changelogValue = (v: Buffer): string => (v[0] === 0x1f && v[1] === 0x8b ? gunzipSync(v) : v).toString('utf8');

describe('task state across a hand-over (real Kafka)', () => {
  it('B resumes A\'s state from the changelog; with an empty changelog B rebuilds it by a muted replay; one alert either way', async () => {
    const main = scenario('main', false);
    const control = scenario('control', true);
    scenarios.push(main, control);
    const [withState, withoutState] = await Promise.all([restartAcross(main), restartAcross(control)]);

    // A wrote its tasks' changed keys with the offsets they cover; the session's task held the last home event for ordering
    expect(await counter(withState.a, 'written')).toBeGreaterThan(0);
    const issuerKeys = withState.changelog.filter((m) => m.key.startsWith('by_issuer/'));
    expect(issuerKeys.some((m) => m.key.endsWith('/~offset'))).toBe(true);
    expect(issuerKeys.some((m) => m.key.includes('/d/credential_context/'))).toBe(true);
    expect(withState.changelog.every((m) => m.value === null || !changelogValue(m.value).includes(session.accessKeyId))).toBe(true);

    // B restored from the changelog, replayed nothing, and saw the key used outside its home context
    expect(await counter(withState.b, 'restored')).toBeGreaterThan(0);
    expect(withState.b.stats().records_replayed).toBe(0);
    expect(secondContext(withState.alerts)).toHaveLength(1);
    expect(JSON.stringify(alertsOf(withState.alerts))).not.toContain(session.accessKeyId);

    // control: no changelog for B → the state is rebuilt from the repartition partitions, same single alert
    expect(await counter(withoutState.b, 'restored')).toBe(0);
    expect(await counter(withoutState.b, 'empty')).toBeGreaterThan(0);
    expect(withoutState.b.stats().records_replayed).toBeGreaterThan(0);
    expect(secondContext(withoutState.alerts)).toHaveLength(1);
    // nothing published twice on the alert topic in either case
    for (const r of [withState, withoutState]) {
      const ids = alertsOf(r.alerts).map((a) => a.alert_id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  }, 90_000);
});
