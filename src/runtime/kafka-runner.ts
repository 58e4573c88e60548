/**
 * The Kafka streaming runtime behind `tokenwatch run`.
 *
 * One consumer group reads the input topics and the two repartition topics; eachBatch
 * dispatches by topic:
 *   stage 1 (ingest, input topics; repartition-stage.ts, the record edge in
 *     src/sources/kafka-source.ts): decode + validate + normalize each record; TokenEvent JSON
 *     goes to `by_token` keyed by token fingerprint (a mint with parent_fp also keyed by the
 *     parent) and to `by_issuer` keyed by issuer; invalid records and implausible event times go
 *     to the dead-letter topic.
 *   stage 2 (detect, repartition topics): one DetectionEngine task per (repartition topic,
 *     partition), Kafka Streams' task model: token-keyed detectors and the token inventory in
 *     by_token tasks, issuer-keyed detectors in by_issuer tasks. Every event of one token (or
 *     issuer) reaches the same task whichever instance owns it, so N instances in one group
 *     detect what one instance detects.
 *
 * At-least-once: a batch's offsets are resolved and committed only after everything it produced
 * (repartitioned events, dead letters, alerts on Kafka, ClickHouse rows) is acknowledged.
 * Alert ids are deterministic, so a redelivered batch re-derives the same ids: ClickHouse
 * dedupes them (ReplacingMergeTree on alert_id), the alert sink skips ids it already sent,
 * subscribers dedupe on alert_id.
 *
 * Detector state lives in memory, per task, and is checkpointed Kafka Streams-style to the
 * compacted changelog topic (changelog-store.ts): gzipped JSON keyed `${repartition topic}:${partition}`, written at
 * most every kafka.checkpoint_interval_seconds right after a batch of the task was committed, and
 * for every task on a graceful stop (before leaving the group). A checkpoint holds the detector
 * state, the events still in the reorder buffer and the offset its state covers. When a task is
 * created for a newly assigned partition, the latest checkpoint is used only if its offset is the
 * group's committed offset; otherwise (none, stale, unreadable, restore timed out) the task
 * starts empty and state rebuilds from the events that follow. Not checkpointed: the token
 * inventory (it is in ClickHouse), alert suppression and event-id dedupe memory.
 *
 * Watermarks are per task, from its own events; when the whole consumer has been idle for
 * engine.idle_flush_seconds, every task is advanced to the newest event time this instance has
 * seen, so quiet partitions still close their windows. Consumption pauses while the ClickHouse
 * sink is behind (backpressure.ts); batches heartbeat while they wait (batch-heartbeat.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import kafkajs from 'kafkajs';
import type { Alert } from '../../schemas/alert.js';
import { TokenEvent } from '../../schemas/token-event.js';
import type { SourceFormat } from '../../schemas/token-event.js';
import type { TokenwatchConfig, KafkaConfig } from '../config/config-schema.js';
import { detectorSet } from '../config/load-config.js';
import { TokenwatchError } from '../core/errors.js';
import { createFingerprinter } from '../core/fingerprint.js';
import { createLogger, type Logger } from '../core/logger.js';
import { TokenInventory } from '../inventory/token-inventory.js';
import type { InventoryRecord } from '../inventory/inventory-record.js';
import { DetectionEngine } from '../pipeline/detection-engine.js';
import type { NormalizeContext } from '../normalize/types.js';
import { ClickHouseSink } from '../sinks/clickhouse-sink.js';
import { startRunnerDelivery, type RunnerDelivery } from '../sinks/delivery-sinks.js';
import { KafkaAlertSink } from '../sinks/kafka-alert-sink.js';
import { IncidentPublisher } from '../incidents/incident-publisher.js';
import { KafkaDeadLetterSink, type DeadLetter } from '../sinks/kafka-dead-letter-sink.js';
import { createStoreClientFromConfig, type StoreClient } from '../store/clickhouse-client.js';
import { migrate, detectServer } from '../store/migrations.js';
import { timePrecisionFor } from '../store/rows.js';
import { createKafka, type Env } from './kafka-client.js';
import { startOpsServer, type OpsServer, type Readiness } from './http-server.js';
import { createMetrics, type RuntimeMetrics } from './metrics.js';
import { exceptionFilterFor } from '../exceptions/exception-file.js';
import { ensureTopics } from './topics.js';
import { enrichStageFor } from '../enrich/enrich-stage.js';
import { plausibleTimeOptions } from '../pipeline/plausible-time.js';
import { BackpressureController } from './backpressure.js';
import { withHeartbeats } from './batch-heartbeat.js';
import { RepartitionStage, ROUTE_HEADER } from './repartition-stage.js';
import { ChangelogStore, MAX_CHECKPOINT_BYTES, RESTORE_TIMEOUT_MS, type TaskCheckpoint } from './changelog-store.js';

const { Partitioners } = kafkajs;

export { MAX_CHECKPOINT_BYTES, checkpointKey, type TaskCheckpoint } from './changelog-store.js';

export interface KafkaRunnerOptions {
  config: TokenwatchConfig;
  logger?: Logger;
  /** Source of `*_env` secrets (default process.env). */
  env?: Env;
  /** Serve /metrics, /healthz, /readyz on config.http (default true). */
  http?: boolean;
  /** Run the (idempotent) ClickHouse migrations at start (default true). */
  migrate?: boolean;
  /** false: no ClickHouse store (alerts still go to Kafka). Default: from config.store. */
  store?: false;
  /** Batches processed at once across partitions (default 6): overlaps sink waits. */
  partitionsConsumedConcurrently?: number;
  /** Consumer session timeout (default 30 s; tests lower it for fast rebalances). */
  sessionTimeoutMs?: number;
  /** Called when the consumer crashed for good (kafkajs will not restart it). */
  onFatal?: (err: Error) => void;
}

export { ROUTE_HEADER } from './repartition-stage.js';

type Role = 'input' | 'by_token' | 'by_issuer';

interface Outbox {
  alerts: Alert[];
  inventory: InventoryRecord[];
  events: TokenEvent[];
  dead: DeadLetter[];
}

interface Task {
  id: string;
  topic: string;
  partition: number;
  role: 'by_token' | 'by_issuer';
  engine: DetectionEngine;
  inventory?: TokenInventory;
  /** Offsets below this were ingested already (a retried batch skips them; their output is in the outbox). */
  nextOffset: bigint;
  /** Offset this instance last committed for the partition (-1: none yet): a checkpoint needs committed === next. */
  committedOffset: bigint;
  /** Ingested events with time above the engine watermark, i.e. still in its reorder buffer. */
  pending: TokenEvent[];
  /** Wall time of the last checkpoint (or of the task's creation). */
  lastCheckpointAt: number;
  /** Produced and not yet acknowledged by every sink (survives a failed batch, retried with the next). */
  outbox: Outbox;
  maxEventTime: number;
  /** Serializes batch processing with idle flushes. */
  lock: Promise<void>;
}

export interface RunnerStats {
  records_in: number;
  records_invalid: number;
  /** Valid records without a token event: no credential, or a CloudWatch Logs control message. */
  records_skipped: number;
  events_repartitioned: number;
  events_detected: number;
  alerts: number;
  /** Detection tasks alive (one per owned repartition partition that received events). */
  tasks: number;
  /** Partitions assigned to this instance at the last group join. */
  assigned_partitions: number;
  /** Idle periods in which task watermarks were advanced. */
  idle_flushes: number;
  /** Times consumption was paused because the ClickHouse sink was near full or its oldest row too old. */
  backpressure_pauses: number;
  /** Events dead-lettered as implausible_time (outside the plausible event-time window). */
  events_implausible: number;
  paused: boolean;
}

function headerString(h: IHeaders | undefined, name: string): string | undefined {
  const v = h?.[name];
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : one.toString();
}

export class KafkaRunner {
  readonly metrics: RuntimeMetrics;
  readonly instanceId = randomUUID().slice(0, 8);
  private readonly cfg: TokenwatchConfig;
  private readonly kcfg: KafkaConfig;
  private readonly log: Logger;
  private readonly env: Env;
  private readonly roles = new Map<string, Role>();
  private readonly tasks = new Map<string, Task>();

  private kafka?: Kafka;
  private admin?: Admin;
  private producer?: Producer;
  private consumer?: Consumer;
  private alertSink?: KafkaAlertSink;
  private incidents?: IncidentPublisher;
  private deadLetters?: KafkaDeadLetterSink;
  private storeClient?: StoreClient;
  /** SET / webhook / Splunk HEC sinks and the periodic hygiene job (src/sinks/delivery-sinks.ts). */
  private delivery?: RunnerDelivery;
  private store?: ClickHouseSink;
  private ops?: OpsServer;
  private timers: NodeJS.Timeout[] = [];

  private joined = false;
  private rebalancing = false;
  private crashed: Error | undefined;
  private storeError: Error | undefined;
  private backpressure?: BackpressureController;
  /** Stage 1: input records → repartitioned events and dead letters. */
  private readonly repartition: RepartitionStage;
  private stopping?: Promise<void>;
  private lastMessageAt = Date.now();
  private instanceMaxEventTime = -Infinity;
  private idleFlushedTo = -Infinity;
  private idleRunning = false;
  private readonly counters = { records_in: 0, records_invalid: 0, records_skipped: 0, events_repartitioned: 0, events_detected: 0, alerts: 0, idle_flushes: 0, events_implausible: 0 };
  private assignedPartitions = 0;
  /** Task checkpoints on the changelog topic (changelog-store.ts). */
  private changelog?: ChangelogStore;
  private readonly inflight = new Set<Promise<void>>();
  private draining = false;

  constructor(private readonly opts: KafkaRunnerOptions) {
    this.cfg = opts.config;
    if (!this.cfg.kafka) throw new TokenwatchError('config_invalid', 'invalid config:\n  kafka: required by `tokenwatch run` — add a kafka section with brokers and inputs');
    this.kcfg = this.cfg.kafka;
    this.env = opts.env ?? process.env;
    this.log = (opts.logger ?? createLogger({ level: this.cfg.log.level })).child({ component: 'kafka-runner', instance: this.instanceId });
    const formats = new Map<string, SourceFormat | 'auto'>();
    for (const i of this.kcfg.inputs) {
      this.roles.set(i.topic, 'input');
      formats.set(i.topic, i.format);
    }
    this.roles.set(this.kcfg.topics.by_token, 'by_token');
    this.roles.set(this.kcfg.topics.by_issuer, 'by_issuer');
    const ctx: NormalizeContext = {
      fingerprint: createFingerprinter({
        key: this.env[this.cfg.hmac_key_env],
        onDevKey: () => this.log.warn({ env: this.cfg.hmac_key_env }, 'using the built-in development HMAC key: fingerprints are guessable; set the env var to a random secret (32+ bytes) in production'),
      }),
    };
    this.metrics = createMetrics({
      defaultMetrics: opts.http !== false,
      stateKeys: () => this.stateKeys(),
      exceptions: exceptionFilterFor(this.cfg), // loads and validates exceptions.file at start; shared by every task
      queueDepths: () => ({
        clickhouse: this.store?.queueDepth ?? 0,
        kafka_alerts: this.alertSink?.queueDepth ?? 0,
        kafka_dead_letter: this.deadLetters?.queueDepth ?? 0,
      }),
    });
    const l = this.cfg.limits;
    this.repartition = new RepartitionStage({
      ctx,
      limits: { maxEventBytes: l.max_event_bytes, maxDepth: l.max_depth, maxDecompressedBytes: l.max_decompressed_bytes },
      enrich: enrichStageFor(this.cfg.enrich), // IP → ASN/country/cloud before repartitioning, so every task sees enriched events
      plausible: plausibleTimeOptions(l),
      formats,
      metrics: this.metrics,
      counters: this.counters,
    });
  }

  private get heartbeatIntervalMs(): number {
    return Math.max(500, Math.floor((this.opts.sessionTimeoutMs ?? 30_000) / 10));
  }

  get groupId(): string {
    return this.kcfg.group_id;
  }

  /** The ops server's base URL once started with http enabled. */
  get opsUrl(): string | undefined {
    return this.ops?.url;
  }

  stats(): RunnerStats {
    return { ...this.counters, backpressure_pauses: this.backpressure?.pauses ?? 0, tasks: this.tasks.size, assigned_partitions: this.assignedPartitions, paused: this.backpressure?.paused ?? false };
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.stopping) reasons.push('shutting down');
    if (this.crashed) reasons.push(`consumer crashed: ${this.crashed.message}`);
    if (!this.joined) reasons.push('consumer has not joined its group');
    if (this.rebalancing) reasons.push('consumer group is rebalancing');
    // red from the first failed insert attempt (while retrying), not only once a batch gave up
    const storeFailing = this.store?.failing ?? this.storeError;
    if (storeFailing) reasons.push(`clickhouse sink failing: ${storeFailing.message.slice(0, 300)}`);
    return { ready: reasons.length === 0, reasons };
  }

  async start(): Promise<void> {
    const kafka = createKafka(this.kcfg, { env: this.env, logger: this.log });
    this.kafka = kafka;
    this.admin = kafka.admin();
    await this.admin.connect();
    const topics = await ensureTopics(this.admin, this.kcfg, this.log);
    this.log.info({ created: topics.created, partitions: topics.partitions }, 'kafka topics ready');

    if (this.opts.store !== false) await this.openStore();
    this.delivery = startRunnerDelivery(this.cfg, { env: this.env, log: this.log, store: this.storeClient });

    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await this.producer.connect();
    this.alertSink = new KafkaAlertSink(this.producer, { topic: this.kcfg.topics.alerts, format: this.cfg.alerts.format });
    this.changelog = new ChangelogStore({ kafka, admin: this.admin, producer: this.producer, topic: this.kcfg.topics.changelog, groupId: this.kcfg.group_id, instanceId: this.instanceId });
    this.incidents = new IncidentPublisher({ producer: this.producer, topic: this.kcfg.topics.alerts, store: this.storeClient, database: this.cfg.store.database, log: this.log });
    this.deadLetters = new KafkaDeadLetterSink(this.producer, this.kcfg.topics.dead_letter, { payload: this.cfg.dead_letter.payload, maxDecompressedBytes: this.cfg.limits.max_decompressed_bytes });

    const consumer = kafka.consumer({
      groupId: this.kcfg.group_id,
      allowAutoTopicCreation: false,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.heartbeatIntervalMs,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onGroupJoin(e.payload.memberAssignment));
    consumer.on(consumer.events.REBALANCING, () => {
      this.rebalancing = true;
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.log.error({ err: { message: e.payload.error.message, name: e.payload.error.name }, restart: e.payload.restart }, 'kafka consumer crashed');
      if (!e.payload.restart) {
        this.crashed = e.payload.error;
        this.opts.onFatal?.(e.payload.error);
      }
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      this.metrics.consumerLag.set({ topic: e.payload.topic, partition: String(e.payload.partition) }, Number(e.payload.offsetLag));
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.kcfg.inputs.map((i) => i.topic), fromBeginning: this.kcfg.from_beginning });
    // internal topics always from the beginning: nothing stage 1 wrote may be skipped
    await consumer.subscribe({ topics: [this.kcfg.topics.by_token, this.kcfg.topics.by_issuer], fromBeginning: true });

    if (this.opts.http !== false) {
      this.ops = await startOpsServer({ host: this.cfg.http.host, port: this.cfg.http.port, registry: this.metrics.registry, readiness: () => this.readiness() });
      this.log.info({ url: this.ops.url }, 'ops endpoints: /metrics /healthz /readyz');
    }

    await consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 6,
      // heartbeats inside long batches too (a sink outage): see batch-heartbeat.ts
      eachBatch: (payload) => withHeartbeats(payload.heartbeat, this.heartbeatIntervalMs, () => this.eachBatch(payload)),
    });
    this.timers.push(setInterval(() => void this.idleTick(), 500));
    if (this.store) this.timers.push(setInterval(() => this.backpressureTick(), 100));
    for (const t of this.timers) t.unref();
    this.log.info({ group: this.kcfg.group_id, inputs: this.kcfg.inputs.map((i) => `${i.topic}:${i.format}`) }, 'kafka runtime started');
  }

  private async openStore(): Promise<void> {
    const s = this.cfg.store;
    this.storeClient = await createStoreClientFromConfig(s, this.env);
    const features = this.opts.migrate === false ? (await detectServer(this.storeClient.client)).features : (await migrate(this.storeClient.client, { database: s.database })).features;
    this.store = new ClickHouseSink({
      client: this.storeClient.client,
      database: s.database,
      time_precision: timePrecisionFor(features),
      config: {
        max_batch_rows: s.max_batch_rows,
        flush_interval_ms: s.flush_interval_ms,
        max_queue_rows: s.max_queue_rows,
        max_retries: s.max_retries,
        base_delay_ms: s.base_delay_ms,
      },
    });
    this.backpressure = new BackpressureController({ maxQueueRows: s.max_queue_rows, maxTimeToStoreMs: s.max_time_to_store_ms });
    this.log.info({ store: this.storeClient.kind, database: s.database }, 'clickhouse store ready');
  }

  /** Graceful stop: stop fetching, finish in-flight batches, commit, flush sinks, disconnect. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.log.info('stopping: finishing in-flight batches');
    this.draining = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.warn({ err: { message: (err as Error).message }, step: what }, 'shutdown step failed');
      }
    };
    // Checkpoint while still in the group, so the next owner finds them: no new batches start
    // (draining), in-flight ones finish and commit, then every task writes its state.
    if (this.consumer && this.joined && !this.crashed) {
      const consumer = this.consumer;
      await step('pause consumer', async () => consumer.pause([...this.roles.keys()].map((topic) => ({ topic }))));
    }
    await Promise.allSettled([...this.inflight]);
    if (this.producer) await step('checkpoints', () => this.checkpointAll());
    // disconnect() stops the consumer: in-flight eachBatch calls finish and resolved offsets are committed
    if (this.consumer) await step('consumer', () => this.consumer!.disconnect());
    if (this.delivery) await step('alert delivery', () => this.delivery!.close());
    if (this.store) await step('clickhouse sink', () => this.store!.close());
    if (this.storeClient) await step('clickhouse client', () => this.storeClient!.close());
    if (this.producer) await step('producer', () => this.producer!.disconnect());
    await this.changelog?.settle();
    if (this.admin) await step('admin', () => this.admin!.disconnect());
    if (this.ops) await step('ops server', () => this.ops!.close());
    this.tasks.clear();
    this.log.info(this.counters, 'stopped');
  }

  private onGroupJoin(assignment: Record<string, number[]>): void {
    this.joined = true;
    this.rebalancing = false;
    this.changelog?.newGeneration(); // tasks created from now on read the changelog afresh
    const owned = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment)) for (const p of parts) owned.add(`${topic}/${p}`);
    this.assignedPartitions = owned.size;
    let dropped = 0;
    for (const id of this.tasks.keys()) {
      if (!owned.has(id)) {
        this.tasks.delete(id);
        dropped++;
      }
    }
    this.repartition.keepOnly(owned);
    this.log.info({ partitions: owned.size, tasks_dropped: dropped }, 'joined consumer group');
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    // stopping: leave the batch unresolved (the next owner reads it) so the final checkpoints stay exact
    if (this.draining) return;
    const run = this.processBatch(payload);
    this.inflight.add(run);
    try {
      await run;
    } finally {
      this.inflight.delete(run);
    }
  }

  private async processBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0) return;
    this.lastMessageAt = Date.now();
    const role = this.roles.get(batch.topic);
    if (role === 'input') await this.ingestBatch(payload);
    else if (role === 'by_token' || role === 'by_issuer') await this.detectBatch(payload, role);
    else throw new Error(`received a batch from unexpected topic ${batch.topic}`);
    this.lastMessageAt = Date.now();
    if (payload.isStale()) return; // partition revoked meanwhile: the new owner redoes it
    payload.resolveOffset(batch.lastOffset());
    if (role === 'input') {
      await payload.commitOffsetsIfNecessary();
      return;
    }
    // a detect batch commits its own partition now, so its checkpoint can name the committed offset
    const next = BigInt(batch.lastOffset()) + 1n;
    await payload.commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: next.toString() }] }] });
    const task = this.tasks.get(`${batch.topic}/${batch.partition}`);
    if (!task) return;
    if (next > task.nextOffset) task.nextOffset = next; // offsets of control records carry no events
    task.committedOffset = next;
    if (Date.now() - task.lastCheckpointAt < this.kcfg.checkpoint_interval_seconds * 1000) return;
    try {
      await this.withTask(task, () => this.writeCheckpoint(task));
    } catch (err) {
      // the batch is committed: a failed checkpoint only delays the next one
      this.log.warn({ err: { message: (err as Error).message }, task: task.id }, 'checkpoint write failed');
    }
  }

  /** Stage 1 (repartition-stage.ts) → repartition topics; invalid and implausible → dead-letter topic. */
  private async ingestBatch({ batch }: EachBatchPayload): Promise<void> {
    const source = batch.topic;
    const { byToken, byIssuer, dead } = this.repartition.process(source, batch.partition, batch.messages);
    const topicMessages = [
      { topic: this.kcfg.topics.by_token, messages: byToken },
      { topic: this.kcfg.topics.by_issuer, messages: byIssuer },
    ].filter((t) => t.messages.length > 0);
    await Promise.all([
      topicMessages.length > 0 ? this.metrics.timeSink('kafka_repartition', () => this.producer!.sendBatch({ topicMessages, acks: -1 })) : undefined,
      dead.length > 0 ? this.metrics.timeSink('kafka_dead_letter', () => this.deadLetters!.write(dead)) : undefined,
    ]);
    this.counters.events_repartitioned += byToken.length + byIssuer.length;
    if (dead.length > 0) this.log.debug({ topic: source, partition: batch.partition, dead_letters: dead.length }, 'records sent to the dead-letter topic');
  }

  private async taskFor(topic: string, partition: number, role: 'by_token' | 'by_issuer', heartbeat: () => Promise<void>): Promise<Task> {
    const id = `${topic}/${partition}`;
    const existing = this.tasks.get(id);
    if (existing) return existing;
    let task = this.newTask(topic, partition, role);
    // kafkajs heartbeats only between batches: keep the membership alive while the changelog is read
    const beat = setInterval(() => void heartbeat().catch(() => undefined), 1000);
    try {
      await this.restoreTask(task);
    } catch (err) {
      // a half-restored engine is not trustworthy: start over empty
      this.log.warn({ err: { message: (err as Error).message.slice(0, 300) }, task: id }, 'checkpoint restore failed: starting the task empty');
      task = this.newTask(topic, partition, role);
    } finally {
      clearInterval(beat);
    }
    this.tasks.set(id, task);
    return task;
  }

  private newTask(topic: string, partition: number, role: 'by_token' | 'by_issuer'): Task {
    const e = this.cfg.engine;
    const inventory = role === 'by_token' ? new TokenInventory({ maxTokens: this.cfg.inventory.max_tokens, maxSetSize: this.cfg.inventory.max_set_size }) : undefined;
    return {
      id: `${topic}/${partition}`,
      topic,
      partition,
      role,
      engine: new DetectionEngine({
        detectors: detectorSet(this.cfg),
        keyBy: [role === 'by_token' ? 'token' : 'issuer'],
        reorder: { maxDelayMs: e.reorder_max_delay_seconds * 1000, maxBuffered: e.reorder_max_buffered },
        suppressWindowMs: e.suppress_window_minutes * 60_000,
        maxSuppressKeys: e.max_suppress_keys,
        maxRecentEventIds: e.max_recent_event_ids,
        advanceEveryMs: 60_000,
        ...(inventory && { inventory }),
        observer: this.incidents?.builder,
        alertFilter: exceptionFilterFor(this.cfg),
      }),
      ...(inventory && { inventory }),
      nextOffset: -1n,
      committedOffset: -1n,
      pending: [],
      lastCheckpointAt: Date.now(),
      outbox: { alerts: [], inventory: [], events: [], dead: [] },
      maxEventTime: -Infinity,
      lock: Promise.resolve(),
    };
  }

  /** Ingest one event into a task, remembering it while the reorder buffer may still hold it. */
  private ingestInto(task: Task, event: TokenEvent): void {
    if (event.time > task.maxEventTime) task.maxEventTime = event.time;
    if (event.time > this.instanceMaxEventTime) this.instanceMaxEventTime = event.time;
    this.collect(task, task.engine.ingest(event));
    if (event.time > task.engine.watermark) task.pending.push(event);
  }

  /** Forget pending events the engine has released to its detectors (all at or below its watermark). */
  private prunePending(task: Task): void {
    const wm = task.engine.watermark;
    if (task.pending.some((e) => e.time <= wm)) task.pending = task.pending.filter((e) => e.time > wm);
  }

  // ---- changelog checkpoints ----

  /**
   * Write the task's checkpoint when its state covers exactly the committed offset and all its
   * alerts were delivered. Call under the task lock.
   */
  private async writeCheckpoint(task: Task): Promise<void> {
    if (task.committedOffset < 0n || task.committedOffset !== task.nextOffset) return;
    const { alerts, inventory, events, dead } = task.outbox;
    if (alerts.length + inventory.length + events.length + dead.length > 0) return; // a retry still owes output
    this.prunePending(task);
    const wm = task.engine.watermark;
    const checkpoint: TaskCheckpoint = {
      v: 1,
      topic: task.topic,
      partition: task.partition,
      watermark: Number.isFinite(wm) ? wm : null,
      engine: task.engine.snapshot(),
      offset: task.committedOffset.toString(),
      pending: task.pending,
    };
    task.lastCheckpointAt = Date.now();
    const { written, bytes } = await this.changelog!.write(checkpoint);
    if (!written) {
      this.metrics.countCheckpoint('skipped');
      this.log.warn({ task: task.id, bytes, max_bytes: MAX_CHECKPOINT_BYTES, state_keys: task.engine.stats().state_keys, pending: task.pending.length }, 'checkpoint too large: skipped');
      return;
    }
    this.metrics.countCheckpoint('written');
  }

  private async checkpointAll(): Promise<void> {
    for (const task of [...this.tasks.values()]) {
      try {
        await this.withTask(task, () => this.writeCheckpoint(task));
      } catch (err) {
        this.log.warn({ err: { message: (err as Error).message }, task: task.id }, 'checkpoint write failed');
      }
    }
  }

  /** Resume a new task from its latest checkpoint when that is at the group's committed offset. */
  private async restoreTask(task: Task): Promise<void> {
    const found = await this.changelog!.lookup(task.topic, task.partition);
    if (found.kind === 'timeout') {
      this.log.warn({ task: task.id, timeout_ms: RESTORE_TIMEOUT_MS }, 'checkpoint restore timed out: starting the task empty');
      return;
    }
    if (found.kind === 'none') {
      this.log.debug({ task: task.id }, 'no checkpoint: starting the task empty');
      return;
    }
    if (found.kind === 'stale') {
      this.metrics.countCheckpoint('stale');
      this.log.info({ task: task.id, checkpoint_offset: found.offset, committed_offset: found.committed }, 'checkpoint is not at the committed offset: starting the task empty');
      return;
    }
    const { checkpoint: cp, pending, committed } = found;
    task.engine.restore(cp.engine);
    if (typeof cp.watermark === 'number') {
      this.collect(task, task.engine.advanceTo(cp.watermark));
      task.maxEventTime = Math.max(task.maxEventTime, cp.watermark);
    }
    for (const ev of pending) this.ingestInto(task, ev);
    task.nextOffset = BigInt(committed);
    task.committedOffset = task.nextOffset;
    this.metrics.countCheckpoint('restored');
    this.log.info({ task: task.id, offset: committed, pending: pending.length, state_keys: task.engine.stats().state_keys }, 'task restored from its checkpoint');
  }

  private withTask<T>(task: Task, fn: () => Promise<T>): Promise<T> {
    const run = task.lock.then(fn);
    task.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Stage 2: a task's engine over its partition's events; alerts + inventory + events to the sinks. */
  private async detectBatch({ batch, heartbeat }: EachBatchPayload, role: 'by_token' | 'by_issuer'): Promise<void> {
    const task = await this.taskFor(batch.topic, batch.partition, role, heartbeat);
    await this.withTask(task, async () => {
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        if (offset < task.nextOffset) continue; // ingested by a failed attempt of this batch
        task.nextOffset = offset + 1n;
        const ev = this.parseRepartitioned(m);
        if (!ev.ok) {
          task.outbox.dead.push({ value: m.value, key: m.key, topic: batch.topic, partition: batch.partition, offset: m.offset, format: 'token_event', error: ev.error });
          this.metrics.countInvalid(batch.topic, ev.error.code);
          continue;
        }
        this.counters.events_detected++;
        const event = ev.event;
        if (role === 'by_token' && this.store && this.cfg.store.write_events && headerString(m.headers, ROUTE_HEADER) !== 'parent') task.outbox.events.push(event);
        this.ingestInto(task, event);
      }
      this.prunePending(task);
      if (task.inventory && this.store) task.outbox.inventory.push(...task.inventory.drainDirty());
      await this.flushOutbox(task);
    });
  }

  private parseRepartitioned(m: KafkaMessage): { ok: true; event: TokenEvent } | { ok: false; error: TokenwatchError } {
    if (m.value === null) return { ok: false, error: new TokenwatchError('invalid_json', 'empty message value on a repartition topic') };
    let raw: unknown;
    try {
      raw = JSON.parse(m.value.toString('utf8'));
    } catch (cause) {
      return { ok: false, error: new TokenwatchError('invalid_json', `repartition message is not JSON: ${(cause as Error).message.slice(0, 200)}`) };
    }
    // the repartition topics are ours, but anything can write to a topic: validate before detectors see it
    const r = TokenEvent.safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0];
      return { ok: false, error: new TokenwatchError('invalid_token_event', `repartition message is not a token event (${i?.path.join('.') || '$'}: ${i?.message})`) };
    }
    return { ok: true, event: r.data };
  }

  private collect(task: Task, alerts: Alert[]): void {
    if (alerts.length === 0) return;
    for (const a of alerts) this.metrics.countAlert(a.detector, a.severity);
    this.counters.alerts += alerts.length;
    task.outbox.alerts.push(...alerts);
    this.incidents?.observe(alerts);
  }

  /**
   * Deliver a task's outbox; each kind leaves the outbox only once its sink acknowledged it.
   * Throws when a sink failed (the batch is retried; its offsets stay uncommitted).
   */
  private async flushOutbox(task: Task): Promise<void> {
    const { alerts, inventory, events, dead } = task.outbox;
    const sizes: Record<keyof Outbox, number> = { alerts: alerts.length, inventory: inventory.length, events: events.length, dead: dead.length };
    const jobs: { kind: keyof Outbox; run: () => Promise<unknown> }[] = [];
    if (dead.length > 0) jobs.push({ kind: 'dead', run: () => this.metrics.timeSink('kafka_dead_letter', () => this.deadLetters!.write(dead)) });
    if (alerts.length > 0) {
      jobs.push({ kind: 'alerts', run: () => this.metrics.timeSink('kafka_alerts', () => this.alertSink!.write(alerts)) });
      if (this.delivery) jobs.push({ kind: 'alerts', run: () => this.delivery!.offerAlerts(alerts) }); // waits only for queue room
    }
    const store = this.store;
    if (store) {
      // alerts go to both sinks: keep them until both acknowledged (the Kafka sink skips ids it already sent)
      if (alerts.length > 0) jobs.push({ kind: 'alerts', run: () => this.metrics.timeSink('clickhouse', () => store.write('alerts', alerts)) });
      if (inventory.length > 0) jobs.push({ kind: 'inventory', run: () => this.metrics.timeSink('clickhouse', () => store.write('inventory', inventory)) });
      if (events.length > 0) jobs.push({ kind: 'events', run: () => this.metrics.timeSink('clickhouse', () => store.write('events', events)) });
    }
    if (jobs.length === 0) return;
    const results = await Promise.allSettled(jobs.map((j) => j.run()));
    const failed = new Set<keyof Outbox>();
    let firstError: unknown;
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        failed.add(jobs[i]!.kind);
        firstError ??= r.reason;
      }
    });
    for (const kind of ['alerts', 'inventory', 'events', 'dead'] as const) {
      if (!failed.has(kind)) (task.outbox[kind] as unknown[]) = task.outbox[kind].slice(sizes[kind]);
    }
    if (firstError !== undefined) {
      const err = firstError as Error;
      if (err instanceof TokenwatchError && err.code === 'sink_failed') this.storeError = err;
      this.log.error({ err: { message: err.message }, task: task.id, failed: [...failed] }, 'sink write failed; batch will be retried');
      throw err;
    }
    this.storeError = undefined;
  }

  /** Liveness: once the consumer has been idle, advance every task to the newest event time seen. */
  private async idleTick(): Promise<void> {
    if (this.stopping || !this.joined || this.idleRunning) return;
    this.idleRunning = true;
    try {
      await this.idleFlush();
    } finally {
      this.idleRunning = false;
    }
  }

  private async idleFlush(): Promise<void> {
    const idleMs = this.cfg.engine.idle_flush_seconds * 1000;
    if (Date.now() - this.lastMessageAt < idleMs) return;
    const target = this.instanceMaxEventTime;
    if (!Number.isFinite(target) || target <= this.idleFlushedTo) return;
    this.idleFlushedTo = target;
    let n = 0;
    for (const task of [...this.tasks.values()]) {
      try {
        await this.withTask(task, async () => {
          if (this.tasks.get(task.id) !== task) return; // revoked meanwhile
          if (task.engine.watermark < target) {
            const alerts = task.engine.advanceTo(target);
            n += alerts.length;
            this.collect(task, alerts);
            this.prunePending(task);
          }
          if (task.inventory && this.store) task.outbox.inventory.push(...task.inventory.drainDirty());
          await this.flushOutbox(task);
        });
      } catch {
        // logged by flushOutbox; the outbox keeps the rows for the next batch or tick
        this.idleFlushedTo = -Infinity;
      }
    }
    this.counters.idle_flushes++;
    this.log.debug({ watermark: new Date(target).toISOString(), alerts: n }, 'idle: advanced task watermarks');
  }

  /** Pause fetching while the ClickHouse sink is behind (queue length or time to store: backpressure.ts). */
  private backpressureTick(): void {
    if (!this.store || !this.consumer || !this.backpressure || this.stopping) return;
    const backlog = { depth: this.store.queueDepth, oldestAgeMs: this.store.oldestUnstoredAgeMs() };
    const decision = this.backpressure.decide(backlog);
    if (decision === undefined) return;
    const topics = [...this.roles.keys()].map((topic) => ({ topic }));
    if (decision === 'pause') {
      // kafkajs keeps heartbeating while every topic is paused: membership survives the pause
      this.consumer.pause(topics);
      this.log.warn({ queue_depth: backlog.depth, oldest_unstored_ms: Math.round(backlog.oldestAgeMs), reason: this.backpressure.reason, max_queue_rows: this.cfg.store.max_queue_rows, max_time_to_store_ms: this.cfg.store.max_time_to_store_ms }, 'clickhouse sink behind: pausing consumption');
    } else {
      this.consumer.resume(topics);
      this.log.info({ queue_depth: backlog.depth, oldest_unstored_ms: Math.round(backlog.oldestAgeMs) }, 'clickhouse sink caught up: resuming consumption');
    }
  }

  private stateKeys(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.tasks.values()) {
      for (const [d, n] of Object.entries(t.engine.stats().state_keys)) out[d] = (out[d] ?? 0) + n;
    }
    return out;
  }
}

/** Create and start a runner (topics ensured, store migrated, consumer running). */
export async function startKafkaRunner(opts: KafkaRunnerOptions): Promise<KafkaRunner> {
  const runner = new KafkaRunner(opts);
  try {
    await runner.start();
  } catch (err) {
    await runner.stop();
    throw err;
  }
  return runner;
}

/**
 * Messages the group has not committed yet over `topics` (high watermark − committed offset,
 * summed; a partition without a commit counts from its low watermark). For benches, tests, ops.
 */
export async function groupLag(admin: Admin, groupId: string, topics: readonly string[]): Promise<number> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  let lag = 0;
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const c = committed.find((t) => t.topic === topic);
    for (const p of ends) {
      const off = c?.partitions.find((x) => x.partition === p.partition)?.offset ?? '-1';
      const from = Number(off) >= 0 ? Number(off) : Number(p.low);
      lag += Math.max(0, Number(p.high) - from);
    }
  }
  return lag;
}
