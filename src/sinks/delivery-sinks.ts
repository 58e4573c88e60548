/**
 * The configured HTTP delivery sinks (`sinks:` in the config) behind one object: alerts go to
 * the SET sink (those it maps), the webhook and Splunk HEC; hygiene findings to the webhook and
 * Splunk HEC (unless their `hygiene: false`). `offer*` waits only for queue room, so the replay
 * loop and the Kafka runner are slowed by a lagging receiver (bounded queues) but never
 * serialized on HTTP round trips; `close()` delivers what is queued and reports failures.
 */
import type { Alert } from '../../schemas/alert.js';
import type { SinksConfig, TokenwatchConfig } from '../config/config-schema.js';
import type { Logger } from '../core/logger.js';
import type { StoreClient } from '../store/clickhouse-client.js';
import { HygieneJob } from '../hygiene/hygiene-job.js';
import type { HygieneAlert } from '../hygiene/hygiene-alert.js';
import { SetSink } from './set-sink.js';
import { WebhookSink } from './webhook-sink.js';
import { SplunkHecSink } from './splunk-hec-sink.js';
import type { HttpBatcherStats, HttpDeliveryConfig } from './http-batcher.js';

export interface AlertDelivery {
  offerAlerts(alerts: readonly Alert[]): Promise<void>;
  offerFindings(findings: readonly HygieneAlert[]): Promise<void>;
  /** Waits for everything queued; rejects when a sink gave up on a batch. */
  flush(): Promise<void>;
  close(): Promise<void>;
  stats(): Record<string, HttpBatcherStats>;
  names: string[];
}

function delivery(c: HttpDeliveryConfig): HttpDeliveryConfig {
  return { max_batch: c.max_batch, flush_interval_ms: c.flush_interval_ms, max_queue: c.max_queue, max_retries: c.max_retries, base_delay_ms: c.base_delay_ms, max_delay_ms: c.max_delay_ms, timeout_ms: c.timeout_ms };
}

/** Undefined when no sink is configured. */
export function openAlertDelivery(cfg: SinksConfig, env: Record<string, string | undefined> = process.env): AlertDelivery | undefined {
  const set = cfg.set && new SetSink({ config: { ...cfg.set, delivery: delivery(cfg.set) }, env });
  const webhook = cfg.webhook && new WebhookSink({ config: { ...cfg.webhook, delivery: delivery(cfg.webhook) }, env });
  const hec = cfg.splunk_hec && new SplunkHecSink({ config: { ...cfg.splunk_hec, delivery: delivery(cfg.splunk_hec) }, env });
  const all: [string, { flush(): Promise<void>; close(): Promise<void>; stats: HttpBatcherStats }][] = [];
  if (set) all.push(['set', set]);
  if (webhook) all.push(['webhook', webhook]);
  if (hec) all.push(['splunk_hec', hec]);
  if (all.length === 0) return undefined;
  const webhookHygiene = cfg.webhook?.hygiene ?? false;
  const hecHygiene = cfg.splunk_hec?.hygiene ?? false;
  return {
    names: all.map(([n]) => n),
    offerAlerts: async (alerts) => {
      if (alerts.length === 0) return;
      await Promise.all([set?.offer(alerts), webhook?.offer(alerts), hec?.offer(alerts)]);
    },
    offerFindings: async (findings) => {
      if (findings.length === 0) return;
      await Promise.all([webhookHygiene ? webhook?.offer(findings) : undefined, hecHygiene ? hec?.offer(findings) : undefined]);
    },
    flush: async () => {
      const results = await Promise.allSettled(all.map(([, s]) => s.flush()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    close: async () => {
      const results = await Promise.allSettled(all.map(([, s]) => s.close()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    stats: () => Object.fromEntries(all.map(([n, s]) => [n, { ...s.stats }])),
  };
}

/** What a long-running runner holds: alert delivery plus the periodic hygiene job feeding it. */
export interface RunnerDelivery {
  offerAlerts(alerts: readonly Alert[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * For the Kafka runner: the configured sinks, and — with a store and `hygiene.enabled` — a
 * HygieneJob every `hygiene.interval_minutes` whose new findings go to the same sinks.
 * Undefined when no sink is configured (hygiene findings have nowhere to go then; the views and
 * `tokenwatch inventory` still show them).
 */
export function startRunnerDelivery(
  cfg: TokenwatchConfig,
  opts: { env?: Record<string, string | undefined>; log: Logger; store?: StoreClient },
): RunnerDelivery | undefined {
  const delivery = openAlertDelivery(cfg.sinks, opts.env);
  if (!delivery) return undefined;
  opts.log.info({ sinks: delivery.names }, 'alert delivery ready');
  const job =
    opts.store && cfg.hygiene.enabled
      ? new HygieneJob({
          client: opts.store.client,
          database: cfg.store.database,
          intervalMs: cfg.hygiene.interval_minutes * 60_000,
          onFindings: async (findings) => {
            if (findings.length > 0) opts.log.info({ findings: findings.length }, 'new hygiene findings');
            await delivery.offerFindings(findings);
          },
          onError: (err) => opts.log.warn({ err: { message: err.message.slice(0, 300) } }, 'hygiene pass failed'),
        })
      : undefined;
  job?.start();
  return {
    offerAlerts: (alerts) => delivery.offerAlerts(alerts),
    close: async () => {
      await job?.stop();
      await delivery.close();
    },
  };
}
