import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaConfig } from '../../src/config/config-schema.js';
import { TokenwatchError } from '../../src/core/errors.js';
import { createKafka, kafkaClientConfig } from '../../src/runtime/kafka-client.js';
import { createLogger } from '../../src/core/logger.js';
import { ensureTopics, topicPlan } from '../../src/runtime/topics.js';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const base = (extra: Record<string, unknown> = {}) => KafkaConfig.parse({ brokers: BROKERS, inputs: [{ topic: 'in' }], ...extra });

describe('kafkajs client config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-kafka-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('plain connection: brokers and client id, no ssl or sasl', () => {
    const c = kafkaClientConfig(base({ client_id: 'tw-test' }), { env: {} });
    expect(c.brokers).toEqual(BROKERS);
    expect(c.clientId).toBe('tw-test');
    expect(c.ssl).toBeUndefined();
    expect(c.sasl).toBeUndefined();
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('SASL %s takes the password from the named env var', (mechanism) => {
    const c = kafkaClientConfig(base({ sasl: { mechanism, username: 'tw', password_env: 'TW_TEST_KAFKA_PW' } }), { env: { TW_TEST_KAFKA_PW: 's3cret' } });
    expect(c.sasl).toEqual({ mechanism, username: 'tw', password: 's3cret' });
  });

  it('logs kafkajs CONCURRENT_TRANSACTIONS at debug (retried at once by the outbox), other errors at error', () => {
    const seen: { level: string; msg: string }[] = [];
    const logger = createLogger({ level: 'debug' });
    const child = logger.child({ component: 'kafkajs' });
    for (const level of ['error', 'warn', 'info', 'debug'] as const) (child as unknown as Record<string, unknown>)[level] = (_o: unknown, msg: string) => seen.push({ level, msg });
    (logger as unknown as { child: () => unknown }).child = () => child;
    const log = kafkaClientConfig(base(), { env: {}, logger }).logCreator!(4 as never);
    const entry = (message: string, error?: string) => ({ namespace: 'Producer', level: 1, label: 'ERROR', log: { timestamp: '', logger: 'kafkajs', message, ...(error && { error }) } });
    log(entry('Response AddOffsetsToTxn(key: 25, version: 1)', 'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing') as never);
    log(entry('Failed to send messages: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing') as never);
    log(entry('Response Produce(key: 0, version: 3)', 'This server is not the leader for that topic-partition') as never);
    expect(seen.map((s) => s.level)).toEqual(['debug', 'debug', 'error']);
  });

  it('SASL without the env var set fails naming the variable and the config path', () => {
    const cfg = base({ sasl: { mechanism: 'scram-sha-512', username: 'tw', password_env: 'TW_TEST_MISSING_PW' } });
    let err: unknown;
    try {
      kafkaClientConfig(cfg, { env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenwatchError);
    expect((err as TokenwatchError).code).toBe('config_invalid');
    expect((err as Error).message).toContain('kafka.sasl.password_env');
    expect((err as Error).message).toContain('TW_TEST_MISSING_PW');
  });

  it('TLS: true enables ssl with system CAs; an object reads the PEM files', () => {
    expect(kafkaClientConfig(base({ tls: true }), { env: {} }).ssl).toBe(true);
    writeFileSync(join(dir, 'ca.pem'), 'CA-PEM');
    writeFileSync(join(dir, 'cert.pem'), 'CERT-PEM');
    writeFileSync(join(dir, 'key.pem'), 'KEY-PEM');
    const c = kafkaClientConfig(base({ tls: { ca_file: join(dir, 'ca.pem'), cert_file: join(dir, 'cert.pem'), key_file: join(dir, 'key.pem'), reject_unauthorized: false } }), { env: {} });
    const ssl = c.ssl as { ca: Buffer[]; cert: Buffer; key: Buffer; rejectUnauthorized: boolean };
    expect(ssl.ca.map(String)).toEqual(['CA-PEM']);
    expect(String(ssl.cert)).toBe('CERT-PEM');
    expect(String(ssl.key)).toBe('KEY-PEM');
    expect(ssl.rejectUnauthorized).toBe(false);
  });

  it('TLS: unreadable file or a cert without its key is a config error', () => {
    expect(() => kafkaClientConfig(base({ tls: { ca_file: join(dir, 'missing.pem') } }), { env: {} })).toThrow(/kafka\.tls\.ca_file/);
    writeFileSync(join(dir, 'cert-only.pem'), 'CERT');
    expect(() => kafkaClientConfig(base({ tls: { cert_file: join(dir, 'cert-only.pem') } }), { env: {} })).toThrow(/cert_file and key_file/);
  });

  it('topic plan: explicit names per role, duplicates rejected', () => {
    const plan = topicPlan(base());
    expect(plan.map((p) => `${p.role}:${p.topic}`)).toEqual([
      'input:in',
      'by_token:tokenwatch.repartition.by-token',
      'by_issuer:tokenwatch.repartition.by-issuer',
      'alerts:tokenwatch.alerts',
      'dead_letter:tokenwatch.dead-letter',
      'changelog:tokenwatch.changelog',
    ]);
    expect(() => topicPlan(base({ inputs: [{ topic: 'tokenwatch.alerts' }] }))).toThrow(/both input and alerts/);
  });
});

describe('against the local Kafka broker', () => {
  it('connects, negotiates API versions with the broker, and creates the planned topics once', async () => {
    const id = randomUUID().slice(0, 8);
    const cfg = base({
      client_id: `tw-client-test-${id}`,
      inputs: [{ topic: `tw-test-${id}.in`, format: 'cloudtrail' }],
      topics: {
        alerts: `tw-test-${id}.alerts`,
        dead_letter: `tw-test-${id}.dlq`,
        by_token: `tw-test-${id}.by-token`,
        by_issuer: `tw-test-${id}.by-issuer`,
        changelog: `tw-test-${id}.changelog`,
        partitions: 3,
        replication_factor: 1,
      },
    });
    const kafka = createKafka(cfg, { env: {} });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const requests = new Map<string, number>();
    producer.on(producer.events.REQUEST, (e) => requests.set(e.payload.apiName, e.payload.apiVersion));
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.brokers.length).toBeGreaterThanOrEqual(1);
      expect(cluster.clusterId).toMatch(/\S+/);

      const first = await ensureTopics(admin, cfg);
      const names = topicPlan(cfg).map((p) => p.topic);
      expect(first.created.sort()).toEqual([...names].sort());
      // the changelog has as many partitions as the repartition topics: task p's state keys live on partition p
      for (const p of topicPlan(cfg)) expect(first.partitions[p.topic]).toBe(3);
      const second = await ensureTopics(admin, cfg);
      expect(second.created).toEqual([]);
      expect(second.existing.sort()).toEqual([...names].sort());

      await producer.connect();
      await producer.send({ topic: cfg.inputs[0]!.topic, messages: [{ key: 'k', value: '{}' }] });
      // kafkajs 2.2.4 negotiated these with the broker (Kafka 3.9 accepts kafkajs' max versions)
      expect(requests.get('ApiVersions')).toBeGreaterThanOrEqual(0);
      expect(requests.get('Metadata')).toBeGreaterThanOrEqual(0);
      expect(requests.get('Produce')).toBeGreaterThanOrEqual(3);
      const offsets = await admin.fetchTopicOffsets(cfg.inputs[0]!.topic);
      expect(offsets.reduce((s, p) => s + Number(p.high), 0)).toBe(1);
      console.log(`kafkajs ↔ broker API versions used: ${[...requests].map(([k, v]) => `${k} v${v}`).join(', ')}`);
    } finally {
      await producer.disconnect();
      await admin.deleteTopics({ topics: topicPlan(cfg).map((p) => p.topic) }).catch(() => {});
      await admin.disconnect();
    }
  });
});
