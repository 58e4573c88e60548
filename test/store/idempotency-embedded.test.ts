/**
 * Idempotent writes on the embedded store (chDB, a recent ClickHouse: insert deduplication tokens
 * on top of the deduplicating tables). Its own file: chDB binds one data directory per process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { createStoreClient } from '../../src/store/clickhouse-client.js';
import { defineIdempotencySuite } from './idempotency-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-chdb-idem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

defineIdempotencySuite(
  'idempotent writes, embedded chDB',
  async () => {
    const store = await createStoreClient({ path: dir });
    expect(store.kind).toBe('embedded');
    return store;
  },
  'tw_idem_embedded',
);
