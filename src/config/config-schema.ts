/**
 * The one configuration file (YAML or JSON), validated by zod. Secrets never live in the
 * file: it names environment variables (`*_env`) that hold them.
 */
import { z } from 'zod';
import { SourceFormat } from '../../schemas/token-event.js';
import { AlertFormat } from '../ocsf/alert-format.js';

const Tls = z
  .object({
    ca_file: z.string().optional().describe('PEM file with the CA certificate(s) to trust'),
    cert_file: z.string().optional().describe('client certificate (PEM) for mutual TLS'),
    key_file: z.string().optional().describe('client private key (PEM) for mutual TLS'),
    reject_unauthorized: z.boolean().default(true),
  })
  .strict();

export const KafkaConfig = z
  .object({
    brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port')).min(1).describe('bootstrap brokers, host:port'),
    client_id: z.string().default('tokenwatch'),
    group_id: z.string().default('tokenwatch'),
    inputs: z
      .array(z.object({ topic: z.string().min(1), format: z.union([SourceFormat, z.literal('auto')]).default('auto') }).strict())
      .min(1)
      .describe('input topics, each bound to a vendor format or auto-detect'),
    topics: z
      .object({
        alerts: z.string().default('tokenwatch.alerts'),
        dead_letter: z.string().default('tokenwatch.dead-letter'),
        /** Kafka Streams-style repartition topics, named explicitly. */
        by_token: z.string().default('tokenwatch.repartition.by-token'),
        by_issuer: z.string().default('tokenwatch.repartition.by-issuer'),
        /** Compacted changelog of the detection tasks' state keys (task-state-store.ts). */
        changelog: z.string().default('tokenwatch.changelog'),
        partitions: z.number().int().positive().default(6).describe('partitions for the internal topics when created'),
        replication_factor: z.number().int().positive().default(1),
      })
      .strict()
      .default({ alerts: 'tokenwatch.alerts', dead_letter: 'tokenwatch.dead-letter', by_token: 'tokenwatch.repartition.by-token', by_issuer: 'tokenwatch.repartition.by-issuer', changelog: 'tokenwatch.changelog', partitions: 6, replication_factor: 1 }),
    from_beginning: z.boolean().default(true),
    checkpoint_interval_seconds: z.number().positive().default(10).describe("write each task's changed state keys to the changelog at most this often (a restored task replays at most this much of its partition)"),
    transaction_timeout_ms: z.number().int().positive().default(10_000).describe('Kafka transaction timeout: an instance killed mid-transaction holds read_committed readers back at most this long'),
    session_timeout_ms: z.number().int().min(6000).default(10_000).describe('consumer group session timeout: how long a killed instance holds its partitions before the group moves them (heartbeats every tenth of it, inside long batches too)'),
    fetch_max_bytes_per_partition: z.number().int().min(65_536).default(4_194_304).describe('most bytes one fetch takes from a partition (kafkajs maxBytesPerPartition; its default is 1 MiB): larger fetches mean fewer, larger batches, so fewer transactions per record'),
    fetch_max_bytes: z.number().int().min(1_048_576).default(52_428_800).describe('most bytes one fetch takes in all (kafkajs maxBytes; its default is 10 MiB)'),
    fetch_min_bytes: z.number().int().min(1).default(1_048_576).describe('bytes a fetch waits for before it returns (kafkajs minBytes): under live load, larger means fewer, fuller batches, so less work per record, for at most fetch_max_wait_ms more latency per hop'),
    fetch_max_wait_ms: z.number().int().min(1).max(5000).default(30).describe('longest a fetch waits for fetch_min_bytes (kafkajs maxWaitTimeInMs)'),
    max_uncommitted_batches: z.number().int().min(1).max(64).default(4).describe('batches of one partition processed ahead of their Kafka transaction: the fetch loop goes on while transactions commit behind it (1: every batch waits for the previous one to commit)'),
    commit_interval_ms: z.number().int().nonnegative().default(50).describe("least time between two stage-1 Kafka transactions (of the process with exactly_once per_process, of one input partition with per_partition; Kafka Streams' commit.interval.ms): batches arriving sooner share the next one; a batch after a quiet spell commits at once. Stage 1 only: an alert's transaction never waits for it"),
    exactly_once: z.enum(['per_partition', 'per_process']).default('per_process').describe("how Kafka transactions fence a member that lost its partitions: per_partition, one transactional producer per owned partition whose next owner fences it (Kafka Streams' exactly_once); per_process, one producer per process whose offsets carry the group generation (KIP-447, Kafka Streams' exactly_once_v2; brokers 2.5+): one transaction per round for all partitions instead of one per partition, and a new owner waits for a previous owner's open transaction (at most transaction_timeout_ms) instead of fencing it"),
    ingest_threads: z
      .union([z.literal('auto'), z.number().int().min(0).max(16)])
      .default('auto')
      .describe("worker threads running stage 1 (decode, validate, normalize, enrich, encode), each owning a share of the input partitions; 0: on the main thread. auto: one less than the machine's cores, at most 4 (0 on one core)"),
    commit_linger_ms: z.number().int().nonnegative().default(0).describe('longest a batch waits to share its Kafka transaction with other work of its partition (idle watermark records)'),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password_env: z.string().default('KAFKA_SASL_PASSWORD').describe('environment variable holding the SASL password'),
      })
      .strict()
      .optional(),
    tls: z.union([z.boolean(), Tls]).default(false),
  })
  .strict();
export type KafkaConfig = z.infer<typeof KafkaConfig>;

export const StoreConfig = z
  .object({
    url: z.string().url().optional().describe('ClickHouse server HTTP(S) URL; unset = embedded chDB'),
    path: z.string().default('.tokenwatch/chdb').describe('embedded chDB data directory'),
    database: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _ only').default('tokenwatch'),
    username: z.string().default('default'),
    password_env: z.string().default('CLICKHOUSE_PASSWORD'),
    tls: Tls.optional(),
    max_batch_rows: z.number().int().positive().default(20_000),
    // the Kafka runtime commits a batch only once its rows are stored: this bounds that wait
    flush_interval_ms: z.number().int().positive().default(250).describe('longest a row waits before its insert (raise for fewer, larger inserts)'),
    max_queue_rows: z.number().int().positive().default(50_000),
    max_time_to_store_ms: z.number().int().positive().default(5000).describe('Kafka runner: pause consumption while the oldest unstored row is older than this (and while the queue is 80 % full)'),
    max_retries: z.number().int().nonnegative().default(8),
    base_delay_ms: z.number().int().positive().default(200),
    write_events: z.boolean().default(true).describe('also store normalized token events (feeds the minting-rate view)'),
  })
  .strict();
export type StoreConfig = z.infer<typeof StoreConfig>;

export const EngineConfig = z
  .object({
    reorder_max_delay_seconds: z.number().nonnegative().default(300).describe('largest disorder a source clock waits for; events further behind their source are late (ordered just past its watermark)'),
    source_min_disorder_seconds: z.number().nonnegative().default(0).describe("out-of-orderness assumed for a source before its own is learned (each source's watermark trails its newest event by the larger)"),
    source_idle_seconds: z.number().nonnegative().default(0).describe('Kafka runner: an input source (partition and format) stops holding the watermark once a batch has read its partition to the end (0, Kafka Streams\' max.task.idle.ms 0) or, above 0, once it has had no records for this much wall time with its partition read to the end'),
    reorder_max_buffered: z.number().int().positive().default(100_000),
    suppress_window_minutes: z.number().positive().default(60).describe('repeats of one alert key inside this window fold into one'),
    max_suppress_keys: z.number().int().positive().default(100_000),
    max_recent_event_ids: z.number().int().positive().default(200_000),
  })
  .strict();
export type EngineConfig = z.infer<typeof EngineConfig>;

/** IP enrichment (src/enrich/): ASN, AS org, country, cloud provider/region/service. */
const CsvPair = z.object({ ipv4: z.string().min(1), ipv6: z.string().min(1) }).strict();
export const EnrichConfig = z
  .object({
    enabled: z.boolean().default(true),
    country: z.boolean().default(true).describe('also look up the country (ISO 3166 alpha-2)'),
    data_dir: z.string().default('.tokenwatch/enrich').describe('where scripts/update-enrichment-data.sh writes newer files; used when present'),
    asn_csv: CsvPair.optional().describe('ip-location-db asn CSVs (start,end,asn,org); default: data_dir files, else the @ip-location-db/asn package'),
    country_csv: CsvPair.optional().describe('ip-location-db country CSVs (start,end,CC); default: data_dir files, else @ip-location-db/asn-country'),
    asn_mmdb: z.string().optional().describe('MaxMind DB with autonomous_system_number/organization (GeoLite2-ASN); replaces the ASN CSVs'),
    country_mmdb: z.string().optional().describe('MaxMind DB with a country (GeoLite2-Country); replaces the country CSVs'),
    cloud_ranges: z
      .array(z.object({ provider: z.string().min(1), file: z.string().min(1), format: z.enum(['aws', 'gcp', 'azure']).optional() }).strict())
      .optional()
      .describe('cloud IP range files in the official formats; default: aws-ip-ranges.json, gcp-cloud.json, azure-service-tags.json in data_dir when present'),
    memo_size: z.number().int().positive().default(65_536).describe('distinct addresses whose lookup results are kept'),
  })
  .strict();
export type EnrichConfig = z.infer<typeof EnrichConfig>;

/** Alert delivery over HTTP (src/sinks/http-batcher.ts): batching, retry with backoff, bounded queue. */
const DeliveryFields = {
  max_batch: z.number().int().positive().default(100).describe('items per request (SET push: SETs handled per drain, one per POST)'),
  flush_interval_ms: z.number().int().positive().default(1000).describe('longest an item waits before its request'),
  max_queue: z.number().int().positive().default(10_000).describe('items queued or in flight; producers wait beyond this (backpressure)'),
  max_retries: z.number().int().nonnegative().default(6),
  base_delay_ms: z.number().int().positive().default(500).describe('first backoff step; doubles per retry, equal jitter; a Retry-After header wins'),
  max_delay_ms: z.number().int().positive().default(60_000),
  timeout_ms: z.number().int().positive().default(10_000).describe('per request; no answer in time is retried like a 5xx'),
};
const MinSeverity = z.enum(['low', 'medium', 'high', 'critical']);
export const SinksConfig = z
  .object({
    set: z
      .object({
        url: z.string().url().describe('SSF receiver push endpoint (RFC 8935)'),
        issuer: z.string().min(1).describe('`iss` of the SETs (this transmitter)'),
        audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).describe('`aud` of the SETs (the receiver)'),
        alg: z.enum(['none', 'HS256', 'RS256', 'ES256']).default('none').describe('none = unsigned SET; HS256 shared secret; RS256/ES256 PEM private key'),
        key_env: z.string().optional().describe('environment variable holding the HS256 secret or the PEM private key'),
        kid: z.string().optional(),
        bearer_env: z.string().optional().describe('environment variable holding the receiver bearer token'),
        min_severity: MinSeverity.default('critical'),
        events: z.record(z.string(), z.enum(['session-revoked', 'credential-change'])).default({ token_replay: 'session-revoked', credential_context: 'credential-change' }).describe('CAEP event type per detector'),
        credential_type: z.string().default('password').describe('credential-change credential_type'),
        ...DeliveryFields,
      })
      .strict()
      .optional(),
    webhook: z
      .object({
        url: z.string().url(),
        secret_env: z.string().optional().describe('environment variable holding the HMAC-SHA256 key for X-Tokenwatch-Signature'),
        min_severity: MinSeverity.default('medium'),
        alert_format: z.enum(['native', 'ocsf']).default('native'),
        headers: z.record(z.string(), z.string()).optional(),
        hygiene: z.boolean().default(true).describe('also deliver hygiene findings'),
        ...DeliveryFields,
      })
      .strict()
      .optional(),
    splunk_hec: z
      .object({
        url: z.string().url().describe('HEC base URL (https://host:8088); /services/collector/event is appended'),
        token_env: z.string().default('SPLUNK_HEC_TOKEN'),
        index: z.string().optional(),
        source: z.string().default('tokenwatch'),
        sourcetype: z.string().default('tokenwatch:alert'),
        host: z.string().optional(),
        min_severity: MinSeverity.default('low'),
        alert_format: z.enum(['native', 'ocsf']).default('native'),
        hygiene: z.boolean().default(true).describe('also deliver hygiene findings'),
        ...DeliveryFields,
      })
      .strict()
      .optional(),
  })
  .strict();
export type SinksConfig = z.infer<typeof SinksConfig>;

export const TokenwatchConfig = z
  .object({
    hmac_key_env: z.string().default('TOKENWATCH_HMAC_KEY').describe('environment variable holding the fingerprint HMAC key'),
    detectors: z.record(z.string(), z.record(z.string(), z.unknown())).default({}).describe('per-detector config overrides, by detector id'),
    engine: EngineConfig.default(EngineConfig.parse({})),
    enrich: EnrichConfig.default(EnrichConfig.parse({})),
    inventory: z.object({ max_tokens: z.number().int().positive().default(200_000), max_set_size: z.number().int().positive().default(16) }).strict().default({ max_tokens: 200_000, max_set_size: 16 }),
    limits: z
      .object({
        max_event_bytes: z.number().int().positive().default(256 * 1024),
        max_depth: z.number().int().positive().default(32),
        // decompression-bomb bounds (src/pipeline/decompress.ts)
        max_decompressed_bytes: z.number().int().positive().default(64 * 1024 * 1024).describe('largest decompressed Kafka value, base64 payload or envelope (a whole CloudWatch Logs batch, lookup-events page)'),
        max_decompressed_file_bytes: z.number().int().positive().default(64 * 1024 ** 3).describe('most bytes one compressed file or stdin stream may decompress to (streamed, never held whole)'),
        // plausible event-time window (src/pipeline/plausible-time.ts): outside it an event is dead-lettered as implausible_time
        max_future_skew_seconds: z.number().positive().default(86_400).describe('dead-letter events this far ahead of the newest accepted event time of their partition (or of the clock, for a partition\'s first event)'),
        // off by default: a backfill sharing a partition with live data is legitimately far behind
        max_event_age_days: z.number().nonnegative().default(0).describe('dead-letter events this far behind the newest accepted event time of their partition (0: no bound; e.g. 30, the token_events retention)'),
        min_event_time: z.iso.datetime({ offset: true }).default('2000-01-01T00:00:00Z').describe('dead-letter events dated before this instant'),
      })
      .strict()
      .default({ max_event_bytes: 256 * 1024, max_depth: 32, max_decompressed_bytes: 64 * 1024 * 1024, max_decompressed_file_bytes: 64 * 1024 ** 3, max_future_skew_seconds: 86_400, max_event_age_days: 0, min_event_time: '2000-01-01T00:00:00Z' }),
    dead_letter: z
      .object({ payload: z.enum(['mask', 'truncate', 'drop']).default('mask').describe('what a dead letter keeps of the failed record (file and topic): mask = the record with secret and credential-id fields masked; truncate = that, cut to 1 KiB; drop = no payload, only reason and origin') })
      .strict()
      .default({ payload: 'mask' }),
    store: StoreConfig.default(StoreConfig.parse({})),
    alerts: z
      .object({ format: AlertFormat.default('native').describe('alert schema on the Kafka alert topic and from replay: native, ocsf (OCSF 1.8.0 Detection Finding) or both') })
      .strict()
      .default({ format: 'native' }),
    exceptions: z
      .object({ file: z.string().min(1).optional().describe('YAML/JSON exceptions file (schemas/exception.ts) applied before alerts are raised; see README: Exceptions') })
      .strict()
      .default({}),
    policy: z
      .object({
        file: z
          .string()
          .min(1)
          .optional()
          .describe('Issuer policy file (schemas/policy.ts), relative to the config file; loaded into detectors.policy_violation.policy (see README: Issuer policy)'),
      })
      .strict()
      .default({}),
    sinks: SinksConfig.default({}).describe('alert delivery: SET push (SSF/CAEP), webhook, Splunk HEC'),
    hygiene: z
      .object({
        enabled: z.boolean().default(true).describe('run the token hygiene queries (replay: once at the end; Kafka runner: periodically) and deliver new findings'),
        interval_minutes: z.number().positive().default(60).describe('Kafka runner: minutes between hygiene passes'),
      })
      .strict()
      .default({ enabled: true, interval_minutes: 60 }),
    kafka: KafkaConfig.optional(),
    http: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(9464) }).strict().default({ host: '127.0.0.1', port: 9464 }),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).strict().default({ level: 'info' }),
  })
  .strict();
export type TokenwatchConfig = z.infer<typeof TokenwatchConfig>;
