/**
 * The product's main mode end to end: a simulated stream of real vendor records (CloudTrail,
 * Okta, Kong) with every attack injected is produced to an input topic of the real local
 * Kafka broker; two `tokenwatch run` instances in one consumer group detect every attack, with
 * alerts on the alert topic (read by a separate consumer) and in the real ClickHouse server,
 * and the set of alerts equals what the embedded replay runner raises on the same records.
 */
import { randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Alert } from '../../schemas/alert.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { createLogger } from '../../src/core/logger.js';
import { runReplay } from '../../src/runners/embedded-runner.js';
import { simulatedEstateConfig } from '../../src/cli/simulate-command.js';
import { KafkaRunner, groupLag, startKafkaRunner } from '../../src/runtime/kafka-runner.js';
import { ATTACK_NAMES, simulate, type InjectedAttack } from '../../src/simulate/index.js';
import { alertsOf, BROKERS, CLICKHOUSE_URL, collect, waitFor } from './kafka-test-kit.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
const RUN = randomUUID().slice(0, 8);
const HMAC_KEY = 'simulated-attacks-test-hmac-key-0123456789';
const fingerprint = createFingerprinter({ key: HMAC_KEY });
const prefix = `tw-sim-${RUN}`;
const HOUR = 3_600_000;

const estate = simulatedEstateConfig();
const config = parseConfig({
  ...estate,
  hmac_key_env: 'TW_SIM_HMAC_KEY',
  engine: { source_idle_seconds: 2 },
  kafka: {
    brokers: BROKERS,
    client_id: 'tw-sim',
    group_id: `${prefix}.group`,
    // one mixed topic with auto-detection, one partition: the records keep their event-time order
    inputs: [{ topic: `${prefix}.vendor-logs`, format: 'auto' }],
    topics: {
      alerts: `${prefix}.alerts`,
      dead_letter: `${prefix}.dead-letter`,
      by_token: `${prefix}.repartition.by-token`,
      by_issuer: `${prefix}.repartition.by-issuer`,
      changelog: `${prefix}.changelog`,
      partitions: 4,
      replication_factor: 1,
    },
  },
  store: { url: CLICKHOUSE_URL, database: `tw_sim_${RUN}`, flush_interval_ms: 200 },
  log: { level: 'silent' },
});
const k = config.kafka!;
const topics = [k.inputs[0]!.topic, k.topics.alerts, k.topics.dead_letter, k.topics.by_token, k.topics.by_issuer, k.topics.changelog];

// 48 h: credential_context judges only after an issuer's 24-hour learning period (attacks start at hour 30)
const sim = simulate({ seed: 5, start: Date.UTC(2026, 0, 5), hours: 48, scale: 0.1, attacks: [...ATTACK_NAMES] });
const records = [...sim.events].map((e) => JSON.stringify(e.record));

const kafka = new Kafka({ clientId: prefix, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
let producer: Producer;
let ch: ClickHouseClient;
const runners: KafkaRunner[] = [];
let reader: { consumer: Consumer; messages: { value: Buffer | null }[] };
let embeddedAlerts: Alert[] = [];

const tokenKey = (a: InjectedAttack): string | undefined =>
  a.issuer && /^(ASIA|AKIA)/.test(a.issuer) ? fingerprint('aws', a.issuer) : a.issuer?.startsWith('AT.') ? fingerprint('jti', a.issuer) : undefined;
const belongsTo = (alert: Alert, a: InjectedAttack): boolean => {
  const t = Date.parse(alert.last_seen);
  if (t < a.start - 10 * 60_000 || t > a.end + 2 * HOUR) return false;
  const fp = tokenKey(a);
  return fp ? alert.token_fp === fp : alert.issuer === a.issuer;
};

beforeAll(async () => {
  // the reference: the embedded runner over the same records, in-process
  const alerts: Alert[] = [];
  await runReplay({
    config: parseConfig(estate),
    inputs: [{ name: 'sim', source: Readable.from([records.join('\n') + '\n']) }],
    fingerprint,
    alertsOut: new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) alerts.push(JSON.parse(l)); cb(); } }),
    deadLetters: { write: async () => { throw new Error('the simulated stream has no invalid records'); } },
  });
  embeddedAlerts = alerts;

  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: k.inputs[0]!.topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  ch = createClient({ url: CLICKHOUSE_URL });
}, 300_000);

afterAll(async () => {
  await Promise.all(runners.map((r) => r.stop().catch(() => {})));
  await reader?.consumer.disconnect().catch(() => {});
  await producer?.disconnect().catch(() => {});
  await admin?.deleteTopics({ topics }).catch(() => {});
  await admin?.deleteGroups([k.group_id]).catch(() => {});
  await admin?.disconnect().catch(() => {});
  await ch?.command({ query: `DROP DATABASE IF EXISTS ${config.store.database}` }).catch(() => {});
  await ch?.close();
});

describe('tokenwatch run on a simulated attack stream (real Kafka + ClickHouse, two instances)', () => {
  it('detects every injected attack, on the alert topic and in ClickHouse, as the embedded runner does', async () => {
    expect(records.length).toBeGreaterThan(20_000);
    expect(embeddedAlerts.length).toBeGreaterThanOrEqual(ATTACK_NAMES.length);
    const log = createLogger({ level: 'silent' });
    for (let i = 0; i < 2; i++) {
      runners.push(await startKafkaRunner({ config, env: { TW_SIM_HMAC_KEY: HMAC_KEY }, logger: log, http: false, sessionTimeoutMs: 10_000, partitionsConsumedConcurrently: 4 }));
    }
    reader = await collect(kafka, k.topics.alerts, prefix);
    for (let i = 0; i < records.length; i += 250) {
      await producer.send({ topic: k.inputs[0]!.topic, messages: records.slice(i, i + 250).map((value) => ({ value })) });
    }
    const expectedIds = [...new Set(embeddedAlerts.map((a) => a.alert_id))].sort();
    await waitFor(
      'both instances caught up and sent idle watermarks, and the alert topic holds as many alerts as the embedded runner raised',
      async () =>
        (await groupLag(admin, k.group_id, [k.inputs[0]!.topic, k.topics.by_token, k.topics.by_issuer])) === 0 &&
        runners.some((r) => r.stats().idle_markers > 0) &&
        new Set(alertsOf(reader.messages).map((a) => a.alert_id)).size >= expectedIds.length,
      240_000,
    );
    // the group really shared the work
    for (const r of runners) expect(r.stats().events_detected).toBeGreaterThan(0);
    expect(runners.reduce((n, r) => n + r.stats().records_invalid, 0)).toBe(0);

    const onTopic = alertsOf(reader.messages);
    for (const a of sim.attacks) {
      expect(onTopic.some((x) => a.detectors.includes(x.detector) && belongsTo(x, a)), `${a.name} → ${a.detectors.join('|')} on the alert topic`).toBe(true);
    }
    expect(onTopic.filter((x) => !sim.attacks.some((a) => belongsTo(x, a))).map((x) => x.summary)).toEqual([]);
    expect([...new Set(onTopic.map((a) => a.alert_id))].sort()).toEqual(expectedIds);

    await waitFor('alerts in ClickHouse', async () => {
      const rs = await ch.query({ query: `SELECT DISTINCT alert_id FROM ${config.store.database}.alerts`, format: 'JSONEachRow' });
      const ids = (await rs.json<{ alert_id: string }>()).map((r) => r.alert_id).sort();
      return ids.length >= expectedIds.length ? ids : undefined;
    }).then((ids) => expect(ids).toEqual(expectedIds));
  }, 420_000);
});
