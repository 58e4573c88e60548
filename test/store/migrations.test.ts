/**
 * The store against embedded chDB (ClickHouse 26.x in-process): migrations, sink writes and every
 * dashboard. chDB binds one data directory per process; vitest gives this file its own fork.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenwatchError } from '../../src/core/errors.js';
import { createStoreClient } from '../../src/store/clickhouse-client.js';
import { getDashboard, renderDashboard } from '../../src/store/dashboards.js';
import { featuresForVersion, migrate } from '../../src/store/migrations.js';
import { encodeRowLine } from '../../src/store/rows.js';
import { defineStoreSuite } from './store-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-chdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('featuresForVersion', () => {
  it('uses plain types on ClickHouse 18.16 and the modern ones on current versions', () => {
    expect(featuresForVersion('18.16.1')).toEqual({ lowCardinality: false, dateTime64: false, ttl: false, insertDeduplication: false });
    expect(featuresForVersion('19.8.3.8')).toEqual({ lowCardinality: false, dateTime64: false, ttl: true, insertDeduplication: false });
    expect(featuresForVersion('19.17.1')).toEqual({ lowCardinality: true, dateTime64: false, ttl: true, insertDeduplication: false });
    expect(featuresForVersion('22.1.3')).toEqual({ lowCardinality: true, dateTime64: true, ttl: true, insertDeduplication: false });
    expect(featuresForVersion('22.2.2.1')).toEqual({ lowCardinality: true, dateTime64: true, ttl: true, insertDeduplication: true });
    expect(featuresForVersion('26.7.2.1')).toEqual({ lowCardinality: true, dateTime64: true, ttl: true, insertDeduplication: true });
  });
  it('rejects a version it cannot read', () => {
    expect(() => featuresForVersion('unknown')).toThrow(TokenwatchError);
  });
});

describe('encodeRowLine', () => {
  it('writes one JSON line without the fields that hold their column default', () => {
    const line = encodeRowLine({ a: 'x', b: '', c: null, d: [], e: ['y'], f: 0, g: 1.5, h: 'q"\n', i: undefined });
    expect(line).toBe('{"a":"x","e":["y"],"f":0,"g":1.5,"h":"q\\"\\n"}\n');
    expect(JSON.parse(line)).toEqual({ a: 'x', e: ['y'], f: 0, g: 1.5, h: 'q"\n' });
    expect(encodeRowLine({ a: '' })).toBe('{}\n');
  });
});

describe('migrate input checks', () => {
  it('refuses a database name that is not a plain identifier', async () => {
    await expect(createStoreClient({ path: dir, database: 'x; DROP TABLE y' })).rejects.toMatchObject({ code: 'config_invalid' });
    // migrate() validates too, before sending anything.
    const fakeClient = {} as Parameters<typeof migrate>[0];
    await expect(migrate(fakeClient, { database: 'a-b' })).rejects.toMatchObject({ code: 'config_invalid' });
  });
});

describe('renderDashboard', () => {
  it('splices the database and the anchor time, and refuses unsafe database names', () => {
    const d = getDashboard('top-issuers-mint-rate');
    const sql = renderDashboard(d, { database: 'tw_x', now: Date.UTC(2026, 0, 5, 12, 0, 30) });
    expect(sql).toContain('FROM tw_x.issuer_mints_per_minute');
    expect(sql).toContain(`toDateTime(${Date.UTC(2026, 0, 5, 12, 0, 30) / 1000})`);
    expect(sql).not.toMatch(/\{\{|^--/m);
    expect(() => renderDashboard(d, { database: 'tw x' })).toThrow(TokenwatchError);
    expect(() => getDashboard('nope')).toThrow(/unknown dashboard/);
  });
});

defineStoreSuite(
  'embedded chDB store',
  async () => {
    const store = await createStoreClient({ path: dir });
    expect(store.kind).toBe('embedded');
    return store;
  },
  'tw_test_embedded',
);
