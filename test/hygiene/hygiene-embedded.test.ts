/** Hygiene views and report against embedded chDB (ClickHouse 26.x in-process); own fork per file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { createStoreClient } from '../../src/store/clickhouse-client.js';
import { defineHygieneSuite } from './hygiene-store-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-hygiene-chdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

defineHygieneSuite(
  'hygiene on embedded chDB',
  async () => {
    const store = await createStoreClient({ path: dir });
    expect(store.kind).toBe('embedded');
    return store;
  },
  'tw_hygiene_embedded',
);
