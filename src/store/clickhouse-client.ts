/**
 * One factory for the ClickHouse store: a ClickHouse server over HTTP(S) when `url` is set,
 * otherwise embedded chDB (ClickHouse in-process) at `path`, both behind @clickhouse/client.
 *
 * chDB binds ONE data directory per process: open at most one embedded path per process
 * (close it and open another is not supported by the engine). chDB is loaded lazily so a
 * server deployment never loads the native addon.
 *
 * The client is created without a default database: the database may not exist before
 * `migrate()` runs, and every statement tokenwatch sends names `<database>.<table>`.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createClient, ClickHouseLogLevel, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';
import { TokenwatchError } from '../core/errors.js';
import type { StoreConfig } from '../config/config-schema.js';

export interface StoreTlsOptions {
  /** PEM file with the CA certificate(s) to trust. */
  ca_file?: string;
  /** Client certificate and key (PEM) for mutual TLS. */
  cert_file?: string;
  key_file?: string;
  reject_unauthorized?: boolean;
}

export interface StoreClientOptions {
  /** ClickHouse server HTTP(S) URL; unset = embedded chDB. */
  url?: string;
  /** Embedded chDB data directory (default `.tokenwatch/chdb`); ignored when `url` is set. */
  path?: string;
  username?: string;
  password?: string;
  /** Database tokenwatch's tables live in (default `tokenwatch`). Not created here: see migrate(). */
  database?: string;
  tls?: StoreTlsOptions;
  /** Per-request timeout for the server (default 30 s). */
  request_timeout_ms?: number;
}

export type StoreKind = 'embedded' | 'server';

export interface StoreClient {
  client: ClickHouseClient;
  kind: StoreKind;
  database: string;
  close(): Promise<void>;
}

export const DEFAULT_DATABASE = 'tokenwatch';
export const DEFAULT_EMBEDDED_PATH = '.tokenwatch/chdb';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Database names are spliced into SQL text (18.16 has no identifier parameters): allow plain identifiers only. */
export function assertDatabaseName(database: string): string {
  if (!IDENTIFIER.test(database)) {
    throw new TokenwatchError('config_invalid', `invalid ClickHouse database name ${JSON.stringify(database)}: letters, digits and _ only`);
  }
  return database;
}

export async function createStoreClient(opts: StoreClientOptions = {}): Promise<StoreClient> {
  const database = assertDatabaseName(opts.database ?? DEFAULT_DATABASE);
  // The client's own logger prints every failed request; the sink reports failures itself (with retries).
  const log = { level: ClickHouseLogLevel.OFF };

  if (opts.url) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch (cause) {
      throw new TokenwatchError('config_invalid', 'store.url is not a valid URL', undefined, { cause });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TokenwatchError('config_invalid', `store.url must be http(s), got ${url.protocol}`);
    }
    const tls = opts.tls;
    const ca = tls?.ca_file ? readFileSync(tls.ca_file) : undefined;
    const cert = tls?.cert_file ? readFileSync(tls.cert_file) : undefined;
    const key = tls?.key_file ? readFileSync(tls.key_file) : undefined;
    if ((cert === undefined) !== (key === undefined)) {
      throw new TokenwatchError('config_invalid', 'store.tls: cert_file and key_file must be set together');
    }
    const client = createClient({
      url: url.toString(),
      username: opts.username ?? 'default',
      password: opts.password ?? '',
      request_timeout: opts.request_timeout_ms ?? 30_000,
      log,
      // The client's tls option cannot turn verification off and needs a CA: use an agent for the rest.
      ...(url.protocol === 'https:' && (tls?.reject_unauthorized === false || (ca === undefined && cert !== undefined))
        ? {
            http_agent: new https.Agent({
              keepAlive: true,
              rejectUnauthorized: tls?.reject_unauthorized ?? true,
              ...(ca ? { ca } : {}),
              ...(cert && key ? { cert, key } : {}),
            }),
          }
        : ca
          ? { tls: cert && key ? { ca_cert: ca, cert, key } : { ca_cert: ca } }
          : {}),
    });
    return { client, kind: 'server', database, close: () => client.close() };
  }

  const path = opts.path ?? DEFAULT_EMBEDDED_PATH;
  let createChdbConnection: typeof import('chdb/connection').createChdbConnection;
  try {
    ({ createChdbConnection } = await import('chdb/connection'));
  } catch (cause) {
    throw new TokenwatchError('config_invalid', 'embedded store needs the chdb package (or set store.url to a ClickHouse server)', undefined, { cause });
  }
  // chdb types its Connection against the standalone @clickhouse/client-common package while the
  // client bundles its own copy of the same interface; the shapes differ only in that duplication.
  const connection = createChdbConnection({ path }) as unknown as ClickHouseClientConfigOptions['connection'];
  const client = createClient({ connection, log });
  return { client, kind: 'embedded', database, close: () => client.close() };
}

/** The store a tokenwatch config names (`store` section), with its password read from the environment. */
export function createStoreClientFromConfig(store: StoreConfig, env: Record<string, string | undefined> = process.env): Promise<StoreClient> {
  return createStoreClient({
    ...(store.url !== undefined && { url: store.url }),
    path: store.path,
    username: store.username,
    password: env[store.password_env] ?? '',
    database: store.database,
    ...(store.tls && { tls: store.tls }),
  });
}
