/**
 * ClickHouseSink on the embedded store (chDB, a recent ClickHouse with insert deduplication):
 * retries after an insert that landed but whose reply was lost, and batches redelivered after a
 * crash, store nothing twice that a reader counts. The fault injector wraps the real client and
 * throws after the real insert returned (the in-process store has no network to lose a reply on).
 * Merges are stopped on every table, so only the sink and the schema can be what deduplicates.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEvent } from '../../schemas/token-event.js';
import { HOUR, MIN, ev } from '../../detectors/case-helpers.js';
import { ClickHouseSink, type ClickHouseSinkConfig } from '../../src/sinks/clickhouse-sink.js';
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse-client.js';
import { migrate, type MigrateResult } from '../../src/store/migrations.js';
import { timePrecisionFor } from '../../src/store/rows.js';

const dir = mkdtempSync(join(tmpdir(), 'tokenwatch-chdb-sink-'));
const database = 'tw_sink_embedded';
const NOW = Math.floor(Date.now() / HOUR) * HOUR;

let store: StoreClient;
let migrated: MigrateResult;

beforeAll(async () => {
  store = await createStoreClient({ path: dir });
  await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  migrated = await migrate(store.client, { database });
  for (const t of ['token_events', 'alerts', 'token_inventory', 'issuer_mints_per_minute_state']) {
    await store.client.command({ query: `SYSTEM STOP MERGES ${database}.${t}` });
  }
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function mints(tag: string, n: number): TokenEvent[] {
  return Array.from({ length: n }, (_, i) =>
    ev({ event_id: `sinkemb:${tag}:${i}`, time: NOW - 10 * MIN + i * 1000, token: `${tag}-${i}`, issuer: `role/${tag}`, action: 'mint' }),
  );
}

/** Stored rows (copies included), distinct event ids, and mints the mint view counts, for one tag. */
async function figures(tag: string): Promise<{ stored: number; events: number; mints: number }> {
  const rs = await store.client.query({
    query: `SELECT
  toUInt32((SELECT count() FROM ${database}.token_events WHERE issuer = 'role/${tag}')) AS stored,
  toUInt32((SELECT uniqExact(event_id) FROM ${database}.token_events WHERE issuer = 'role/${tag}')) AS events,
  toUInt32((SELECT sum(mints) FROM ${database}.issuer_mints_per_minute WHERE issuer = 'role/${tag}')) AS mints`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ stored: number; events: number; mints: number }>())[0]!;
}

/** The real client, except that the next `lose` inserts land and then report a lost connection. */
function losingReplies(real: ClickHouseClient, plan: { lose: number }, queries: string[]): ClickHouseClient {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'exec') {
        return async (params: Parameters<ClickHouseClient['exec']>[0]) => {
          queries.push(params.query);
          const result = await target.exec(params);
          if (plan.lose > 0) {
            plan.lose--;
            result.stream.resume();
            throw Object.assign(new Error('injected: socket hang up after the insert landed'), { code: 'ECONNRESET' });
          }
          return result;
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function sinkOn(client: ClickHouseClient, config: Partial<ClickHouseSinkConfig> = {}): ClickHouseSink {
  return new ClickHouseSink({
    client,
    database,
    time_precision: timePrecisionFor(migrated.features),
    insert_deduplication: migrated.features.insertDeduplication,
    config: { max_batch_rows: 100, flush_interval_ms: 60_000, max_queue_rows: 1000, max_retries: 3, base_delay_ms: 1, ...config },
    sleep: async () => undefined,
  });
}

describe('ClickHouseSink on embedded chDB: idempotent retries', () => {
  it('detects insert deduplication on this engine', () => {
    expect(migrated.features.insertDeduplication).toBe(true);
  });

  it('a retry after an insert that landed but lost its reply stores nothing twice', async () => {
    const queries: string[] = [];
    const sink = sinkOn(losingReplies(store.client, { lose: 1 }, queries));
    const w = sink.write('events', mints('lostack', 6));
    await sink.flush();
    await w;
    expect(sink.stats).toMatchObject({ retries: 1, failures: 0, rows_written: 6, batches_written: 1 });
    // both attempts carried the same token, so the server dropped the second copy itself
    expect(queries).toHaveLength(2);
    expect(queries[0]).toMatch(/^INSERT INTO tw_sink_embedded\.token_events SETTINGS insert_deduplication_token = '[0-9a-f]{40}' FORMAT JSONEachRow$/);
    expect(queries[1]).toBe(queries[0]);
    expect(await figures('lostack')).toEqual({ stored: 6, events: 6, mints: 6 });
    await sink.close();
  });

  it('a batch redelivered after a crash, alike or split differently, counts once', async () => {
    const rows = mints('redeliver', 10);
    const first = sinkOn(store.client, { max_batch_rows: 5 });
    await first.write('events', rows);
    await first.close();
    // the restarted process reads the same records again and forms the same batches
    const again = sinkOn(store.client, { max_batch_rows: 5 });
    await again.write('events', rows);
    await again.close();
    expect(await figures('redeliver')).toEqual({ stored: 10, events: 10, mints: 10 });
    // …or other batches: the server stores the copies, readers do not count them
    const resplit = sinkOn(store.client, { max_batch_rows: 3 });
    await resplit.write('events', [...rows].reverse());
    await resplit.close();
    const f = await figures('redeliver');
    expect(f.stored).toBeGreaterThan(10);
    expect({ events: f.events, mints: f.mints }).toEqual({ events: 10, mints: 10 });
  });

  it('encodes each row once, however many attempts its batch takes', async () => {
    let reads = 0;
    const rows = mints('encode-once', 3).map((e) => {
      const id = e.event_id;
      return Object.defineProperty({ ...e }, 'event_id', {
        enumerable: true,
        get: () => {
          reads++;
          return id;
        },
      });
    });
    const sink = sinkOn(losingReplies(store.client, { lose: 2 }, []));
    const w = sink.write('events', rows);
    await sink.flush();
    await w;
    expect(sink.stats.retries).toBe(2);
    expect(reads).toBe(3);
    expect(sink.stats.bytes_written).toBeGreaterThan(0);
    expect(await figures('encode-once')).toEqual({ stored: 3, events: 3, mints: 3 });
    await sink.close();
  });
});
