/**
 * The incidents table and the report against a real ClickHouse server over HTTP (CLICKHOUSE_URL,
 * default the local 18.16 from scripts/services.sh). Never skipped: a server that is down fails
 * the run with a message saying how to start it.
 */
import { beforeAll, expect } from 'vitest';
import { createStoreClient } from '../../src/store/clickhouse-client.js';
import { defineReportSuite } from './report-fixtures.js';

const url = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:18123';

beforeAll(async () => {
  const res = await fetch(new URL('/ping', url)).catch((e: unknown) => e as Error);
  if (res instanceof Error || !res.ok) {
    throw new Error(`ClickHouse server not reachable at ${url} (${res instanceof Error ? res.message : `HTTP ${res.status}`}): start it with \`scripts/services.sh up\` or set CLICKHOUSE_URL`);
  }
});

defineReportSuite(
  `report on the ClickHouse server at ${url}`,
  async () => {
    const store = await createStoreClient({ url, username: process.env.CLICKHOUSE_USER, password: process.env.CLICKHOUSE_PASSWORD });
    expect(store.kind).toBe('server');
    return store;
  },
  `tw_test_report_${process.pid}`,
);
