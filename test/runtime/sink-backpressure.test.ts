/**
 * Readiness and backpressure signals of the ClickHouse sink during a real outage: the sink talks
 * to a port that refuses connections, or through a small node:http forwarder to the real server
 * (CLICKHOUSE_URL) that drops connections while "down". The sink reports `failing` from its
 * first failed attempt (readiness turns red while it still retries), and the age of its oldest
 * unstored row grows although the queue stays short, which is what pauses consumption.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR, MIN, ev } from '../../detectors/case-helpers.js';
import { ClickHouseSink } from '../../src/sinks/clickhouse-sink.js';
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse-client.js';
import { migrate } from '../../src/store/migrations.js';
import { timePrecisionFor, type TimePrecision } from '../../src/store/rows.js';
import { BackpressureController } from '../../src/runtime/backpressure.js';

const url = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:18123';
const database = `tw_test_backpressure_${process.pid}`;
const NOW = Math.floor(Date.now() / HOUR) * HOUR;
const clients: StoreClient[] = [];
let precision: TimePrecision;
let direct: StoreClient;

beforeAll(async () => {
  direct = await createStoreClient({ url, username: process.env.CLICKHOUSE_USER, password: process.env.CLICKHOUSE_PASSWORD });
  clients.push(direct);
  precision = timePrecisionFor((await migrate(direct.client, { database })).features);
});

afterAll(async () => {
  await direct?.client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
  for (const c of clients) await c.close();
});

const events = (tag: string, n: number) => Array.from({ length: n }, (_, i) => ev({ event_id: `bp:${tag}:${i}`, time: NOW - 10 * MIN + i * 1000, token: `${tag}-${i}`, issuer: `role/${tag}`, action: 'mint' }));
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function refusedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port; // nothing listens there now: connections are refused
}

/** Forwards to the real server; while `down`, destroys every connection. */
async function switchableForwarder(target: string) {
  const t = new URL(target);
  const state = { down: true };
  const server = http.createServer((req, res) => {
    if (state.down) {
      req.socket.destroy();
      return;
    }
    const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('sink outage → readiness and backpressure signals', () => {
  it('a refused connection: failing from the first attempt, the oldest row ages past the limit while the queue stays short', async () => {
    const port = await refusedPort();
    const store = await createStoreClient({ url: `http://127.0.0.1:${port}` });
    clients.push(store);
    const sink = new ClickHouseSink({ client: store.client, database, time_precision: precision, config: { flush_interval_ms: 10, max_retries: 20, base_delay_ms: 50, max_delay_ms: 100, max_queue_rows: 40_000 } });
    expect(sink.failing).toBeUndefined();
    expect(sink.oldestUnstoredAgeMs()).toBe(0);
    const write = sink.write('events', events('refused', 20));
    write.catch(() => undefined);
    const bp = new BackpressureController({ maxQueueRows: 40_000, maxTimeToStoreMs: 300 });
    await tick(150);
    expect(sink.failing?.message).toMatch(/ECONNREFUSED|connect/i); // still retrying, already red
    expect(sink.stats.failures).toBe(0);
    expect(bp.decide({ depth: sink.queueDepth, oldestAgeMs: sink.oldestUnstoredAgeMs() })).toBeUndefined();
    await tick(250);
    const backlog = { depth: sink.queueDepth, oldestAgeMs: sink.oldestUnstoredAgeMs() };
    expect(backlog.depth).toBe(20); // far below 80 % of max_queue_rows: the queue alone would never pause
    expect(backlog.oldestAgeMs).toBeGreaterThanOrEqual(300);
    expect(bp.decide(backlog)).toBe('pause');
    expect(bp.reason).toBe('time_to_store');
    await expect(write).rejects.toMatchObject({ code: 'sink_failed' });
    await sink.close().catch(() => undefined);
  });

  it('an outage that ends: failing clears, the rows are stored, backpressure resumes', async () => {
    const fwd = await switchableForwarder(url);
    try {
      const store = await createStoreClient({ url: fwd.url, username: process.env.CLICKHOUSE_USER, password: process.env.CLICKHOUSE_PASSWORD });
      clients.push(store);
      const sink = new ClickHouseSink({ client: store.client, database, time_precision: precision, config: { flush_interval_ms: 10, max_retries: 50, base_delay_ms: 50, max_delay_ms: 100, max_queue_rows: 1000 } });
      const bp = new BackpressureController({ maxQueueRows: 1000, maxTimeToStoreMs: 200 });
      const write = sink.write('events', events('recover', 10));
      await tick(400);
      expect(sink.failing).toBeDefined();
      expect(bp.decide({ depth: sink.queueDepth, oldestAgeMs: sink.oldestUnstoredAgeMs() })).toBe('pause');
      expect(bp.decide({ depth: sink.queueDepth, oldestAgeMs: sink.oldestUnstoredAgeMs() })).toBeUndefined(); // still behind: stays paused
      fwd.state.down = false;
      await write;
      expect(sink.failing).toBeUndefined();
      expect(sink.queueDepth).toBe(0);
      expect(sink.oldestUnstoredAgeMs()).toBe(0);
      expect(bp.decide({ depth: sink.queueDepth, oldestAgeMs: sink.oldestUnstoredAgeMs() })).toBe('resume');
      const rs = await direct.client.query({ query: `SELECT toUInt32(count()) AS n FROM ${database}.token_events WHERE event_id LIKE 'bp:recover:%'`, format: 'JSONEachRow' });
      expect((await rs.json<{ n: number }>())[0]!.n).toBe(10);
      await sink.close();
    } finally {
      await fwd.close();
    }
  });

  it('the queue signal still pauses on its own, and resume needs both signals recovered', () => {
    const bp = new BackpressureController({ maxQueueRows: 100, maxTimeToStoreMs: 5000 });
    expect(bp.decide({ depth: 79, oldestAgeMs: 10 })).toBeUndefined();
    expect(bp.decide({ depth: 80, oldestAgeMs: 10 })).toBe('pause');
    expect(bp.reason).toBe('queue');
    expect(bp.decide({ depth: 40, oldestAgeMs: 3000 })).toBeUndefined(); // queue drained, rows still old
    expect(bp.decide({ depth: 40, oldestAgeMs: 100 })).toBe('resume');
    expect(bp.pauses).toBe(1);
  });
});
