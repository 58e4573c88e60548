/**
 * Integration (real Kafka broker, scripts/services.sh up): every fixture of the formats issue 7
 * added — Keycloak, Vault audit, GitHub audit, Entra audit, Security Lake OCSF, GuardDuty, and
 * the CloudTrail quarantine / GitHub Actions OIDC / no-credential fixtures — produced as records
 * to one input topic with `format: auto`, through stage 1 of the Kafka runtime. What reaches the
 * by-token topic must be, per source, exactly what the in-process decode of the same bytes gives
 * (event ids, actions, fingerprints, envelope); vendor leak signals (GuardDuty credential
 * findings, the AWSCompromisedKeyQuarantine policy) must raise token_replay/vendor_reuse_signal
 * alerts; records without a credential are counted as skipped, never dead-lettered; a broken
 * record inside an envelope is dead-lettered with `envelope` / `envelope_index` headers.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { createLogger } from '../../src/core/logger.js';
import { decodeOpened, openRecord, reasonInEnvelope, type RecordLimits } from '../../src/envelopes/index.js';
import { startKafkaRunner, type KafkaRunner } from '../../src/runtime/kafka-runner.js';
import { maskSecrets } from '../../src/sinks/dead-letter-payload.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { repartitionedEvents, alertsOf, BROKERS, collect, waitFor, oneInputKafka, scenarioTopics } from './kafka-test-kit.js';

const { Kafka, logLevel, Partitioners } = kafkajs;
const VENDORS = fileURLToPath(new URL('../fixtures/vendors/', import.meta.url));
const RUN = randomUUID().slice(0, 8);
const P = `tw-it-fmt-${RUN}`;
const HMAC_KEY = 'formats-kafka-test-key-0123456789abcdef';
const ctx = { fingerprint: createFingerprinter({ key: HMAC_KEY }) };

const FORMAT_DIRS = ['keycloak', 'vault_audit', 'github_audit', 'entra_audit', 'security_lake', 'guardduty'] as const;
/** The CloudTrail fixtures of issue 7: quarantine policy, GitHub Actions OIDC, valid records without a credential. */
const CLOUDTRAIL_FILES = [
  'iam-attach-user-policy-quarantine.json',
  'invalid-quarantine-without-user-name.json',
  'sts-assume-role-with-web-identity-github.json',
  'aws-service-principal-call.json',
  'service-event-without-identity-type.json',
  'service-event-without-user-identity.json',
];

interface Input {
  /** `<dir>/<file>` or `<dir>/<file>#<line>`: the Kafka key, so a dead letter names its fixture. */
  key: string;
  value: Buffer;
}

const compactJson = (path: string): string => JSON.stringify(JSON.parse(readFileSync(path, 'utf8')));

/** Each fixture file as one record, each replay.ndjson line as one; Vault's gzipped per value. */
function fixtureInputs(): Input[] {
  const out: Input[] = [];
  for (const dir of FORMAT_DIRS) {
    for (const name of readdirSync(VENDORS + dir).sort()) {
      const path = `${VENDORS}${dir}/${name}`;
      const texts = name.endsWith('.ndjson') ? readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()) : name.endsWith('.json') ? [compactJson(path)] : [];
      texts.forEach((t, i) => out.push({ key: texts.length > 1 ? `${dir}/${name}#${i}` : `${dir}/${name}`, value: dir === 'vault_audit' ? gzipSync(t) : Buffer.from(t) }));
    }
  }
  for (const name of CLOUDTRAIL_FILES) out.push({ key: `cloudtrail/${name}`, value: Buffer.from(compactJson(`${VENDORS}cloudtrail/${name}`)) });
  // an `aws guardduty get-findings` page: a credential finding, a port probe (no key), a broken finding
  const page = { Findings: ['cli-credential-access-anomalous-behavior.json', 'port-probe-no-credential.json', 'invalid-missing-times.json'].map((n) => JSON.parse(readFileSync(`${VENDORS}guardduty/${n}`, 'utf8')) as unknown) };
  out.push({ key: 'guardduty/get-findings-page', value: Buffer.from(JSON.stringify(page)) });
  return out;
}

const INPUTS = fixtureInputs();

const config = parseConfig({
  hmac_key_env: 'TW_FMT_IT_KEY',
  engine: { source_idle_seconds: 1, reorder_max_delay_seconds: 60 },
  kafka: oneInputKafka(P),
  log: { level: 'silent' },
});
const k = config.kafka!;
const TOPICS = scenarioTopics(k);
const LIMITS: RecordLimits = { maxEventBytes: config.limits.max_event_bytes, maxDepth: config.limits.max_depth, maxDecompressedBytes: config.limits.max_decompressed_bytes };

/** What stage 1 must do with the inputs, computed in process from the same bytes. */
function expected(inputs: readonly Input[]) {
  const events: TokenEvent[] = [];
  const dead: { key: string; code: string; reason: string; envelope?: string; envelope_index?: number }[] = [];
  let skippedNoCredential = 0;
  for (const input of inputs) {
    for (const o of openRecord(input.value, LIMITS)) {
      const r = decodeOpened(o, ctx);
      if (!r.ok) dead.push({ key: input.key, code: r.error.code, reason: reasonInEnvelope(o, r.error).message, envelope: o.envelope, envelope_index: o.envelope_index });
      else if (r.events.length === 0) skippedNoCredential++;
      else events.push(...r.events);
    }
  }
  return { events, dead, skippedNoCredential };
}

/** Per source: the sorted event id / action / fingerprint / envelope of every event. */
function bySource(events: readonly TokenEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events) (out[e.source] ??= []).push(`${e.event_id} ${e.action} ${e.token.fp} ${e.envelope ?? '-'}`);
  for (const list of Object.values(out)) list.sort();
  return out;
}

const kafka = new Kafka({ clientId: P, brokers: BROKERS, logLevel: logLevel.NOTHING });
let admin: Admin;
let producer: Producer;
let runner: KafkaRunner | undefined;
const readers: Consumer[] = [];

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

describe('issue 7 formats on a Kafka input topic (format: auto)', () => {
  it('give per source the token events the in-process decode gives, raise vendor leak signals, count skips, dead-letter with envelope headers', async () => {
    const want = expected(INPUTS);
    const wantBySource = bySource(want.events);
    // every format and the CloudTrail fixtures contribute events, so no comparison is vacuous
    for (const source of [...FORMAT_DIRS, 'cloudtrail']) expect(wantBySource[source]?.length ?? 0, source).toBeGreaterThan(0);
    const signals = want.events.filter((e) => e.action === 'reuse_signal');
    // GuardDuty credential findings, the quarantine policy (and Keycloak's refresh-token reuse error)
    expect([...new Set(signals.map((e) => e.source))].sort()).toEqual(['cloudtrail', 'guardduty', 'keycloak']);
    expect(want.skippedNoCredential).toBeGreaterThan(0);

    runner = await startKafkaRunner({ config, env: { TW_FMT_IT_KEY: HMAC_KEY }, logger: createLogger({ level: 'silent' }), http: false, store: false, sessionTimeoutMs: 10_000, partitionsConsumedConcurrently: 2 });
    const alertReader = await collect(kafka, k.topics.alerts, P);
    const dlqReader = await collect(kafka, k.topics.dead_letter, P);
    const eventReader = await collect(kafka, k.topics.by_token, P);
    readers.push(alertReader.consumer, dlqReader.consumer, eventReader.consumer);

    const topic = k.inputs[0]!.topic;
    await producer.send({ topic, messages: INPUTS.map((i) => ({ key: i.key, value: i.value })) });

    // by-token topic: one `token`-routed copy per event, equal per source to the in-process decode
    const tokenEvents = () => repartitionedEvents(eventReader.messages);
    await waitFor(`${want.events.length} token events on the by-token topic`, () => (tokenEvents().length >= want.events.length ? true : undefined));
    await waitFor('stage 1 done with every input record', () => (runner!.stats().records_in >= INPUTS.length ? true : undefined));
    const got = tokenEvents();
    expect(bySource(got)).toEqual(wantBySource);
    // the native GitHub audit records carry @timestamp but are not Logstash events
    expect(got.filter((e) => e.source === 'github_audit').every((e) => e.envelope === undefined)).toBe(true);
    // GitHub Actions OIDC: the web-identity session is bound to the CI workload
    expect(got.some((e) => e.source === 'cloudtrail' && e.action === 'mint' && e.workload?.kind === 'ci_oidc')).toBe(true);

    // vendor leak signals: GuardDuty credential findings (plain, EventBridge, get-findings page), the quarantine policy
    const signalFps = new Set(signals.map((e) => e.token.fp));
    const alerts = await waitFor(`a vendor_reuse_signal alert for each of ${signalFps.size} signalled tokens`, () => {
      const a = alertsOf(alertReader.messages).filter((x) => x.detector === 'token_replay' && x.kind === 'vendor_reuse_signal');
      return new Set(a.map((x) => x.token_fp)).size >= signalFps.size ? a : undefined;
    });
    expect(new Set(alerts.map((a) => a.token_fp))).toEqual(signalFps);
    expect(got.some((e) => e.source === 'guardduty' && e.envelope === 'guardduty_findings')).toBe(true);

    // dead letters: exactly the records the in-process decode rejects, with their reason
    const dead = await waitFor(`${want.dead.length} dead letters`, () => (dlqReader.messages.length >= want.dead.length ? dlqReader.messages : undefined));
    const deadKeys = (xs: { key: string | null; code: string }[]) => xs.map((d) => `${d.key} ${d.code}`).sort();
    expect(deadKeys(dead.map((d) => ({ key: d.key, code: d.headers.reason_code! })))).toEqual(deadKeys(want.dead));
    // the broken finding inside the get-findings page: envelope headers; plain records: none
    const inPage = dead.filter((d) => d.key === 'guardduty/get-findings-page');
    expect(inPage).toHaveLength(1);
    expect(inPage[0]!.headers).toMatchObject({ envelope: 'guardduty_findings', envelope_index: '2', reason_code: 'schema_violation' });
    expect(inPage[0]!.headers.reason_message).toMatch(/^guardduty_findings\[2\]: /);
    // the value is the whole message with its key ids masked (dead_letter.payload: mask)
    const page = INPUTS.find((i) => i.key === 'guardduty/get-findings-page')!.value.toString();
    expect(inPage[0]!.headers.payload).toBe('masked');
    expect(inPage[0]!.value!.toString()).toBe(maskSecrets(page));
    expect(page).toMatch(/"accessKeyId"\s*:\s*"A[SK]IA/);
    expect(inPage[0]!.value!.toString()).not.toMatch(/"accessKeyId":"A[SK]IA/);
    for (const d of dead.filter((x) => x.key !== 'guardduty/get-findings-page')) {
      expect(d.headers.envelope, d.key ?? '').toBeUndefined();
      expect(d.headers.envelope_index, d.key ?? '').toBeUndefined();
    }
    expect(JSON.stringify(dead.map((d) => d.headers))).not.toMatch(/AKIAEXAMPLE|ASIAEXAMPLE/);
    expect(dead.map((d) => d.value?.toString() ?? '').join('\n')).not.toMatch(/AKIAEXAMPLE|ASIAEXAMPLE/);

    // valid records without a credential: counted as skipped, never dead-lettered
    await waitFor('skips counted', () => (runner!.stats().records_skipped >= want.skippedNoCredential ? true : undefined));
    expect(runner.stats().records_skipped).toBe(want.skippedNoCredential);
    expect(runner.stats().records_invalid).toBe(want.dead.length);
    expect(runner.stats().records_in).toBe(INPUTS.length);
    const metrics = await runner.metrics.registry.metrics();
    expect(metrics).toContain(`tokenwatch_records_skipped_total{source="${topic}",reason="no_credential"} ${want.skippedNoCredential}`);
    const skippedKeys = new Set(INPUTS.filter((i) => openRecord(i.value, LIMITS).every((o) => { const r = decodeOpened(o, ctx); return r.ok && r.events.length === 0; })).map((i) => i.key));
    for (const key of ['cloudtrail/aws-service-principal-call.json', 'cloudtrail/service-event-without-identity-type.json', 'cloudtrail/service-event-without-user-identity.json', 'guardduty/port-probe-no-credential.json']) {
      expect(skippedKeys.has(key), key).toBe(true);
      expect(dead.some((d) => d.key === key), key).toBe(false);
    }
  }, 240_000);
});
