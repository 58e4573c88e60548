/**
 * A kafkajs client from the `kafka` config section. Secrets never live in the config file:
 * the SASL password is read from the environment variable the config names, TLS material
 * from the files it names. kafkajs logs go through pino (no message payloads are logged).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import kafkajs from 'kafkajs';
import type { KafkaConfig as KafkaJsConfig, LogEntry, SASLOptions } from 'kafkajs';
import type { KafkaConfig } from '../config/config-schema.js';
import { TokenwatchError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { installCoordinatorCache } from './coordinator-cache.js';
import { installNativeCrc32c } from './kafkajs-crc32c.js';
import { installSinglePassProduce } from './kafkajs-produce-encoder.js';
import { installRecordDecoder } from './kafkajs-record-decoder.js';

const { Kafka, logLevel: KafkaLogLevel } = kafkajs;

export type Env = Readonly<Record<string, string | undefined>>;

export interface KafkaClientOptions {
  /** Where `*_env` variables are read from (default: process.env). */
  env?: Env;
  logger?: Logger;
  /** Per-request timeout; tests lower it. */
  requestTimeoutMs?: number;
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `kafka.tls.${what}: cannot read ${file}: ${(cause as Error).message} — point it at a readable PEM file`, undefined, { cause });
  }
}

/** kafkajs `ssl` option from `kafka.tls`. */
export function tlsOptions(tls: KafkaConfig['tls']): boolean | ConnectionOptions {
  if (tls === false || tls === true) return tls;
  const out: ConnectionOptions = { rejectUnauthorized: tls.reject_unauthorized };
  if (tls.ca_file) out.ca = [readPem(tls.ca_file, 'ca_file')];
  if (tls.cert_file) out.cert = readPem(tls.cert_file, 'cert_file');
  if (tls.key_file) out.key = readPem(tls.key_file, 'key_file');
  if ((tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    throw new TokenwatchError('config_invalid', 'kafka.tls: cert_file and key_file go together — set both for mutual TLS, or neither');
  }
  return out;
}

/** kafkajs `sasl` option from `kafka.sasl`; the password comes from the named env var. */
export function saslOptions(sasl: KafkaConfig['sasl'], env: Env): SASLOptions | undefined {
  if (!sasl) return undefined;
  const password = env[sasl.password_env];
  if (password === undefined || password === '') {
    throw new TokenwatchError(
      'config_invalid',
      `kafka.sasl.password_env: environment variable ${sasl.password_env} is not set — export it with the SASL password for user "${sasl.username}"`,
    );
  }
  return { mechanism: sasl.mechanism, username: sasl.username, password };
}

const PINO_LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** kafkajs' text of error 51, CONCURRENT_TRANSACTIONS. */
const CONCURRENT_TRANSACTIONS_TEXT = 'The producer attempted to update a transaction while another concurrent operation';

/** kafkajs level that matches the pino logger's level, so kafkajs never logs below it. */
function kafkaLogLevel(logger: Logger | undefined): number {
  if (!logger) return KafkaLogLevel.NOTHING;
  switch (logger.level) {
    case 'trace':
    case 'debug':
      return KafkaLogLevel.DEBUG;
    case 'info':
      // kafkajs INFO is per-connection chatter; keep it out of normal operation
      return KafkaLogLevel.WARN;
    case 'warn':
      return KafkaLogLevel.WARN;
    case 'error':
    case 'fatal':
      return KafkaLogLevel.ERROR;
    default:
      return KafkaLogLevel.NOTHING;
  }
}

/** The kafkajs client config (pure apart from reading TLS files); exported for tests. */
export function kafkaClientConfig(cfg: KafkaConfig, opts: KafkaClientOptions = {}): KafkaJsConfig {
  const env = opts.env ?? process.env;
  const logger = opts.logger?.child({ component: 'kafkajs' });
  const sasl = saslOptions(cfg.sasl, env);
  const ssl = tlsOptions(cfg.tls);
  return {
    clientId: cfg.client_id,
    brokers: [...cfg.brokers],
    ...(ssl !== false && { ssl }),
    ...(sasl && { sasl }),
    ...(opts.requestTimeoutMs !== undefined && { requestTimeout: opts.requestTimeoutMs }),
    logLevel: kafkaLogLevel(logger),
    logCreator: () => (entry: LogEntry) => {
      if (!logger) return;
      const { message, ...extra } = entry.log;
      // by design: transactional producers bound their retries (a failed send aborts the transaction, transactional-outbox.ts)
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      let level = PINO_LEVEL[entry.level] ?? 'info';
      // CONCURRENT_TRANSACTIONS: a partition's next transaction met the coordinator still writing the
      // previous one's markers; retried at once (transactional-outbox.ts), routine under load — debug, not error
      if (level === 'error' && `${String(extra.error ?? '')} ${message}`.includes(CONCURRENT_TRANSACTIONS_TEXT)) level = 'debug';
      logger[level]({ namespace: entry.namespace, ...extra }, message);
    },
  };
}

export function createKafka(cfg: KafkaConfig, opts: KafkaClientOptions = {}): InstanceType<typeof Kafka> {
  installCoordinatorCache(); // one FindCoordinator per coordinator and 2 s, not per transaction step
  // record batch checksums computed natively (kafkajs-crc32c.ts)
  if (installNativeCrc32c() === 'kafkajs') opts.logger?.debug('kafkajs computes record batch checksums in JavaScript (native CRC-32C not loaded)');
  // produce requests encoded in one buffer instead of six nested copies (kafkajs-produce-encoder.ts)
  if (installSinglePassProduce() === 'kafkajs') opts.logger?.debug('kafkajs encodes produce requests itself (a produce request version had loaded first)');
  // fetched records decoded without BigInt arithmetic per record (kafkajs-record-decoder.ts)
  if (installRecordDecoder() === 'kafkajs') opts.logger?.debug('kafkajs decodes record batches itself (its decoder had loaded first)');
  return new Kafka(kafkaClientConfig(cfg, opts));
}
