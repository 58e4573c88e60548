/** Shared helpers for the Kafka integration tests (real broker and ClickHouse server on loopback). */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { decodeRecord } from '../../src/runtime/token-event-codec.js';
import { unframe } from '../../src/runtime/repartition-frame.js';
import { syncedGeneration, type GroupMetadata } from '../../src/runtime/kafkajs-kip447.js';

export const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
export const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:18123';

/** Poll until `probe` returns a value (not undefined/false), or fail with what was awaited. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface CollectedMessage {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** A consumer in its own group that collects every message of a topic. */
export async function collect(kafka: Kafka, topic: string, groupPrefix: string): Promise<{ consumer: Consumer; messages: CollectedMessage[] }> {
  const consumer = kafka.consumer({ groupId: `${groupPrefix}-reader-${randomUUID().slice(0, 6)}`, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  const messages: CollectedMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
      messages.push({ key: message.key?.toString() ?? null, value: message.value, headers });
    },
  });
  return { consumer, messages };
}

/** Messages on the alert topic that are alerts (incidents share the topic, marked `type: incident`). */
export const alertMessagesOf = <M extends { value: Buffer | null; headers?: Record<string, string> }>(msgs: readonly M[]): M[] => msgs.filter((m) => m.headers?.type !== 'incident');
export const alertsOf = (msgs: readonly { value: Buffer | null; headers?: Record<string, string> }[]): Alert[] =>
  alertMessagesOf(msgs).map((m) => JSON.parse(m.value!.toString()) as Alert);

/** The `kafka` config block of a one-input-topic scenario: every topic named after `prefix`, 2 partitions. */
/** The token events on a by_token topic (their own-key copies; not parent copies or watermark records). */
export function repartitionedEvents(msgs: readonly { value: Buffer | null }[]): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (const m of msgs) {
    for (const rec of unframe(m.value!)) {
      const r = decodeRecord(rec);
      if (r.kind === 'event' && r.route === 'token') out.push(r.event);
    }
  }
  return out;
}

export function oneInputKafka(prefix: string) {
  return {
    brokers: BROKERS,
    client_id: prefix,
    group_id: `${prefix}.group`,
    inputs: [{ topic: `${prefix}.in`, format: 'auto' }],
    topics: { alerts: `${prefix}.alerts`, dead_letter: `${prefix}.dead-letter`, by_token: `${prefix}.by-token`, by_issuer: `${prefix}.by-issuer`, changelog: `${prefix}.changelog`, partitions: 2, replication_factor: 1 },
  };
}

/** Every topic a parsed one-input scenario uses (to delete afterwards). */
export function scenarioTopics(k: { inputs: { topic: string }[]; topics: { alerts: string; dead_letter: string; by_token: string; by_issuer: string; changelog: string } }): string[] {
  return [k.inputs[0]!.topic, k.topics.alerts, k.topics.dead_letter, k.topics.by_token, k.topics.by_issuer, k.topics.changelog];
}

/**
 * A live member of `groupId` (subscribed to `topic`, consuming nothing it commits), so the group
 * coordinator has a generation to check transactional offsets against (KIP-447). Needs
 * installKip447() first: the generation is read from its SyncGroup.
 */
export async function liveGroupMember(kafka: Kafka, groupId: string, topic: string): Promise<{ consumer: Consumer; meta: GroupMetadata }> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  const joined = new Promise<string>((resolve) => consumer.on(consumer.events.GROUP_JOIN, (e) => resolve(e.payload.memberId)));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  await consumer.run({ autoCommit: false, eachBatch: async () => undefined });
  const memberId = await joined;
  const generationId = syncedGeneration(memberId);
  if (generationId === undefined) throw new Error('no SyncGroup generation recorded: installKip447() not called?');
  return { consumer, meta: { memberId, generationId } };
}
