/**
 * What the chaos harness observes: the expected alert ids (the embedded replay of the same
 * records, `tokenwatch replay`), the group's progress on the harness's own broker, the alert ids
 * on the alert topic (read_committed) and in ClickHouse.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaClient, KafkaMessage } from 'kafkajs';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { countIds } from './chaos-compare.js';
import { topicOffsets } from '../src/runtime/partition-reader.js';

const { Kafka, logLevel } = kafkajs;

/** The fingerprint key of every runner and of the replay: alert ids depend on it. */
export const CHAOS_HMAC_KEY = 'tokenwatch-chaos-harness-key-0123456789abcdef';

export function chaosKafka(brokers: string[], clientId: string): KafkaClient {
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 200 } });
}

/** One admin client, recreated after a failure (the broker-restart case kills its connections). */
export class AdminHandle {
  private admin: Admin | undefined;
  constructor(private readonly kafka: KafkaClient) {}

  async get(): Promise<Admin> {
    if (!this.admin) {
      const a = this.kafka.admin();
      await a.connect();
      this.admin = a;
    }
    return this.admin;
  }

  async use<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.get());
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const a = this.admin;
    this.admin = undefined;
    await a?.disconnect().catch(() => undefined);
  }
}

/** `detector/kind` of an alert, to say which alerts were lost or extra. */
export function alertLabel(a: { detector?: unknown; kind?: unknown }): string {
  return `${String(a.detector ?? '?')}/${String(a.kind ?? '?')}`;
}

/** Detector, kind and dedup key: the id hashes these and the window, so two ids with one key are one detection in two windows. */
export function detectionKey(a: { detector?: unknown; kind?: unknown; dedup_key?: unknown }): string {
  return `${String(a.detector ?? '?')}/${String(a.kind ?? '?')}/${String(a.dedup_key ?? '?')}`;
}

/** Sum of the group's committed offsets over the topics (uncommitted partitions count 0). */
export async function committedSum(admin: Admin, groupId: string, topics: readonly string[]): Promise<number> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  let sum = 0;
  for (const t of committed) for (const p of t.partitions) sum += Math.max(0, Number(p.offset));
  return sum;
}

/** Records on a topic: Σ (high − low) over its partitions. */
export async function topicRecords(admin: Admin, topic: string): Promise<number> {
  const offsets = await topicOffsets(admin, topic);
  return offsets.reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
}

/**
 * Every committed message of `topic` from the beginning, to `onMessage`, by a fresh group with
 * read_committed isolation (kafkajs' default), until each partition's end offset as of the start
 * is reached (or nothing arrived for `idleMs`: a transaction marker can be the last offset).
 */
async function readCommitted(kafka: KafkaClient, admin: Admin, topic: string, groupId: string, idleMs: number, onMessage: (m: KafkaMessage) => void): Promise<void> {
  const ends = new Map((await topicOffsets(admin, topic)).filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]));
  if (ends.size === 0) return;
  const consumer = kafka.consumer({ groupId, readUncommitted: false });
  const reached = new Set<number>();
  let last = Date.now();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        last = Date.now();
        onMessage(message);
        if (Number(message.offset) + 1 >= (ends.get(partition) ?? 0)) reached.add(partition);
      },
    });
    const deadline = Date.now() + 180_000;
    while (reached.size < ends.size && Date.now() - last < idleMs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

/** Every alert id on the alert topic, copies counted (committed messages only). */
export async function readAlertTopic(kafka: KafkaClient, admin: Admin, topic: string, groupId: string, idleMs = 5000): Promise<{ counts: Map<string, number>; labels: Map<string, string>; keys: Map<string, string>; incidents: number; unparsable: number }> {
  const ids: string[] = [];
  const labels = new Map<string, string>();
  const keys = new Map<string, string>();
  let unparsable = 0;
  let incidents = 0;
  await readCommitted(kafka, admin, topic, groupId, idleMs, (message) => {
    try {
      const a = JSON.parse(message.value?.toString('utf8') ?? '') as { alert_id?: unknown; incident_id?: unknown; detector?: unknown; kind?: unknown; dedup_key?: unknown; finding_info?: { uid?: unknown } };
      const id = typeof a.alert_id === 'string' ? a.alert_id : typeof a.finding_info?.uid === 'string' ? a.finding_info.uid : undefined;
      if (id) {
        ids.push(id);
        labels.set(id, alertLabel(a));
        keys.set(id, detectionKey(a));
      } else if (typeof a.incident_id === 'string') incidents++; // incidents share the alert topic (header type: incident)
      else unparsable++;
    } catch {
      unparsable++;
    }
  });
  return { counts: countIds(ids), labels, keys, incidents, unparsable };
}

/**
 * Dead letters on the topic (committed messages; its offsets also count transaction markers) and
 * how many distinct input records they name (source topic/partition/offset and envelope index):
 * a dead letter written twice shows as more messages than sources.
 */
export async function readDeadLetters(kafka: KafkaClient, admin: Admin, topic: string, groupId: string, idleMs = 5000): Promise<{ messages: number; sources: number }> {
  const sources = new Set<string>();
  let messages = 0;
  await readCommitted(kafka, admin, topic, groupId, idleMs, (m) => {
    messages++;
    const h = (k: string): string => m.headers?.[k]?.toString() ?? '';
    sources.add(`${h('source_topic')}/${h('source_partition')}/${h('source_offset')}/${h('envelope_index')}/${h('reason_code')}`);
  });
  return { messages, sources: sources.size };
}

export interface ClickHouseObservation {
  alerts: Map<string, number>;
  eventRows: number;
  distinctEvents: number;
}

export async function readClickHouse(url: string, database: string): Promise<ClickHouseObservation> {
  const ch = createClient({ url, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF } });
  try {
    const rows = await (await ch.query({ query: `SELECT alert_id, count() AS n FROM ${database}.alerts GROUP BY alert_id`, format: 'JSONEachRow' })).json<{ alert_id: string; n: string | number }>();
    const ev = await (await ch.query({ query: `SELECT count() AS rows, uniqExact(event_id) AS ids FROM ${database}.token_events`, format: 'JSONEachRow' })).json<{ rows: string | number; ids: string | number }>();
    return {
      alerts: new Map(rows.map((r) => [r.alert_id, Number(r.n)])),
      eventRows: Number(ev[0]?.rows ?? 0),
      distinctEvents: Number(ev[0]?.ids ?? 0),
    };
  } finally {
    await ch.close();
  }
}

/** Rows in `<db>.alerts`, copies counted (a cheap progress signal while a case runs). */
export async function clickhouseAlertRows(url: string, database: string): Promise<number> {
  const ch = createClient({ url, request_timeout: 5000, log: { level: ClickHouseLogLevel.OFF } });
  try {
    const r = await (await ch.query({ query: `SELECT count() AS n FROM ${database}.alerts`, format: 'JSONEachRow' })).json<{ n: string | number }>();
    return Number(r[0]?.n ?? 0);
  } finally {
    await ch.close();
  }
}

export async function dropDatabase(url: string, database: string): Promise<void> {
  const ch = createClient({ url, log: { level: ClickHouseLogLevel.OFF } });
  try {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  } finally {
    await ch.close();
  }
}

/**
 * Alert ids of the embedded replay (`tokenwatch replay`, no store) of NDJSON files holding
 * exactly the records the case produced, one file per input partition in its order. Ids are
 * deterministic.
 */
export async function replayAlertIds(root: string, cli: string, inputs: readonly string[], configPath: string, outDir: string, tag: string): Promise<{ ids: Map<string, number>; labels: Map<string, string>; keys: Map<string, string>; secs: number; summary: string }> {
  const out = join(outDir, `replay-${tag}.alerts.ndjson`);
  const t0 = Date.now();
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'replay', ...inputs, '--out', out, '--no-store', '--quiet', '--config', configPath, '--dead-letter', join(outDir, `replay-${tag}.dead-letter.ndjson`)], {
      cwd: root,
      env: { ...process.env, TOKENWATCH_HMAC_KEY: CHAOS_HMAC_KEY },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(err) : reject(new Error(`chaos: replay of ${inputs.length} files exited ${code}: ${err.slice(-2000)}`))));
  });
  const alerts = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { alert_id: string; detector?: string; kind?: string; dedup_key?: string });
  const ids = alerts.map((a) => a.alert_id);
  const labels = new Map(alerts.map((a) => [a.alert_id, alertLabel(a)]));
  const keys = new Map(alerts.map((a) => [a.alert_id, detectionKey(a)]));
  const summary = stderr.split('\n').filter((l) => /alerts:|invalid:|late events/.test(l)).map((l) => l.trim()).join('; ');
  return { ids: countIds(ids), labels, keys, secs: (Date.now() - t0) / 1000, summary };
}
