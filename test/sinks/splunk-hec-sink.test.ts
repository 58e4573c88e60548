/**
 * Splunk HEC sink against a real local receiver that answers like HEC: the event endpoint,
 * `Authorization: Splunk <token>`, the concatenated-JSON batch body, retries on 503 "Server is
 * busy" (code 9), a bad token failing at once, and backpressure while the collector stalls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SplunkHecSink, type SplunkHecSinkConfig } from '../../src/sinks/splunk-hec-sink.js';
import { hygieneAlert } from '../../src/hygiene/hygiene-alert.js';
import { startReceiver, testAlert, until, type Receiver } from './http-receiver.js';

const TOKEN = '11111111-2222-3333-4444-555555555555';
let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const config = (url: string, over: Partial<SplunkHecSinkConfig> = {}): SplunkHecSinkConfig => ({
  url,
  token_env: 'SPLUNK_HEC_TOKEN',
  index: 'security',
  source: 'tokenwatch',
  sourcetype: 'tokenwatch:alert',
  min_severity: 'low',
  alert_format: 'native',
  delivery: { flush_interval_ms: 5, base_delay_ms: 1 },
  ...over,
});
const env = { SPLUNK_HEC_TOKEN: TOKEN };
const ok = { status: 200, body: '{"text":"Success","code":0}' };
/** HEC-like: the token is checked first. */
const hec = (req: { headers: Record<string, unknown>; path: string }) =>
  req.headers.authorization === `Splunk ${TOKEN}` && req.path === '/services/collector/event' ? ok : { status: 403, body: '{"text":"Invalid token","code":4}' };

const a1 = testAlert({ name: 'h1', detector: 'token_replay', kind: 'replay', severity: 'critical', issuer: 'i', subject: 's' });
const a2 = testAlert({ name: 'h2', detector: 'scope_drift', kind: 'scope_widened', severity: 'low', issuer: 'i' });
const finding = hygieneAlert({ finding: 'never_used', severity: 'medium', owasp_nhi: 'NHI1', token_fp: 'tw1:00000000000000000000000000000002', token_kind: 'api_key', issuer: 'okta/org', subject: 'bot', service: '', age_days: 20, seen_at: 1_772_000_000, detail: 'x' }, 1_772_400_000);

const events = (body: string) => body.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('SplunkHecSink', () => {
  it('posts HEC batch events with Splunk auth, event time, index, source and sourcetype', async () => {
    receiver = await startReceiver(hec);
    const sink = new SplunkHecSink({ config: config(receiver.url, { host: 'tw-1' }), env });
    await sink.write([a1, a2, finding]);
    await sink.close();
    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.path).toBe('/services/collector/event');
    expect(req.headers.authorization).toBe(`Splunk ${TOKEN}`);
    expect(events(req.body)).toEqual([
      { time: Date.parse(a1.first_seen) / 1000, source: 'tokenwatch', sourcetype: 'tokenwatch:alert', index: 'security', host: 'tw-1', event: a1 },
      { time: Date.parse(a2.first_seen) / 1000, source: 'tokenwatch', sourcetype: 'tokenwatch:alert', index: 'security', host: 'tw-1', event: a2 },
      { time: 1_772_000_000, source: 'tokenwatch', sourcetype: 'tokenwatch:alert:hygiene', index: 'security', host: 'tw-1', event: finding },
    ]);
  });

  it('accepts a URL that already names the endpoint and sends OCSF findings when asked', async () => {
    receiver = await startReceiver(hec);
    const sink = new SplunkHecSink({ config: config(`${receiver.url}/services/collector/event`, { alert_format: 'ocsf' }), env });
    await sink.write([a1]);
    await sink.close();
    const [ev] = events(receiver.requests[0]!.body);
    expect((ev!.event as { class_uid: number }).class_uid).toBe(2004);
  });

  it('retries "server is busy" 503s with exponential backoff', async () => {
    receiver = await startReceiver((req, i) => (i < 3 ? { status: 503, body: '{"text":"Server is busy","code":9}' } : hec(req)));
    const delays: number[] = [];
    const sink = new SplunkHecSink({ config: config(receiver.url, { delivery: { base_delay_ms: 40, flush_interval_ms: 1 } }), env, sleep: async (ms) => void delays.push(ms), random: () => 0 });
    await sink.write([a1, a2]);
    await sink.close();
    expect(delays).toEqual([20, 40, 80]);
    expect(receiver.requests).toHaveLength(4);
    expect(new Set(receiver.requests.map((r) => r.body)).size).toBe(1); // the same batch each time
  });

  it('fails at once on an invalid token (403)', async () => {
    receiver = await startReceiver(hec);
    const sink = new SplunkHecSink({ config: config(receiver.url), env: { SPLUNK_HEC_TOKEN: 'wrong' }, sleep: async () => undefined });
    await expect(sink.write([a1])).rejects.toMatchObject({ code: 'sink_failed', message: expect.stringContaining('Invalid token') });
    expect(receiver.requests).toHaveLength(1);
    await sink.close();
  });

  it('refuses to start without the token env var', () => {
    expect(() => new SplunkHecSink({ config: config('http://127.0.0.1:1'), env: {} })).toThrow(/SPLUNK_HEC_TOKEN/);
  });

  it('blocks producers while the collector stalls, then delivers everything', async () => {
    receiver = await startReceiver(() => 'stall');
    const sink = new SplunkHecSink({ config: config(receiver.url, { delivery: { max_batch: 1, max_queue: 1, flush_interval_ms: 1, timeout_ms: 30_000 } }), env });
    await sink.offer([a1]);
    let second = false;
    const p = sink.offer([a2]).then(() => (second = true));
    await until(() => receiver!.stalled() === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(second).toBe(false);
    receiver.respond = hec;
    receiver.release(ok);
    await p;
    await sink.close();
    expect(receiver.requests.map((r) => (events(r.body)[0]!.event as { alert_id: string }).alert_id)).toEqual([a1.alert_id, a2.alert_id]);
  });
});
