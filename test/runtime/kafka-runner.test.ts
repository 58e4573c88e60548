/**
 * Integration: the Kafka runtime against the real local Kafka broker and ClickHouse server
 * (scripts/services.sh up). Every run uses its own topics, consumer groups and database.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { Consumer, Producer, Admin } from 'kafkajs';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { parseConfig } from '../../src/config/load-config.js';
import type { TokenwatchConfig } from '../../src/config/config-schema.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { createLogger } from '../../src/core/logger.js';
import { decodeText } from '../../src/pipeline/decode.js';
import { DetectionEngine } from '../../src/pipeline/detection-engine.js';
import { detectorSet } from '../../src/config/load-config.js';
import { simulate, ATTACK_NAMES } from '../../src/simulate/index.js';
import { KafkaRunner, groupLag, startKafkaRunner } from '../../src/runtime/kafka-runner.js';
import { DEAD_LETTER_HEADERS } from '../../src/sinks/kafka-dead-letter-sink.js';
import type { Alert } from '../../schemas/alert.js';
import { buildWorkload, type Workload } from './kafka-workload.js';
import { alertMessagesOf, alertsOf, BROKERS, CLICKHOUSE_URL, collect as collectMessages, waitFor } from './kafka-test-kit.js';
import { DETECTORS } from '../../detectors/index.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
const HMAC_KEY = 'kafka-runtime-test-hmac-key-0123456789';
const ENV = { TW_IT_HMAC_KEY: HMAC_KEY };
const RUN = randomUUID().slice(0, 8);
const START = Date.UTC(2026, 0, 5);
const log = createLogger({ level: process.env.TW_TEST_LOG ?? 'silent' });

interface Scenario {
  name: string;
  config: TokenwatchConfig;
  topics: string[];
  inputs: { cloudtrail: string; okta: string };
}

function scenario(name: string, exactlyOnce: 'per_process' | 'per_partition' = 'per_process'): Scenario {
  const p = `tw-it-${RUN}-${name}`;
  const inputs = { cloudtrail: `${p}.cloudtrail`, okta: `${p}.okta` };
  const config = parseConfig({
    hmac_key_env: 'TW_IT_HMAC_KEY',
    // a 3-hour workload with a handful of sessions per role: issuer baselines learn within its first
    // hour, and a role's few observations are enough to judge (this tests the runtime, not the model)
    detectors: {
      scope_drift: { learning_hours: 1, learning_min_events: 5 },
      credential_context: { learning_hours: 1, min_observations: 1, suspect_surprise: 1, alert_surprise: 1 },
      // declared workload networks: the stolen instance key also raises a token-keyed alert (by_token tasks)
      cross_service_reuse: { workload_networks: ['10.0.0.0/8'] },
    },
    engine: { source_idle_seconds: 2 },
    kafka: {
      brokers: BROKERS,
      client_id: `tw-it-${name}`,
      group_id: `${p}.group`,
      exactly_once: exactlyOnce,
      inputs: [
        { topic: inputs.cloudtrail, format: 'cloudtrail' },
        { topic: inputs.okta, format: 'auto' },
      ],
      topics: {
        alerts: `${p}.alerts`,
        dead_letter: `${p}.dead-letter`,
        by_token: `${p}.repartition.by-token`,
        by_issuer: `${p}.repartition.by-issuer`,
        changelog: `${p}.changelog`,
        partitions: 4,
        replication_factor: 1,
      },
    },
    // a small sink queue and a time-to-store limit below the flush interval, so backpressure
    // (pause/resume of the consumer) happens during the run however fast the machine is: every row
    // waits up to 200 ms for its flush, past the 100 ms limit
    store: { url: CLICKHOUSE_URL, database: `tw_it_${RUN}_${name}`.replace(/-/g, '_'), flush_interval_ms: 200, max_queue_rows: 300, max_time_to_store_ms: 100 },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
  });
  const k = config.kafka!;
  return { name, config, inputs, topics: [inputs.cloudtrail, inputs.okta, k.topics.alerts, k.topics.dead_letter, k.topics.by_token, k.topics.by_issuer, k.topics.changelog] };
}

function startRunner(s: Scenario, opts: { store: boolean; http?: boolean }): Promise<KafkaRunner> {
  return startKafkaRunner({
    config: s.config,
    env: ENV,
    logger: log,
    http: opts.http ?? false,
    ...(opts.store ? {} : { store: false as const }),
    sessionTimeoutMs: 10_000,
    partitionsConsumedConcurrently: 4,
  });
}

const collect = (topic: string) => collectMessages(kafka, topic, `tw-it-${RUN}`);

async function produceWorkload(s: Scenario, wl: Pick<Workload, 'records'>): Promise<void> {
  for (const stream of ['cloudtrail', 'okta'] as const) {
    const messages = wl.records.filter((r) => r.stream === stream).map((r) => ({ key: r.key, value: r.value }));
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic: s.inputs[stream], messages: messages.slice(i, i + 500) });
  }
}

const kafka = new Kafka({ clientId: `tw-it-${RUN}`, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
let producer: Producer;
let ch: ClickHouseClient;
const scenarios: Scenario[] = [];
const readers: Consumer[] = [];
const runners: KafkaRunner[] = [];
const fp = createFingerprinter({ key: HMAC_KEY });
const workload = buildWorkload({ seed: 11, start: START, hours: 3, callsPerHour: 60 });
// baseline: what one in-process decode gives, to check counts end to end
const expectedEvents = new Set<string>();
let expectedPrimaryEvents = 0;
/** by_token copies (own key + parent key for chained mints) plus by_issuer copies. */
let expectedRepartitioned = 0;
let parentCopies = 0;
for (const r of workload.records) {
  const d = decodeText(r.value, { fingerprint: fp }, r.stream);
  if (!d.ok) throw new Error(`workload record does not decode: ${d.error.message}`);
  for (const e of d.events) {
    expectedEvents.add(e.event_id);
    expectedPrimaryEvents++;
    const parent = e.parent_fp !== undefined && e.parent_fp !== e.token.fp ? 1 : 0;
    parentCopies += parent;
    expectedRepartitioned += 1 + parent + (e.issuer !== undefined ? 1 : 0);
  }
}

const INVALID = [
  { topic: 'cloudtrail' as const, value: '{"eventVersion": "1.08", "eventTime": ', code: 'invalid_json' },
  { topic: 'cloudtrail' as const, value: JSON.stringify({ eventVersion: '1.08', eventSource: 's3.amazonaws.com' }), code: 'schema_violation' },
  { topic: 'okta' as const, value: JSON.stringify({ hello: 'world' }), code: 'unknown_format' },
];

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  ch = createClient({ url: CLICKHOUSE_URL });
});

afterAll(async () => {
  await Promise.all([...runners.map((r) => r.stop().catch(() => {})), ...readers.map((c) => c.disconnect().catch(() => {}))]);
  await producer?.disconnect().catch(() => {});
  for (const s of scenarios) {
    await admin.deleteTopics({ topics: s.topics }).catch(() => {});
    await admin.deleteGroups([s.config.kafka!.group_id]).catch(() => {});
    await ch.command({ query: `DROP DATABASE IF EXISTS ${s.config.store.database}` }).catch(() => {});
  }
  await admin?.disconnect().catch(() => {});
  await ch?.close();
});

async function chCount(db: string, sql: string): Promise<number> {
  const rs = await ch.query({ query: sql.replaceAll('{db}', db), format: 'JSONEachRow' });
  const rows = await rs.json<{ n: string | number }>();
  return Number(rows[0]?.n ?? 0);
}


let singleInstanceIds: string[] = [];

describe('kafka runtime (real Kafka + ClickHouse)', () => {
  it('detects across the repartition stages, writes alerts/inventory/events, dead-letters invalid records, and resumes without duplicates', async () => {
    const s = scenario('single');
    scenarios.push(s);
    const k = s.config.kafka!;
    const first = await startRunner(s, { store: true, http: true });
    runners.push(first);
    const alertReader = await collect(k.topics.alerts);
    const dlqReader = await collect(k.topics.dead_letter);
    readers.push(alertReader.consumer, dlqReader.consumer);

    await waitFor('runner ready', async () => (await fetch(`${first.opsUrl}/readyz`)).status === 200);

    const stolenFp = fp('aws', workload.stolenKeyId);
    await produceWorkload(s, workload);
    for (const bad of INVALID) await producer.send({ topic: s.inputs[bad.topic], messages: [{ key: 'bad', value: bad.value }] });

    // everything consumed through both stages and committed
    await waitFor('group lag 0', async () => (first.stats().events_detected > 0 && (await groupLag(admin, k.group_id, s.topics.filter((t) => t !== k.topics.alerts && t !== k.topics.dead_letter && t !== k.topics.changelog))) === 0) || undefined);
    // alerts: the replayed key (credential_context, judged in the issuer's task) and the drifting client
    const alerts = await waitFor('expected alerts on the alert topic', () => {
      const a = alertsOf(alertReader.messages);
      const replay = a.some((x) => x.detector === 'credential_context' && x.token_fp === stolenFp);
      const drift = a.some((x) => x.detector === 'scope_drift' && x.issuer === workload.driftingClientId);
      return replay && drift ? a : undefined;
    });
    const keyBy = new Map(DETECTORS.map((d) => [d.meta.id as string, d.meta.key_by]));
    for (const [i, m] of alertMessagesOf(alertReader.messages).entries()) {
      const a = alerts[i]!;
      expect(m.headers).toMatchObject({ detector: a.detector, severity: a.severity, kind: a.kind, alert_id: a.alert_id });
      expect(m.key).toBe(keyBy.get(a.detector) === 'issuer' ? a.issuer : a.token_fp);
    }
    // routing: own key, the parent key of chained mints, the issuer
    expect(parentCopies).toBeGreaterThan(0);
    expect(first.stats().events_repartitioned).toBe(expectedRepartitioned);
    expect(first.stats().events_detected).toBe(expectedRepartitioned);
    expect(first.stats().backpressure_pauses).toBeGreaterThan(0);
    await waitFor('consumption resumed after the sink drained', () => !first.stats().paused || undefined);
    // no raw key ids in alerts
    expect(JSON.stringify(alerts)).not.toContain(workload.stolenKeyId);

    // dead letters: original bytes + reason headers
    const dead = await waitFor('3 dead letters', () => (dlqReader.messages.length >= INVALID.length ? dlqReader.messages : undefined));
    expect(dead).toHaveLength(INVALID.length);
    for (const bad of INVALID) {
      const m = dead.find((d) => d.value?.toString() === bad.value);
      expect(m, bad.code).toBeDefined();
      for (const h of DEAD_LETTER_HEADERS) expect(m!.headers[h], h).toBeDefined();
      expect(m!.headers.reason_code).toBe(bad.code);
      expect(m!.headers.source_topic).toBe(s.inputs[bad.topic]);
      expect(Number(m!.headers.source_offset)).toBeGreaterThanOrEqual(0);
    }
    expect(dead.find((d) => d.headers.reason_code === 'schema_violation')!.headers.format).toBe('cloudtrail');

    // ClickHouse: every alert, the inventory, every token event (by_token primary copies)
    const db = s.config.store.database;
    const ids = [...new Set(alerts.map((a) => a.alert_id))].sort();
    await waitFor('alerts in ClickHouse', async () => (await chCount(db, 'SELECT uniqExact(alert_id) AS n FROM {db}.alerts')) === ids.length || undefined);
    await waitFor('events in ClickHouse', async () => (await chCount(db, 'SELECT uniqExact(event_id) AS n FROM {db}.token_events')) === expectedEvents.size || undefined);
    expect(await chCount(db, 'SELECT uniqExact(event_id) AS n FROM {db}.token_events')).toBe(expectedPrimaryEvents);
    expect(await chCount(db, `SELECT count() AS n FROM {db}.token_inventory FINAL WHERE token_fp = '${stolenFp}'`)).toBe(1);
    expect(await chCount(db, 'SELECT uniqExact(token_fp) AS n FROM {db}.token_inventory')).toBeGreaterThan(10);

    // metrics on the ops endpoint
    const metrics = await (await fetch(`${first.opsUrl}/metrics`)).text();
    const ctCount = workload.records.filter((r) => r.stream === 'cloudtrail').length + 2;
    expect(metrics).toContain(`tokenwatch_events_in_total{source="${s.inputs.cloudtrail}"} ${ctCount}`);
    expect(metrics).toContain(`tokenwatch_events_invalid_total{source="${s.inputs.cloudtrail}",code="schema_violation"} 1`);
    expect(metrics).toMatch(/tokenwatch_alerts_total\{detector="credential_context",severity="\w+"\} [1-9]/);
    expect(metrics).toMatch(/tokenwatch_state_keys\{detector="token_replay"\} [1-9]/);
    expect(metrics).not.toContain('tw1:');
    singleInstanceIds = ids;
    console.log(`single instance: ${ids.length} alerts (${[...new Set(alerts.map((a) => `${a.detector}/${a.kind}`))].join(', ')}), ${first.stats().events_detected} repartitioned events detected, ${first.stats().backpressure_pauses} backpressure pauses`);

    // restart: the new runner resumes from committed offsets — nothing is re-detected
    const recordsBefore = first.stats().records_in;
    expect(recordsBefore).toBe(workload.records.length + INVALID.length);
    const alertMessagesBefore = alertReader.messages.length;
    await first.stop();
    const second = await startRunner(s, { store: true });
    runners.push(second);
    // a little more benign traffic (later in time) so the restarted runner has work and idles afterwards
    const more = buildWorkload({ seed: 12, start: START + 3 * 3600_000, hours: 1, roles: 1, clients: 1, callsPerHour: 20 });
    const moreBenign = { ...more, records: more.records.filter((r) => !r.value.includes('198.51.100.') && !r.value.includes('okta.users.manage')) };
    await produceWorkload(s, moreBenign);
    await waitFor('restarted runner consumed the new records only', async () =>
      second.stats().records_in === moreBenign.records.length && (await groupLag(admin, k.group_id, s.topics.filter((t) => t !== k.topics.alerts && t !== k.topics.dead_letter && t !== k.topics.changelog))) === 0 ? true : undefined,
    );
    await waitFor('restarted runner sent idle watermarks its tasks', () => second.stats().idle_markers > 0 || undefined);
    expect(second.stats().records_in).toBe(moreBenign.records.length);
    const after = alertsOf(alertReader.messages);
    expect(after.length).toBe(alertMessagesBefore);
    expect([...new Set(after.map((a) => a.alert_id))].sort()).toEqual(ids);
    expect(await chCount(db, 'SELECT uniqExact(alert_id) AS n FROM {db}.alerts')).toBe(ids.length);
    expect(second.stats().records_invalid).toBe(0);
  }, 240_000);

  // both transaction models: one producer per stage and process (the default) and one per partition
  it.each(['per_process', 'per_partition'] as const)('two instances in one group detect the same alert ids as one instance (exactly_once %s)', async (mode) => {
    expect(singleInstanceIds.length).toBeGreaterThanOrEqual(3);
    const s = scenario(`pair-${mode}`, mode);
    expect(s.config.kafka!.exactly_once).toBe(mode);
    scenarios.push(s);
    const k = s.config.kafka!;
    const a = await startRunner(s, { store: false });
    runners.push(a);
    const b = await startRunner(s, { store: false });
    runners.push(b);
    const alertReader = await collect(k.topics.alerts);
    readers.push(alertReader.consumer);
    // produce only once the group is stable with both members holding partitions
    await waitFor('group stable with two members', async () => {
      const { groups } = await admin.describeGroups([k.group_id]);
      const g = groups[0];
      return g?.state === 'Stable' && g.members.length === 2 && a.readiness().ready && b.readiness().ready && a.stats().assigned_partitions > 0 && b.stats().assigned_partitions > 0 ? true : undefined;
    });
    await produceWorkload(s, workload);
    await waitFor('both instances caught up and sent idle watermarks', async () =>
      (await groupLag(admin, k.group_id, s.topics.filter((t) => t !== k.topics.alerts && t !== k.topics.dead_letter && t !== k.topics.changelog))) === 0 &&
      a.stats().idle_markers + b.stats().idle_markers > 0 &&
      new Set(alertsOf(alertReader.messages).map((x) => x.alert_id)).size >= singleInstanceIds.length ? true : undefined,
    );
    // both did part of the work
    expect(a.stats().events_detected).toBeGreaterThan(0);
    expect(b.stats().events_detected).toBeGreaterThan(0);
    const ids = [...new Set(alertsOf(alertReader.messages).map((x) => x.alert_id))].sort();
    expect(ids).toEqual(singleInstanceIds);
  }, 240_000);

  // stage 1 on the main thread and on two ingest threads (the default on this 2-core machine is one)
  it.each([0, 2] as const)('detects on simulated vendor logs what one in-process engine detects (kafka.ingest_threads %s)', async (threads) => {
    // the simulator's CloudTrail + Okta records (its Kong traffic is left out to keep the volume small)
    const sim = simulate({ seed: 3, start: START, hours: 8, attacks: [...ATTACK_NAMES], scale: 0.3 });
    const records = [...sim.events]
      .filter((e) => e.format === 'cloudtrail' || e.format === 'okta')
      .map((e) => ({ stream: e.format as 'cloudtrail' | 'okta', key: String(e.record.eventID ?? e.record.uuid ?? ''), time: e.time, value: JSON.stringify(e.record) }));
    expect(records.length).toBeGreaterThan(1000);
    expect(records.length).toBeLessThan(5000);

    // reference: one engine over everything, watermark advanced to the last event (what the idle flush does)
    const s = scenario(`sim-${threads}`);
    s.config.kafka!.ingest_threads = threads;
    scenarios.push(s);
    const reference = new DetectionEngine({
      detectors: detectorSet(s.config),
      reorder: { maxDelayMs: s.config.engine.reorder_max_delay_seconds * 1000, maxBuffered: s.config.engine.reorder_max_buffered },
      suppressWindowMs: s.config.engine.suppress_window_minutes * 60_000,
      maxSuppressKeys: s.config.engine.max_suppress_keys,
      maxRecentEventIds: s.config.engine.max_recent_event_ids,
      advanceEveryMs: 60_000,
    });
    const expected: Alert[] = [];
    let maxTime = 0;
    for (const r of records) {
      const d = decodeText(r.value, { fingerprint: fp }, r.stream);
      if (!d.ok) throw new Error(`simulated record does not decode: ${d.error.message}`);
      for (const e of d.events) {
        maxTime = Math.max(maxTime, e.time);
        expected.push(...reference.ingest(e));
      }
    }
    expected.push(...reference.advanceTo(maxTime));
    const expectedIds = [...new Set(expected.map((a) => a.alert_id))].sort();
    expect(new Set(expected.map((a) => a.detector)).size).toBeGreaterThanOrEqual(2);

    // One partition per input topic: stage 1 then forwards each vendor stream in its order, as the
    // reference saw it. (Across input partitions, stage 1 interleaves by fetch timing; events more
    // than reorder_max_delay_seconds out of order are late — see the README.)
    const k = s.config.kafka!;
    await admin.createTopics({ topics: k.inputs.map((i) => ({ topic: i.topic, numPartitions: 1, replicationFactor: 1 })), waitForLeaders: true });
    const runner = await startRunner(s, { store: false });
    runners.push(runner);
    const alertReader = await collect(k.topics.alerts);
    readers.push(alertReader.consumer);
    await produceWorkload(s, { records });
    await waitFor('runtime caught up, sent idle watermarks, and emitted as many alerts as the reference', async () =>
      (await groupLag(admin, k.group_id, s.topics.filter((t) => t !== k.topics.alerts && t !== k.topics.dead_letter && t !== k.topics.changelog))) === 0 &&
      runner.stats().idle_markers > 0 &&
      new Set(alertsOf(alertReader.messages).map((a) => a.alert_id)).size >= expectedIds.length ? true : undefined,
    );
    expect(runner.stats().records_invalid).toBe(0);
    const got = alertsOf(alertReader.messages);
    expect([...new Set(got.map((a) => a.alert_id))].sort()).toEqual(expectedIds);
    console.log(`simulated logs, ${threads} ingest threads: ${records.length} records → ${expectedIds.length} alerts (${[...new Set(got.map((a) => `${a.detector}/${a.kind}`))].join(', ')}), same ids as one in-process engine`);
  }, 240_000);
});
