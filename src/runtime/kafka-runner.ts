/**
 * The Kafka streaming runtime behind `tokenwatch run`: wiring only. One consumer group reads the
 * input topics and the two repartition topics; eachBatch dispatches by topic:
 *   stage 1 (ingest-stage.ts, repartition-stage.ts): input records → decode, validate, normalize,
 *     enrich → binary token event records (token-event-codec.ts) on `by_token` (keyed by token
 *     fingerprint, a chained mint also by its parent) and `by_issuer` (keyed by issuer), each
 *     input source's watermark records to every repartition partition, and dead letters.
 *   stage 2 (detection-stage.ts, detection-task.ts): one task per repartition partition (Kafka
 *     Streams' task model): token-keyed detectors and the inventory on by_token, issuer-keyed
 *     detectors on by_issuer.
 *     A task releases events once every input source has passed them (watermark-tracker.ts):
 *     alerts follow their event by milliseconds, in event-time order.
 *
 * Exactly once (transactional-outbox.ts): a batch's effects — repartition records, alerts, dead
 * letters, changelog records — and its consumed offsets commit in one Kafka transaction, of the
 * process's producer for the batch's stage, fenced by the group generation (process-outbox.ts,
 * `kafka.exactly_once` per_process, KIP-447) or of the partition's own producer
 * (partition-outboxes.ts, per_partition); the internal topics are read read_committed. Batches do not wait for it:
 * they queue on the partition's outbox and the next fetch goes on (commit-pipeline.ts: admission
 * after the fence, reset to the committed offset after a failed transaction). A crash or rebalance neither loses nor repeats an
 * effect on Kafka. ClickHouse rows are written after the commit and are idempotent (dedup keys:
 * alert_id, event_id; src/store/): a restored task re-derives what a crash cut off.
 *
 * State (task-state-store.ts): every checkpoint interval a task writes the state keys changed
 * since the previous checkpoint, and the offset they cover, in its batch's transaction part. A task
 * created on assignment reads its changelog, then replays its partition from that offset to where
 * the group resumes with effects muted (partition-reader.ts), then goes on.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import kafkajs from 'kafkajs';
import type { Alert } from '../../schemas/alert.js';
import type { SourceFormat } from '../../schemas/token-event.js';
import type { TokenwatchConfig, KafkaConfig } from '../config/config-schema.js';
import { TokenwatchError } from '../core/errors.js';
import { createFingerprinter } from '../core/fingerprint.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { NormalizeContext } from '../normalize/types.js';
import { ClickHouseSink } from '../sinks/clickhouse-sink.js';
import { startRunnerDelivery, type RunnerDelivery } from '../sinks/delivery-sinks.js';
import { IncidentPublisher } from '../incidents/incident-publisher.js';
import { createStoreClientFromConfig, type StoreClient } from '../store/clickhouse-client.js';
import { migrate, detectServer } from '../store/migrations.js';
import { timePrecisionFor } from '../store/rows.js';
import { createKafka, type Env } from './kafka-client.js';
import { startOpsServer, type OpsServer, type Readiness } from './http-server.js';
import { createMetrics, type RuntimeMetrics } from './metrics.js';
import { exceptionFilterFor } from '../exceptions/exception-file.js';
import { ensureTopics } from './topics.js';
import { BackpressureController } from './backpressure.js';
import { withHeartbeats } from './batch-heartbeat.js';
import { RepartitionStage, repartitionOptionsFor, type RepartitionStageOptions } from './repartition-stage.js';
import { InThreadRepartitioner, type Repartitioner } from './repartitioner.js';
import { IngestThreads, ingestThreadCount } from './ingest-threads.js';
import { IngestStage, splitPartitionId } from './ingest-stage.js';
import { DetectionStage } from './detection-stage.js';
import { PartitionOutboxes } from './partition-outboxes.js';
import { ProcessOutbox } from './process-outbox.js';
import { installKip447, STABLE_FETCH_CLIENT_SUFFIX, syncedGeneration, type GroupMetadata } from './kafkajs-kip447.js';
import { CommitPipeline, type RunnerOutboxes } from './commit-pipeline.js';
import { consumerControl, type ConsumerControl } from './consumer-control.js';
import type { TaskRole } from './task-state-store.js';
import { TaskRestorer } from './task-restorer.js';
import { topicOffsets } from './partition-reader.js';
import { StickyAssigner } from './sticky-assigner.js';

const { Partitioners, PartitionAssigners } = kafkajs;

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
  /** Batches processed at once across partitions (default 16): a batch waits when its partition has `kafka.max_uncommitted_batches` uncommitted, or for a task's restore or checkpoint; the others go on meanwhile. */
  partitionsConsumedConcurrently?: number;
  /** Consumer session timeout (default 30 s; tests lower it for fast rebalances). */
  sessionTimeoutMs?: number;
  /** Called when the consumer crashed for good (kafkajs will not restart it). */
  onFatal?: (err: Error) => void;
}

type Role = 'input' | TaskRole;

export interface RunnerStats {
  records_in: number;
  records_invalid: number;
  /** Valid records without a token event: no credential, or a CloudWatch Logs control message. */
  records_skipped: number;
  events_repartitioned: number;
  events_detected: number;
  alerts: number;
  /** Detection tasks alive (one per owned repartition partition that received records). */
  tasks: number;
  /** Partitions assigned to this instance at the last group join. */
  assigned_partitions: number;
  /** Tasks restored (changelog + muted replay) and repartition records they replayed. */
  tasks_restored: number;
  records_replayed: number;
  /** Kafka transactions committed / aborted. */
  transactions: number;
  transactions_aborted: number;
  /** Transactions run again after CONCURRENT_TRANSACTIONS (the previous one's markers still being written). */
  transactions_retried: number;
  /** Transactions run again with the next group generation after the coordinator rejected their offsets' (per_process). */
  transactions_regenerated: number;
  /** Partitions read again from their committed offset after a failed or fenced transaction. */
  partition_resets: number;
  /** Times consumption was paused because the ClickHouse sink was near full or its oldest row too old. */
  backpressure_pauses: number;
  /** Events dead-lettered as implausible_time (outside the plausible event-time window). */
  events_implausible: number;
  /** Rounds of idle watermark records sent for input sources gone quiet. */
  idle_markers: number;
  /** Times an input partition was paused for running ahead of the others in event time. */
  alignment_pauses: number;
  paused: boolean;
}

export class KafkaRunner {
  readonly metrics: RuntimeMetrics;
  readonly instanceId: string;
  private readonly cfg: TokenwatchConfig;
  private readonly kcfg: KafkaConfig;
  private readonly log: Logger;
  private readonly env: Env;
  private readonly roles = new Map<string, Role>();

  private kafka?: Kafka;
  private admin?: Admin;
  /** Non-transactional: incidents only (they are per instance, not exactly-once). */
  private producer?: Producer;
  /** One transactional producer per owned partition (partition-outboxes.ts) or one for the process (process-outbox.ts): `kafka.exactly_once`. */
  private outbox?: RunnerOutboxes;
  /** The group generation and member id of the last join (per_process transactions carry them). */
  private groupMetadata: GroupMetadata | undefined;
  /** Batches queue their effects and return; transactions commit behind them (commit-pipeline.ts). */
  private pipeline?: CommitPipeline;
  private restorer?: TaskRestorer;
  /** Stage 2: the detection tasks of the owned repartition partitions. */
  private detection?: DetectionStage;
  private consumer?: Consumer;
  /** The consumer's pause / resume / seek, safe while kafkajs restarts it. */
  private control?: ConsumerControl;
  private incidents?: IncidentPublisher;
  private storeClient?: StoreClient;
  /** SET / webhook / Splunk HEC sinks and the periodic hygiene job (src/sinks/delivery-sinks.ts). */
  private delivery?: RunnerDelivery;
  private store?: ClickHouseSink;
  private ops?: OpsServer;
  private timers: NodeJS.Timeout[] = [];

  private joined = false;
  private rebalancing = false;
  private crashed: Error | undefined;
  private backpressure?: BackpressureController;
  /** Stage 1 (created once the topics' partition counts are known). */
  private ingest?: IngestStage;
  private repartition?: Repartitioner;
  private readonly repartitionOptions: Omit<RepartitionStageOptions, 'partitions'>;
  private changelogPartitions = 1;
  /** Every input partition (`topic/partition`) of the group: each task waits to hear from all of them. */
  private inputPartitions: string[] = [];
  private stopping?: Promise<void>;
  private readonly counters = { records_in: 0, records_invalid: 0, records_skipped: 0, events_repartitioned: 0, events_detected: 0, alerts: 0, events_implausible: 0, tasks_restored: 0, records_replayed: 0, idle_markers: 0, alignment_pauses: 0 };
  private assignedPartitions = 0;
  private readonly inflight = new Set<Promise<void>>();
  private draining = false;

  constructor(private readonly opts: KafkaRunnerOptions) {
    this.cfg = opts.config;
    if (!this.cfg.kafka) throw new TokenwatchError('config_invalid', 'invalid config:\n  kafka: required by `tokenwatch run` — add a kafka section with brokers and inputs');
    this.kcfg = this.cfg.kafka;
    this.instanceId = randomUUID().slice(0, 8);
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
      stateKeys: () => this.detection?.stateKeys() ?? {},
      exceptions: exceptionFilterFor(this.cfg), // loads and validates exceptions.file at start; shared by every task
      queueDepths: () => ({ clickhouse: this.store?.queueDepth ?? 0, kafka_transaction: this.pipeline?.outstanding ?? 0 }),
      threadBusyMs: () => this.threadBusyMs(),
    });
    this.repartitionOptions = repartitionOptionsFor(this.cfg, { ctx, formats, metrics: this.metrics, counters: this.counters });
  }

  private get sessionTimeoutMs(): number {
    return this.opts.sessionTimeoutMs ?? this.kcfg.session_timeout_ms;
  }

  private get heartbeatIntervalMs(): number {
    return Math.max(500, Math.floor(this.sessionTimeoutMs / 10));
  }

  get groupId(): string {
    return this.kcfg.group_id;
  }

  /** The ops server's base URL once started with http enabled. */
  get opsUrl(): string | undefined {
    return this.ops?.url;
  }

  /** Milliseconds each of the runner's threads has been busy so far: `main` (kafkajs, stage 2, commits) and `ingest-N` (stage 1). */
  threadBusyMs(): Record<string, number> {
    const out: Record<string, number> = { main: performance.eventLoopUtilization().active };
    (this.repartition?.busyMs() ?? []).forEach((ms, i) => (out[`ingest-${i}`] = ms));
    return out;
  }

  stats(): RunnerStats {
    const tx = this.outbox?.stats();
    return {
      ...this.counters,
      transactions: tx?.transactions ?? 0,
      transactions_aborted: tx?.aborted ?? 0,
      transactions_retried: tx?.retried ?? 0,
      transactions_regenerated: tx?.regenerated ?? 0,
      partition_resets: this.pipeline?.resets ?? 0,
      backpressure_pauses: this.backpressure?.pauses ?? 0,
      tasks: this.detection?.tasks.size ?? 0,
      assigned_partitions: this.assignedPartitions,
      paused: this.backpressure?.paused ?? false,
    };
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (this.stopping) reasons.push('shutting down');
    if (this.crashed) reasons.push(`consumer crashed: ${this.crashed.message}`);
    if (!this.joined) reasons.push('consumer has not joined its group');
    if (this.rebalancing) reasons.push('consumer group is rebalancing');
    // red from the first failed insert attempt (while retrying), not only once a batch gave up
    const storeFailing = this.store?.failing ?? this.detection?.storeError;
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
    const byToken = topics.partitions[this.kcfg.topics.by_token];
    const byIssuer = topics.partitions[this.kcfg.topics.by_issuer];
    if (!byToken || !byIssuer) throw new TokenwatchError('source_failed', `repartition topics have no partitions (${this.kcfg.topics.by_token}: ${byToken}, ${this.kcfg.topics.by_issuer}: ${byIssuer})`);
    this.changelogPartitions = topics.partitions[this.kcfg.topics.changelog] ?? 1;
    this.inputPartitions = this.kcfg.inputs.flatMap((i) => Array.from({ length: topics.partitions[i.topic] ?? 0 }, (_, p) => `${i.topic}/${p}`));
    const repartition = this.newRepartitioner({ byToken, byIssuer });
    // the IP data loads now (~0.4 s), not inside the first batch while the group waits on it
    await repartition.start();
    this.repartition = repartition;

    if (this.opts.store !== false) await this.openStore();
    this.delivery = startRunnerDelivery(this.cfg, { env: this.env, log: this.log, store: this.storeClient });

    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await this.producer.connect();
    this.outbox = await this.newOutboxes(kafka, this.admin);
    this.pipeline = new CommitPipeline({
      outboxes: this.outbox,
      depth: this.kcfg.max_uncommitted_batches,
      fencedWaitMs: 2 * this.sessionTimeoutMs,
      onReset: (topic, partition) => this.onReset(topic, partition),
      timeCommit: (commit) => this.metrics.timeSink('kafka_transaction', commit),
      log: this.log,
    });
    this.restorer = new TaskRestorer({ kafka, admin: this.admin, changelogTopic: this.kcfg.topics.changelog, changelogPartitions: this.changelogPartitions, groupPrefix: `${this.kcfg.group_id}.restore.${this.instanceId}`, log: this.log });
    this.incidents = new IncidentPublisher({ producer: this.producer, topic: this.kcfg.topics.alerts, store: this.storeClient, database: this.cfg.store.database, log: this.log });
    this.ingest = new IngestStage({
      cfg: this.cfg, kcfg: this.kcfg, log: this.log, metrics: this.metrics, pipeline: this.pipeline, repartition,
      inputPartitions: this.inputPartitions, counters: this.counters, pausedForBackpressure: () => this.backpressure?.paused ?? false,
    });
    this.detection = new DetectionStage({
      cfg: this.cfg, kcfg: this.kcfg, log: this.log, metrics: this.metrics, outbox: this.outbox, pipeline: this.pipeline, restorer: this.restorer, store: this.store,
      changelogPartitions: this.changelogPartitions, inputPartitions: this.inputPartitions, observer: this.incidents.builder,
      counters: this.counters, published: (alerts) => this.published(alerts),
    });

    const consumer = kafka.consumer({
      groupId: this.kcfg.group_id,
      allowAutoTopicCreation: false,
      sessionTimeout: this.sessionTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
      maxBytesPerPartition: this.kcfg.fetch_max_bytes_per_partition,
      maxBytes: this.kcfg.fetch_max_bytes,
      minBytes: this.kcfg.fetch_min_bytes,
      maxWaitTimeInMs: this.kcfg.fetch_max_wait_ms,
      readUncommitted: false, // internal topics are written in transactions: only committed records
      // a member joining or leaving moves only the partitions it must; tasks of kept partitions keep their state
      partitionAssigners: [StickyAssigner, PartitionAssigners.roundRobin],
    });
    this.consumer = consumer;
    // pause / resume / seek that never throw while kafkajs restarts the consumer (consumer-control.ts)
    const control = consumerControl(consumer, this.log);
    this.control = control;
    this.ingest.attach(control);
    this.pipeline.attach(control);
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onGroupJoin(e.payload.memberAssignment, e.payload.memberId));
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
      const { topic, partition, offsetLag, batchSize, lastOffset } = e.payload;
      this.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(offsetLag));
      // a batch of only transaction markers: kafkajs resolves it but, without auto-commit, nobody commits past it
      if (batchSize === 0 && this.roles.get(topic) !== 'input') void this.detection?.commitPastMarkers(consumer, topic, partition, BigInt(lastOffset) + 1n);
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
      autoCommit: false, // offsets commit inside the transactions that hold their effects
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 16,
      // heartbeats inside long batches too (a sink outage, a restore): see batch-heartbeat.ts
      eachBatch: (payload) => withHeartbeats(payload.heartbeat, this.heartbeatIntervalMs, () => this.eachBatch(payload)),
    });
    // a quarter of the idle time (25–250 ms): a source is declared idle at most a quarter late
    const idleSweepMs = Math.min(250, Math.max(25, (this.cfg.engine.source_idle_seconds * 1000) / 4));
    this.timers.push(
      setInterval(() => {
        if (this.stopping || !this.joined) return;
        this.ingest?.sendIdleMarkers().catch((err: unknown) => this.log.warn({ err: { message: (err as Error).message } }, 'idle sweep failed'));
      }, idleSweepMs),
    );
    // offsets of detection batches that had no other effect, at least once a second
    this.timers.push(setInterval(() => (this.stopping || !this.joined ? undefined : this.pipeline?.flushDeferred()), 1000));
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
      insert_deduplication: features.insertDeduplication,
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

  /** Graceful stop: stop fetching, finish in-flight batches (their transactions commit), flush sinks, disconnect. Idempotent. */
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
    if (this.consumer && this.joined && !this.crashed) {
      const consumer = this.consumer;
      await step('pause consumer', async () => consumer.pause([...this.roles.keys()].map((topic) => ({ topic }))));
    }
    await Promise.allSettled([...this.inflight]);
    // every batch processed commits (or is reset) before the checkpoints name their offsets
    if (this.pipeline) await step('transactions in flight', () => this.pipeline!.drainAll());
    this.pipeline?.close();
    // a final checkpoint of every task (changed keys + offset) so the next owner replays little
    if (this.detection && this.joined && !this.crashed) await step('checkpoints', () => this.detection!.checkpointAll());
    if (this.consumer) await step('consumer', () => this.consumer!.disconnect());
    if (this.outbox) await step('transactions', () => this.outbox!.closeAll());
    if (this.repartition) await step('ingest threads', () => this.repartition!.close());
    if (this.incidents) await step('incidents', () => this.incidents!.settled());
    if (this.delivery) await step('alert delivery', () => this.delivery!.close());
    if (this.store) await step('clickhouse sink', () => this.store!.close());
    if (this.storeClient) await step('clickhouse client', () => this.storeClient!.close());
    if (this.producer) await step('producer', () => this.producer!.disconnect());
    if (this.admin) await step('admin', () => this.admin!.disconnect());
    if (this.ops) await step('ops server', () => this.ops!.close());
    this.detection?.tasks.clear();
    this.log.info(this.counters, 'stopped');
  }

  private async newOutboxes(kafka: Kafka, admin: Admin): Promise<RunnerOutboxes> {
    const k = this.kcfg;
    const common = { kafka, groupId: k.group_id, transactionTimeoutMs: k.transaction_timeout_ms, lingerMs: k.commit_linger_ms, logger: this.log };
    if (k.exactly_once === 'per_partition') return new PartitionOutboxes({ ...common, admin, commitIntervalMs: (topic) => (this.roles.get(topic) === 'input' ? k.commit_interval_ms : 0) });
    installKip447();
    const stableOffsetsAdmin = createKafka({ ...k, client_id: `${k.client_id}${STABLE_FETCH_CLIENT_SUFFIX}` }, { env: this.env, logger: this.log }).admin();
    await stableOffsetsAdmin.connect();
    return new ProcessOutbox({ ...common, stableOffsetsAdmin, transactionalId: `${k.group_id}.${this.instanceId}`, commitIntervalMs: k.commit_interval_ms, detectionTopic: (topic) => this.roles.get(topic) !== 'input', groupMetadata: () => this.groupMetadata });
  }

  /** Stage 1 on `kafka.ingest_threads` worker threads, or on this one. */
  private newRepartitioner(partitions: { byToken: number; byIssuer: number }): Repartitioner {
    const threads = ingestThreadCount(this.kcfg.ingest_threads);
    const opts = this.repartitionOptions;
    if (threads === 0) return new InThreadRepartitioner(new RepartitionStage({ ...opts, partitions }), () => opts.enrich?.load());
    this.log.info({ threads }, 'stage 1 on ingest threads');
    return new IngestThreads({
      threads,
      init: { config: this.cfg, hmacKey: this.env[this.cfg.hmac_key_env], formats: [...opts.formats], partitions },
      inputPartitions: this.inputPartitions,
      metrics: this.metrics,
      counters: this.counters,
      log: this.log,
      onFatal: (error) => {
        this.crashed ??= error;
        this.opts.onFatal?.(error);
      },
    });
  }

  private onGroupJoin(assignment: Record<string, number[]>, memberId: string): void {
    // read in the same tick as the new assignment: a transaction put together from now on carries
    // this generation and only parts of partitions owned in it
    const generationId = syncedGeneration(memberId);
    this.groupMetadata = generationId === undefined ? undefined : { generationId, memberId };
    if (generationId === undefined && this.kcfg.exactly_once === 'per_process') this.log.error({ member: memberId }, 'joined without a known group generation: transactions with offsets fail until the next join');
    this.joined = true;
    this.rebalancing = false;
    this.restorer?.newGeneration();
    const owned = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment)) for (const p of parts) owned.add(`${topic}/${p}`);
    this.assignedPartitions = owned.size;
    this.pipeline?.newGeneration(owned); // before any batch of the new generation is admitted
    const dropped = this.detection?.keepOnly(owned) ?? 0;
    this.ingest?.onAssignment(owned);
    // a consumer restarted in-process after a crash starts unpaused: a pause for backpressure holds on
    if (this.backpressure?.paused) this.control?.pause([...this.roles.keys()].map((topic) => ({ topic })));
    void this.outbox?.keepOnly(owned); // per_partition: a partition's next owner fences its producer anyway
    this.log.info({ partitions: owned.size, tasks_dropped: dropped }, 'joined consumer group');
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    // stopping: leave the batch unresolved (the next owner reads it)
    if (this.draining || payload.batch.messages.length === 0) return;
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
    const role = this.roles.get(batch.topic);
    let processed: boolean;
    if (role === 'input') processed = await this.ingest!.ingestBatch(payload);
    else if (role === 'by_token' || role === 'by_issuer') processed = await this.detection!.detectBatch(payload, role);
    else throw new Error(`received a batch from unexpected topic ${batch.topic}`);
    // queued with its offset on the partition's transaction: move kafkajs' fetch position past the
    // batch (a failed transaction seeks back to the committed offset)
    if (processed) payload.resolveOffset(batch.lastOffset());
  }

  /** A failed transaction: the stage drops what it holds for the partition (commit-pipeline.ts). */
  private onReset(topic: string, partition: number): void {
    const role = this.roles.get(topic);
    if (role === 'input') this.ingest?.reset(topic, partition);
    else this.detection?.reset(topic, partition);
  }

  // ---- stage 2 ----

  /** Alerts committed on the topic: count them, correlate them into incidents, offer them to the HTTP sinks. */
  private published(alerts: readonly Alert[]): void {
    if (alerts.length === 0) return;
    for (const a of alerts) this.metrics.countAlert(a.detector, a.severity);
    this.counters.alerts += alerts.length;
    this.incidents?.observe(alerts);
    if (this.delivery) void this.delivery.offerAlerts(alerts).catch((err: Error) => this.log.warn({ err: { message: err.message } }, 'alert delivery failed'));
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
      this.control?.pause(topics);
      this.log.warn({ queue_depth: backlog.depth, oldest_unstored_ms: Math.round(backlog.oldestAgeMs), reason: this.backpressure.reason, max_queue_rows: this.cfg.store.max_queue_rows, max_time_to_store_ms: this.cfg.store.max_time_to_store_ms }, 'clickhouse sink behind: pausing consumption');
    } else {
      this.control?.resume(topics);
      // resuming whole topics also resumed the partitions held back for alignment
      for (const id of this.ingest?.alignmentPaused() ?? []) {
        const [topic, partition] = splitPartitionId(id);
        this.control?.pause([{ topic, partitions: [partition] }]);
      }
      this.log.info({ queue_depth: backlog.depth, oldest_unstored_ms: Math.round(backlog.oldestAgeMs) }, 'clickhouse sink caught up: resuming consumption');
    }
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
 * On transactional topics the high watermark includes commit markers, so a caught-up group may
 * show a lag of one marker per partition until it commits past it.
 */
export async function groupLag(admin: Admin, groupId: string, topics: readonly string[]): Promise<number> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  let lag = 0;
  for (const topic of topics) {
    const ends = await topicOffsets(admin, topic);
    const c = committed.find((t) => t.topic === topic);
    for (const p of ends) {
      const off = c?.partitions.find((x) => x.partition === p.partition)?.offset ?? '-1';
      const from = Number(off) >= 0 ? Number(off) : Number(p.low);
      lag += Math.max(0, Number(p.high) - from);
    }
  }
  return lag;
}
