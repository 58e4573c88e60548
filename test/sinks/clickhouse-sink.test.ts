/**
 * ClickHouseSink against a real ClickHouse server (CLICKHOUSE_URL, default the local 18.16 from
 * scripts/services.sh). Outages are real: a closed port, or a small node:http fault injector in
 * front of the real server that fails (HTTP 503 / connection reset) or holds requests, then
 * forwards them. Backoff delays go through an injected sleep so the test records them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEvent } from '../../schemas/token-event.js';
import { HOUR, MIN, ev } from '../../detectors/case-helpers.js';
import { TokenwatchError } from '../../src/core/errors.js';
import { ClickHouseSink, clickHouseErrorCode, type ClickHouseSinkConfig } from '../../src/sinks/clickhouse-sink.js';
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse-client.js';
import { migrate } from '../../src/store/migrations.js';
import { timePrecisionFor, type TimePrecision } from '../../src/store/rows.js';
import { makeAlert } from '../store/store-fixtures.js';

const url = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:18123';
const database = `tw_test_sink_${process.pid}`;
const NOW = Math.floor(Date.now() / HOUR) * HOUR;

let direct: StoreClient;
let precision: TimePrecision;
const extraClients: StoreClient[] = [];
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  const res = await fetch(new URL('/ping', url)).catch((e: unknown) => e as Error);
  if (res instanceof Error || !res.ok) {
    throw new Error(
      `ClickHouse server not reachable at ${url} (${res instanceof Error ? res.message : `HTTP ${res.status}`}): ` +
        'start it with `scripts/services.sh up` or set CLICKHOUSE_URL',
    );
  }
  direct = await createStoreClient({ url, username: process.env.CLICKHOUSE_USER, password: process.env.CLICKHOUSE_PASSWORD });
  await direct.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  precision = timePrecisionFor((await migrate(direct.client, { database })).features);
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  for (const c of extraClients) await c.close();
  if (direct) {
    await direct.client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
    await direct.close();
  }
});

// ---- helpers ---------------------------------------------------------------------------

function events(tag: string, n: number): TokenEvent[] {
  return Array.from({ length: n }, (_, i) =>
    ev({ event_id: `sinktest:${tag}:${i}`, time: NOW - 10 * MIN + i * 1000, token: `${tag}-${i}`, issuer: `role/${tag}`, action: 'mint' }),
  );
}

async function storedCount(tag: string): Promise<number> {
  const rs = await direct.client.query({
    query: `SELECT toUInt32(count()) AS n FROM ${database}.token_events WHERE event_id LIKE 'sinktest:${tag}:%'`,
    format: 'JSONEachRow',
  });
  return (await rs.json<{ n: number }>())[0]!.n;
}

async function clientFor(target: string): Promise<StoreClient> {
  const c = await createStoreClient({ url: target, username: process.env.CLICKHOUSE_USER, password: process.env.CLICKHOUSE_PASSWORD });
  extraClients.push(c);
  return c;
}

function sinkOn(store: StoreClient, config: Partial<ClickHouseSinkConfig>, extra: { sleeps?: number[]; random?: () => number; database?: string } = {}) {
  return new ClickHouseSink({
    client: store.client,
    database: extra.database ?? database,
    time_precision: precision,
    config: { max_batch_rows: 100, flush_interval_ms: 60_000, max_queue_rows: 1000, max_retries: 3, base_delay_ms: 100, ...config },
    ...(extra.sleeps ? { sleep: async (ms: number) => void extra.sleeps!.push(ms) } : {}),
    ...(extra.random ? { random: extra.random } : {}),
  });
}

function track<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  const promise = p.finally(() => {
    settled = true;
  });
  promise.catch(() => undefined);
  return { settled: () => settled, promise };
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** http503 / reset: the request never reaches the server; lost_ack: it does, then the reply is replaced by a reset. */
type Fault = 'http503' | 'reset' | 'lost_ack';
interface FaultProxy {
  url: string;
  /** Fail the next requests with these faults, in order. */
  fail(...faults: Fault[]): void;
  /** Hold requests (unanswered) until release(). */
  hold(): void;
  release(): void;
  readonly inserts: number;
  /** Bodies of the INSERT requests, in arrival order. */
  readonly insertBodies: string[];
  readonly held: number;
  close(): Promise<void>;
}

/** A fault injector in front of the real server: fails or holds requests, forwards the rest untouched. */
async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  const faults: Fault[] = [];
  let holding = false;
  let waiting: (() => void)[] = [];
  let inserts = 0;
  const insertBodies: string[] = [];
  const server = http.createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://proxy').searchParams.get('query') ?? '';
    if (/^INSERT/i.test(query)) inserts++;
    // called where the body is consumed (a held request must keep its body for later)
    const recordBody = () => {
      if (!/^INSERT/i.test(query)) return;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => insertBodies.push(Buffer.concat(chunks).toString('utf8')));
    };
    const fault = faults.shift();
    if (fault === 'lost_ack') {
      const upstream = http.request({ hostname: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        up.resume();
        up.on('end', () => req.socket.destroy()); // the insert is done; the client never hears so
      });
      upstream.on('error', () => req.socket.destroy());
      recordBody();
      req.pipe(upstream);
      return;
    }
    if (fault) {
      recordBody();
      req.resume();
      req.on('end', () => {
        if (fault === 'reset') req.socket.destroy();
        else res.writeHead(503, { 'content-type': 'text/plain' }).end('injected fault: service unavailable');
      });
      return;
    }
    const forward = () => {
      const upstream = http.request(
        { hostname: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', (e) => res.destroy(e));
      recordBody();
      req.pipe(upstream);
    };
    if (holding) waiting.push(forward);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const proxy: FaultProxy = {
    url: `http://127.0.0.1:${port}`,
    fail: (...f) => void faults.push(...f),
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      const w = waiting;
      waiting = [];
      for (const f of w) f();
    },
    get inserts() {
      return inserts;
    },
    insertBodies,
    get held() {
      return waiting.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  proxies.push(proxy);
  return proxy;
}

async function closedPortUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

// ---- tests -----------------------------------------------------------------------------

describe('ClickHouseSink batching', () => {
  it('resolves write() once its rows are stored, in batches of max_batch_rows', async () => {
    const sink = sinkOn(direct, { max_batch_rows: 3 });
    await sink.write('events', events('size', 7));
    expect(await storedCount('size')).toBe(7);
    expect(sink.stats).toMatchObject({ rows_written: 7, batches_written: 3, retries: 0, failures: 0 });
    expect(sink.stats.rows_written_by_kind.events).toBe(7);
    expect(sink.queueDepth).toBe(0);
    expect(sink.lastLatencyMs).toBeGreaterThanOrEqual(0);
    await sink.close();
  });

  it('writes a partial batch after flush_interval_ms', async () => {
    const sink = sinkOn(direct, { flush_interval_ms: 300 });
    const started = Date.now();
    const w = track(sink.write('events', events('timer', 2)));
    await tick(20);
    expect(w.settled()).toBe(false);
    expect(sink.queueDepth).toBe(2);
    expect(await storedCount('timer')).toBe(0);
    await w.promise;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await storedCount('timer')).toBe(2);
    expect(sink.stats.batches_written).toBe(1);
    await sink.close();
  });

  it('flush() writes what is queued without waiting for the timer', async () => {
    const sink = sinkOn(direct, {});
    const w = track(sink.write('events', events('flush', 4)));
    await sink.flush();
    expect(w.settled()).toBe(true);
    await w.promise;
    expect(await storedCount('flush')).toBe(4);
    await sink.close();
  });

  it('close() flushes, then refuses writes', async () => {
    const sink = sinkOn(direct, {});
    const w = sink.write('events', events('close', 3));
    await sink.close();
    await w;
    expect(await storedCount('close')).toBe(3);
    await expect(sink.write('events', events('close-after', 1))).rejects.toMatchObject({ code: 'sink_failed' });
    expect(await storedCount('close-after')).toBe(0);
  });

  it('a row that cannot be converted fails its own write and queues nothing', async () => {
    const sink = sinkOn(direct, {});
    const bad = { ...makeAlert({ name: 'bad', detector: 'token_replay', kind: 'replay', severity: 'high', first_seen: NOW }), first_seen: 'not a time' };
    await expect(sink.write('alerts', [bad])).rejects.toMatchObject({ code: 'sink_failed' });
    expect(sink.queueDepth).toBe(0);
    await sink.close();
  });

  it('rejects invalid configuration', () => {
    expect(() => sinkOn(direct, { max_batch_rows: 0 })).toThrow(TokenwatchError);
    expect(() => sinkOn(direct, { max_retries: -1 })).toThrow(/max_retries/);
  });
});

describe('ClickHouseSink retries', () => {
  it('rides out a briefly failing server with exponential backoff and jitter', async () => {
    const proxy = await startFaultProxy(url);
    const sleeps: number[] = [];
    const sink = sinkOn(await clientFor(proxy.url), { max_retries: 5, base_delay_ms: 100 }, { sleeps, random: () => 0.5 });
    proxy.fail('http503', 'reset', 'http503');
    const rows = events('retry', 5);
    const w = sink.write('events', rows);
    await sink.flush();
    await w;
    // step = base * 2^attempt; delay = step/2 + random * step/2
    expect(sleeps).toEqual([75, 150, 300]);
    expect(sink.stats).toMatchObject({ retries: 3, failures: 0, rows_written: 5, batches_written: 1 });
    expect(proxy.inserts).toBe(4);
    expect(await storedCount('retry')).toBe(5);
    await sink.close();
  });

  it('rejects with sink_failed after max_retries when the server stays unreachable', async () => {
    const sleeps: number[] = [];
    const sink = sinkOn(await clientFor(await closedPortUrl()), { max_retries: 3, base_delay_ms: 100, max_delay_ms: 250 }, { sleeps, random: () => 0 });
    const w = sink.write('events', events('down', 3));
    const flushed = sink.flush();
    const err = await w.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenwatchError);
    expect(err).toMatchObject({ code: 'sink_failed' });
    expect(String((err as Error).cause)).toMatch(/ECONNREFUSED/);
    await expect(flushed).rejects.toMatchObject({ code: 'sink_failed' });
    expect(sleeps).toEqual([50, 100, 125]); // capped at max_delay_ms
    expect(sink.stats).toMatchObject({ retries: 3, failures: 1, rows_failed: 3, rows_written: 0 });
    expect(sink.queueDepth).toBe(0);
    await sink.close();
  });

  it('fails at once on errors retrying cannot fix (unknown database)', async () => {
    const sleeps: number[] = [];
    const sink = sinkOn(direct, { max_retries: 5 }, { sleeps, database: `tw_missing_${process.pid}` });
    const w = sink.write('events', events('permanent', 2));
    await expect(sink.flush()).rejects.toMatchObject({ code: 'sink_failed' });
    await expect(w).rejects.toThrow(/tw_missing/);
    expect(sleeps).toEqual([]);
    expect(sink.stats).toMatchObject({ retries: 0, failures: 1 });
    await sink.close();
  });
});

describe('ClickHouseSink idempotent retries', () => {
  it('a retry after an insert that landed but whose reply was lost changes no figure', async () => {
    const proxy = await startFaultProxy(url);
    const sink = sinkOn(await clientFor(proxy.url), { max_retries: 3 }, { sleeps: [], random: () => 0.5 });
    proxy.fail('lost_ack');
    const w = sink.write('events', events('lostack', 6));
    await sink.flush();
    await w;
    expect(sink.stats).toMatchObject({ retries: 1, failures: 0, rows_written: 6, batches_written: 1 });
    expect(proxy.inserts).toBe(2);
    // the retry sent the bytes of the first attempt: encoded once
    expect(proxy.insertBodies[1]).toBe(proxy.insertBodies[0]);
    const rs = await direct.client.query({
      query: `SELECT
  toUInt32((SELECT count() FROM ${database}.token_events WHERE issuer = 'role/lostack')) AS stored,
  toUInt32((SELECT uniqExact(event_id) FROM ${database}.token_events WHERE issuer = 'role/lostack')) AS events,
  toUInt32((SELECT sum(mints) FROM ${database}.issuer_mints_per_minute WHERE issuer = 'role/lostack')) AS mints`,
      format: 'JSONEachRow',
    });
    const [f] = await rs.json<{ stored: number; events: number; mints: number }>();
    // 18.16 has no insert deduplication: the copy is stored (until a merge drops it), but nothing counts it
    expect(f!.stored).toBeGreaterThanOrEqual(6);
    expect({ events: f!.events, mints: f!.mints }).toEqual({ events: 6, mints: 6 });
    await sink.close();
  });
});

describe('clickHouseErrorCode', () => {
  it('reads the code from the client, from chDB and from an 18.x message; not from network errors', () => {
    expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: '60' }))).toBe('60');
    expect(clickHouseErrorCode(Object.assign(new Error('x'), { code: 'CHDB_QUERY', clickhouseCode: 81 }))).toBe('81');
    expect(clickHouseErrorCode(new Error("Code: 81, e.displayText() = DB::Exception: Database x doesn't exist"))).toBe('81');
    expect(clickHouseErrorCode(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(clickHouseErrorCode(new Error('injected fault: service unavailable'))).toBeUndefined();
  });
});

describe('ClickHouseSink backpressure', () => {
  it('makes write() wait while max_queue_rows are not yet stored, then proceeds', async () => {
    const proxy = await startFaultProxy(url);
    const sink = sinkOn(await clientFor(proxy.url), { max_queue_rows: 4, max_batch_rows: 4, flush_interval_ms: 10 });
    proxy.hold();
    const first = track(sink.write('events', events('bp-a', 4)));
    await until(() => proxy.held === 1); // the full batch is on its way, stuck at the server
    const second = track(sink.write('events', events('bp-b', 2)));
    await tick(150);
    expect(first.settled()).toBe(false);
    expect(second.settled()).toBe(false);
    expect(sink.queueDepth).toBe(4); // the waiting write is not buffered
    expect(await storedCount('bp-b')).toBe(0);

    proxy.release();
    await first.promise;
    expect(await storedCount('bp-a')).toBe(4);
    await second.promise;
    expect(await storedCount('bp-b')).toBe(2);
    expect(sink.queueDepth).toBe(0);
    expect(sink.stats.batches_written).toBe(2);
    await sink.close();
  });
});
