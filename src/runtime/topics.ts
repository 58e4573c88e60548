/**
 * Topic layout of the Kafka runtime, every name explicit in config (brokers here run with
 * auto topic creation off, and implicit names break ACLs):
 *   inputs                vendor logs (created when missing, with `topics.partitions`)
 *   topics.by_token       repartition: binary token event records (token-event-codec.ts) keyed by token
 *                         fingerprint (and parent fp for mints), plus input sources' watermark records
 *   topics.by_issuer      repartition: the same, keyed by issuer
 *   topics.alerts         alert JSON keyed by token_fp or issuer, for subscribers (transactional)
 *   topics.dead_letter    masked bytes of records that failed decoding, reason in headers
 *   topics.changelog      compacted: each detection task's state keys (task-state-store.ts), task p's
 *                         on partition p, keyed `<role>/<partition>/<state key>`
 */
import type { Admin } from 'kafkajs';
import type { KafkaConfig } from '../config/config-schema.js';
import type { Logger } from '../core/logger.js';

export type TopicRole = 'input' | 'by_token' | 'by_issuer' | 'alerts' | 'dead_letter' | 'changelog';

/** Largest checkpoint message the changelog topic accepts (its max.message.bytes). */
export const CHANGELOG_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface TopicSpec {
  topic: string;
  role: TopicRole;
  numPartitions: number;
  replicationFactor: number;
  configEntries?: { name: string; value: string }[];
}

/** Every topic the runtime reads or writes, with the settings used when it must be created. */
export function topicPlan(cfg: KafkaConfig): TopicSpec[] {
  const t = cfg.topics;
  const base = { numPartitions: t.partitions, replicationFactor: t.replication_factor };
  const specs: TopicSpec[] = [
    ...cfg.inputs.map((i) => ({ topic: i.topic, role: 'input' as const, ...base })),
    // repartition topics are transient hand-offs between the two stages: a week of retention
    // covers any realistic outage of the detect stage
    { topic: t.by_token, role: 'by_token', ...base, configEntries: [{ name: 'retention.ms', value: String(7 * 24 * 3600_000) }] },
    { topic: t.by_issuer, role: 'by_issuer', ...base, configEntries: [{ name: 'retention.ms', value: String(7 * 24 * 3600_000) }] },
    { topic: t.alerts, role: 'alerts', ...base },
    { topic: t.dead_letter, role: 'dead_letter', ...base },
    // compaction keeps the latest value of each task's state key; task p's keys live on partition p
    {
      topic: t.changelog,
      role: 'changelog',
      numPartitions: t.partitions,
      replicationFactor: t.replication_factor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'max.message.bytes', value: String(CHANGELOG_MAX_MESSAGE_BYTES) },
      ],
    },
  ];
  const seen = new Map<string, TopicRole>();
  for (const s of specs) {
    const prev = seen.get(s.topic);
    if (prev) throw new Error(`kafka topic "${s.topic}" is configured for both ${prev} and ${s.role} — give each role its own topic`);
    seen.set(s.topic, s.role);
  }
  return specs;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Partition count of every planned topic after the call. */
  partitions: Record<string, number>;
}

/** Create the planned topics that do not exist yet; existing topics are left as they are. */
export async function ensureTopics(admin: Admin, cfg: KafkaConfig, logger?: Logger): Promise<EnsureTopicsResult> {
  const plan = topicPlan(cfg);
  const existing = new Set(await admin.listTopics());
  const missing = plan.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.numPartitions,
          replicationFactor: s.replicationFactor,
          ...(s.configEntries && { configEntries: s.configEntries }),
        })),
      });
    } catch (err) {
      // another instance may have created them between listTopics and createTopics, or the
      // creation went through and only kafkajs' wait for leaders failed (UNKNOWN_TOPIC_OR_PARTITION
      // while KRaft propagates): fail only if they do not show up
      for (let attempt = 1; ; attempt++) {
        const now = new Set(await admin.listTopics());
        if (!missing.some((s) => !now.has(s.topic))) break;
        if (attempt >= 40) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    logger?.info({ topics: missing.map((s) => `${s.role}:${s.topic}`) }, 'created kafka topics');
  }
  const meta = await metadataOnceKnown(admin, plan.map((s) => s.topic));
  const partitions: Record<string, number> = {};
  for (const t of meta.topics) partitions[t.name] = t.partitions.length;
  return { created: missing.map((s) => s.topic), existing: plan.filter((s) => existing.has(s.topic)).map((s) => s.topic), partitions };
}

/**
 * Topic metadata, retried while the broker does not know a just-created topic yet: with KRaft the
 * controller acknowledges creation before every broker serves the topic, and kafkajs retries only
 * LEADER_NOT_AVAILABLE, not UNKNOWN_TOPIC_OR_PARTITION (seen with two runners starting at once).
 */
async function metadataOnceKnown(admin: Admin, topics: string[]): ReturnType<Admin['fetchTopicMetadata']> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await admin.fetchTopicMetadata({ topics });
    } catch (err) {
      const retriable = (err as { retriable?: boolean; type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION';
      if (!retriable || attempt >= 40) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
