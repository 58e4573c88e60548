import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/runtime/metrics.js';
import { startOpsServer, type OpsServer } from '../../src/runtime/http-server.js';

describe('runtime metrics', () => {
  it('exposes the documented series with bounded labels', async () => {
    let keys: Record<string, number> = { token_replay: 3, scope_drift: 2 };
    const m = createMetrics({ stateKeys: () => keys, queueDepths: () => ({ clickhouse: 42, kafka_alerts: 0 }) });
    m.countEventIn('cloudtrail-in', 5);
    m.countInvalid('cloudtrail-in', 'invalid_json');
    m.countInvalid('cloudtrail-in', 'not-a-code' as never);
    m.countAlert('token_replay', 'high');
    m.countAlert('tw1:0123456789abcdef0123456789abcdef', 'high');
    m.consumerLag.set({ topic: 'cloudtrail-in', partition: '0' }, 7);
    await m.timeSink('clickhouse', async () => 'ok');
    const text = await m.registry.metrics();

    expect(text).toContain('tokenwatch_events_in_total{source="cloudtrail-in"} 5');
    expect(text).toContain('tokenwatch_events_invalid_total{source="cloudtrail-in",code="invalid_json"} 1');
    expect(text).toContain('tokenwatch_events_invalid_total{source="cloudtrail-in",code="other"} 1');
    expect(text).toContain('tokenwatch_alerts_total{detector="token_replay",severity="high"} 1');
    // an unknown detector never becomes a label value (it could carry anything)
    expect(text).toContain('tokenwatch_alerts_total{detector="other",severity="high"} 1');
    expect(text).not.toContain('tw1:');
    expect(text).toContain('tokenwatch_consumer_lag{topic="cloudtrail-in",partition="0"} 7');
    expect(text).toContain('tokenwatch_sink_latency_seconds_count{sink="clickhouse"} 1');
    expect(text).toContain('tokenwatch_sink_queue_depth{sink="clickhouse"} 42');
    expect(text).toContain('tokenwatch_state_keys{detector="token_replay"} 3');
    expect(text).toContain('tokenwatch_state_keys{detector="scope_drift"} 2');

    // state keys are re-read on every scrape; vanished detectors disappear
    keys = { token_replay: 1 };
    const again = await m.registry.metrics();
    expect(again).toContain('tokenwatch_state_keys{detector="token_replay"} 1');
    expect(again).not.toContain('tokenwatch_state_keys{detector="scope_drift"}');
  });

  it('exports each thread\'s busy time as a counter that follows the threads\' own figures', async () => {
    let busy: Record<string, number> = { main: 1500, 'ingest-0': 250 };
    const m = createMetrics({ threadBusyMs: () => busy });
    expect(await m.registry.getSingleMetricAsString('tokenwatch_thread_busy_seconds_total')).toContain('tokenwatch_thread_busy_seconds_total{thread="main"} 1.5');
    busy = { main: 4000, 'ingest-0': 1250 };
    const text = await m.registry.getSingleMetricAsString('tokenwatch_thread_busy_seconds_total');
    expect(text).toContain('tokenwatch_thread_busy_seconds_total{thread="main"} 4');
    expect(text).toContain('tokenwatch_thread_busy_seconds_total{thread="ingest-0"} 1.25');
    // a thread replaced after a crash starts from 0 again: the counter never goes back
    busy = { main: 4500, 'ingest-0': 100 };
    const later = await m.registry.getSingleMetricAsString('tokenwatch_thread_busy_seconds_total');
    expect(later).toContain('tokenwatch_thread_busy_seconds_total{thread="main"} 4.5');
    expect(later).toContain('tokenwatch_thread_busy_seconds_total{thread="ingest-0"} 1.25');
  });

  it('times failed sink writes too and rethrows', async () => {
    const m = createMetrics();
    await expect(m.timeSink('kafka_alerts', async () => Promise.reject(new Error('broker down')))).rejects.toThrow('broker down');
    expect(await m.registry.metrics()).toContain('tokenwatch_sink_latency_seconds_count{sink="kafka_alerts"} 1');
  });

  it('keeps runtimes in one process apart', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.countEventIn('in', 2);
    expect(await a.registry.metrics()).toContain('tokenwatch_events_in_total{source="in"} 2');
    expect(await b.registry.metrics()).not.toContain('tokenwatch_events_in_total{source="in"}');
  });
});

describe('ops http server', () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves /metrics, /healthz and /readyz', async () => {
    const m = createMetrics();
    m.countEventIn('okta-in');
    let ready = { ready: false, reasons: ['consumer has not joined its group'] };
    server = await startOpsServer({ host: '127.0.0.1', port: 0, registry: m.registry, readiness: () => ready });
    expect(server.port).toBeGreaterThan(0);

    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('tokenwatch_events_in_total{source="okta-in"} 1');

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready', reasons: ['consumer has not joined its group'] });

    ready = { ready: true, reasons: [] };
    const isReady = await fetch(`${server.url}/readyz`);
    expect(isReady.status).toBe(200);
    expect(((await isReady.json()) as { status: string }).status).toBe('ready');

    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});
