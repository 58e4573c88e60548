/**
 * Topic layout of the Kafka runtime, every name explicit in config (brokers here run with
 * auto topic creation off, and implicit names break ACLs):
 *   inputs                vendor logs (created when missing, with `topics.partitions`)
 *   topics.by_token       repartition: TokenEvent JSON keyed by token fingerprint (and parent fp for mints)
 *   topics.by_issuer      repartition: TokenEvent JSON keyed by issuer
 *   topics.alerts         alert JSON keyed by token_fp or issuer, for subscribers
 *   topics.dead_letter    original bytes of records that failed decoding, reason in headers
 *   topics.changelog      compacted: the latest gzipped checkpoint of each detection task, keyed
 *                         `${repartition topic}:${partition}` (one partition: restores read it whole)
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
    // compaction keeps the latest checkpoint per task key, so a restore reads little
    {
      topic: t.changelog,
      role: 'changelog',
      numPartitions: 1,
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
      // another instance may have created them between listTopics and createTopics
      const now = new Set(await admin.listTopics());
      if (missing.some((s) => !now.has(s.topic))) throw err;
    }
    logger?.info({ topics: missing.map((s) => `${s.role}:${s.topic}`) }, 'created kafka topics');
  }
  const meta = await admin.fetchTopicMetadata({ topics: plan.map((s) => s.topic) });
  const partitions: Record<string, number> = {};
  for (const t of meta.topics) partitions[t.name] = t.partitions.length;
  return { created: missing.map((s) => s.topic), existing: plan.filter((s) => existing.has(s.topic)).map((s) => s.topic), partitions };
}
