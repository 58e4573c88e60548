/**
 * Prometheus metrics of the runtime, on a registry per runtime instance (two runners in one
 * process, as in tests, never collide). Label values come from closed sets or from config
 * (topic names, detector ids, error codes, sink names): never a token, fingerprint or issuer.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ERROR_CODES, type ErrorCode } from '../core/errors.js';
import { DETECTOR_IDS, SEVERITIES, type Severity } from '../../schemas/alert.js';

export type SinkName = 'clickhouse' | 'kafka_alerts' | 'kafka_dead_letter' | 'kafka_repartition' | 'kafka_transaction';

/** written: a task's changed state keys went to the changelog; restored: a task resumed from the changelog; empty: a task found no state (replays its partition from the start). */
export type CheckpointResult = 'written' | 'restored' | 'empty';

/** no_credential: a known format's record without a token (normalizer returned none); control_message: a CloudWatch Logs CONTROL_MESSAGE. */
export type SkipReason = 'no_credential' | 'control_message';

export interface RuntimeMetrics {
  registry: Registry;
  /** Raw records read from an input, by source (the input topic). */
  eventsIn: Counter<'source'>;
  /** Records routed to the dead-letter topic, by source and error code. */
  eventsInvalid: Counter<'source' | 'code'>;
  alerts: Counter<'detector' | 'severity'>;
  consumerLag: Gauge<'topic' | 'partition'>;
  sinkLatency: Histogram<'sink'>;
  sinkQueueDepth: Gauge<'sink'>;
  stateKeys: Gauge<'detector'>;
  checkpoints: Counter<'result'>;
  /** Seconds to restore a task: changelog read, then the muted replay of its partition up to where it resumes. */
  restoreSeconds: Histogram<'role'>;
  /** Repartition records a restoring task replayed with effects muted. */
  restoreReplayed: Counter<'role'>;
  /** Valid records that yield no token event, by source and reason (never dead-lettered). */
  recordsSkipped: Counter<'source' | 'reason'>;
  countEventIn(source: string, n?: number): void;
  countInvalid(source: string, code: ErrorCode, n?: number): void;
  countAlert(detector: string, severity: Severity): void;
  countCheckpoint(result: CheckpointResult): void;
  countSkipped(source: string, reason: SkipReason, n?: number): void;
  /** Time an awaited sink write. */
  timeSink<T>(sink: SinkName, fn: () => Promise<T>): Promise<T>;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag) with the `tokenwatch_` prefix. */
  defaultMetrics?: boolean;
  /** Called on every scrape to refresh state_keys: detector id → live keys. */
  stateKeys?: () => Record<string, number>;
  /** Called on every scrape to refresh sink_queue_depth. */
  queueDepths?: () => Partial<Record<SinkName, number>>;
  /** Called on every scrape: milliseconds each thread has been busy so far (`main`, `ingest-0`, …). */
  threadBusyMs?: () => Record<string, number>;
  /** Operator exceptions (src/exceptions/): their per (detector, exception id) drop counts become alerts_excepted_total. */
  exceptions?: { counts(): readonly { detector: string; exception: string; count: number }[] };
}

const DETECTOR_SET = new Set<string>(DETECTOR_IDS);
const CODE_SET = new Set<string>(ERROR_CODES);
const SEVERITY_SET = new Set<string>(SEVERITIES);

export function createMetrics(opts: MetricsOptions = {}): RuntimeMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'tokenwatch_' });

  const eventsIn = new Counter({ name: 'tokenwatch_events_in_total', help: 'Raw records read from an input, by source (input topic)', labelNames: ['source'] as const, registers: [registry] });
  const eventsInvalid = new Counter({
    name: 'tokenwatch_events_invalid_total',
    help: 'Records that failed decode/validation and went to the dead-letter topic, by source and error code',
    labelNames: ['source', 'code'] as const,
    registers: [registry],
  });
  const alerts = new Counter({ name: 'tokenwatch_alerts_total', help: 'Alerts emitted, by detector and severity', labelNames: ['detector', 'severity'] as const, registers: [registry] });
  const consumerLag = new Gauge({
    name: 'tokenwatch_consumer_lag',
    help: 'Messages behind the partition high watermark after the last processed batch',
    labelNames: ['topic', 'partition'] as const,
    registers: [registry],
  });
  const sinkLatency = new Histogram({
    name: 'tokenwatch_sink_latency_seconds',
    help: 'Time until a sink acknowledged a write (durable), by sink',
    labelNames: ['sink'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const sinkQueueDepth = new Gauge({
    name: 'tokenwatch_sink_queue_depth',
    help: 'Rows or messages waiting in a sink',
    labelNames: ['sink'] as const,
    registers: [registry],
    collect() {
      const depths = opts.queueDepths?.() ?? {};
      for (const [sink, v] of Object.entries(depths)) if (v !== undefined) this.set({ sink }, v);
    },
  });
  // busy time per thread (event-loop utilization): rate() of it is the share of a core the thread
  // keeps busy — the thread at ~1.0 is the one that limits throughput
  const busySeen = new Map<string, number>();
  new Counter({
    name: 'tokenwatch_thread_busy_seconds_total',
    help: 'Time a thread of this instance spent running code (its event loop not waiting), by thread: main, or ingest-N',
    labelNames: ['thread'] as const,
    registers: [registry],
    collect() {
      for (const [thread, ms] of Object.entries(opts.threadBusyMs?.() ?? {})) {
        const delta = ms - (busySeen.get(thread) ?? 0);
        if (delta > 0) this.inc({ thread }, delta / 1000);
        busySeen.set(thread, Math.max(ms, busySeen.get(thread) ?? 0));
      }
    },
  });
  const stateKeys = new Gauge({
    name: 'tokenwatch_state_keys',
    help: 'Live state keys held by a detector, summed over the tasks of this instance',
    labelNames: ['detector'] as const,
    registers: [registry],
    collect() {
      if (!opts.stateKeys) return;
      this.reset();
      for (const [detector, v] of Object.entries(opts.stateKeys())) if (DETECTOR_SET.has(detector)) this.set({ detector }, v);
    },
  });

  const checkpoints = new Counter({
    name: 'tokenwatch_checkpoints_total',
    help: 'Task state on the changelog topic, by result (written: changed keys of a checkpoint; restored: a task resumed from its state; empty: a task found none)',
    labelNames: ['result'] as const,
    registers: [registry],
  });

  const restoreSeconds = new Histogram({
    name: 'tokenwatch_task_restore_seconds',
    help: 'Time to restore a detection task (changelog read + muted replay from its checkpoint), by task role',
    labelNames: ['role'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const restoreReplayed = new Counter({
    name: 'tokenwatch_task_restore_replayed_total',
    help: 'Repartition records replayed with effects muted while restoring tasks, by task role',
    labelNames: ['role'] as const,
    registers: [registry],
  });

  const recordsSkipped = new Counter({
    name: 'tokenwatch_records_skipped_total',
    help: 'Valid input records that carry no credential (no_credential) or no records (control_message), by source (input topic) and reason; never dead-lettered',
    labelNames: ['source', 'reason'] as const,
    registers: [registry],
  });

  // exception ids are operator-chosen labels from the exceptions file (schema-checked), never tokens
  new Counter({
    name: 'tokenwatch_alerts_excepted_total',
    help: 'Alert drafts dropped by an operator exception before they became alerts, by detector and exception id',
    labelNames: ['detector', 'exception'] as const,
    registers: [registry],
    collect() {
      if (!opts.exceptions) return;
      this.reset(); // the filter's counts are cumulative: republish them as they stand
      for (const c of opts.exceptions.counts()) this.inc({ detector: DETECTOR_SET.has(c.detector) ? c.detector : 'other', exception: c.exception }, c.count);
    },
  });

  return {
    registry,
    recordsSkipped,
    eventsIn,
    eventsInvalid,
    alerts,
    consumerLag,
    sinkLatency,
    sinkQueueDepth,
    stateKeys,
    checkpoints,
    restoreSeconds,
    restoreReplayed,
    countEventIn: (source, n = 1) => eventsIn.inc({ source }, n),
    // closed sets only: an unexpected value becomes "other" rather than a new series
    countInvalid: (source, code, n = 1) => eventsInvalid.inc({ source, code: CODE_SET.has(code) ? code : 'other' }, n),
    countAlert: (detector, severity) =>
      alerts.inc({ detector: DETECTOR_SET.has(detector) ? detector : 'other', severity: SEVERITY_SET.has(severity) ? severity : 'other' }),
    countCheckpoint: (result) => checkpoints.inc({ result }),
    countSkipped: (source, reason, n = 1) => recordsSkipped.inc({ source, reason }, n),
    async timeSink(sink, fn) {
      const end = sinkLatency.startTimer({ sink });
      try {
        return await fn();
      } finally {
        end();
      }
    },
  };
}
