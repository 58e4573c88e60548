/**
 * Idempotent writes on a ClickHouse server (CLICKHOUSE_URL, default the local 18.16 from
 * scripts/services.sh: no insert deduplication there, the tables and readers do it all).
 */
import { beforeAll, expect } from 'vitest';
import { createStoreClient } from '../../src/store/clickhouse-client.js';
import { defineIdempotencySuite } from './idempotency-fixtures.js';

const url = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:18123';

beforeAll(async () => {
  const res = await fetch(new URL('/ping', url)).catch((e: unknown) => e as Error);
  if (res instanceof Error || !res.ok) {
    throw new Error(
      `ClickHouse server not reachable at ${url} (${res instanceof Error ? res.message : `HTTP ${res.status}`}): ` +
        'start it with `scripts/services.sh up` or set CLICKHOUSE_URL',
    );
  }
});

defineIdempotencySuite(
  `idempotent writes, ClickHouse server at ${url}`,
  async () => {
    const store = await createStoreClient({ url, username: process.env.CLICKHOUSE_USER, password: process.env.CLICKHOUSE_PASSWORD });
    expect(store.kind).toBe('server');
    return store;
  },
  `tw_idem_server_${process.pid}`,
);
