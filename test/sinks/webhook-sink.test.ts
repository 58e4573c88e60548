/**
 * Webhook sink against a real local receiver: JSON body shape, HMAC signature over
 * "<timestamp>.<body>", OCSF alert format, batching, retries after 503 (Retry-After honoured),
 * permanent 4xx failures, and backpressure while the receiver stalls.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSink, webhookSignature, type WebhookSinkConfig } from '../../src/sinks/webhook-sink.js';
import { hygieneAlert } from '../../src/hygiene/hygiene-alert.js';
import { startReceiver, testAlert, until, type Receiver } from './http-receiver.js';

const NOW = Date.UTC(2026, 2, 2, 11, 0, 0);
const SECRET = 'webhook-secret-0123456789';
let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const config = (url: string, over: Partial<WebhookSinkConfig> = {}): WebhookSinkConfig => ({
  url: `${url}/hooks/tokenwatch`,
  secret_env: 'WEBHOOK_SECRET',
  min_severity: 'medium',
  alert_format: 'native',
  delivery: { flush_interval_ms: 5, base_delay_ms: 1 },
  ...over,
});
const env = { WEBHOOK_SECRET: SECRET };
const a1 = testAlert({ name: 'w1', detector: 'token_replay', kind: 'replay', severity: 'critical', issuer: 'i', subject: 's' });
const a2 = testAlert({ name: 'w2', detector: 'scope_drift', kind: 'scope_widened', severity: 'medium', issuer: 'i' });
const low = testAlert({ name: 'w3', detector: 'scope_drift', kind: 'scope_widened', severity: 'low', issuer: 'i' });
const finding = hygieneAlert({ finding: 'unrotated_credential', severity: 'high', owasp_nhi: 'NHI7', token_fp: 'tw1:00000000000000000000000000000001', token_kind: 'aws_access_key', issuer: 'user/legacy', subject: '', service: '', age_days: 400, seen_at: NOW / 1000 - 86400, detail: 'x' }, NOW / 1000);

/** The receiver's check: recompute the MAC over "<timestamp>.<raw body>" and compare in constant time. */
function verified(headers: Record<string, unknown>, body: string): boolean {
  const ts = String(headers['x-tokenwatch-timestamp']);
  const got = Buffer.from(String(headers['x-tokenwatch-signature']));
  const want = Buffer.from(`v1=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

describe('WebhookSink', () => {
  it('posts one signed JSON batch of alerts and hygiene findings above the severity floor', async () => {
    receiver = await startReceiver(() => ({ status: 204 }));
    const sink = new WebhookSink({ config: config(receiver.url, { headers: { 'x-team': 'soc' } }), env, now: () => NOW });
    await sink.write([a1, a2, low, finding]);
    await sink.close();
    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.path).toBe('/hooks/tokenwatch');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-team']).toBe('soc');
    expect(req.headers['x-tokenwatch-timestamp']).toBe(String(NOW / 1000));
    expect(verified(req.headers, req.body)).toBe(true);
    expect(verified(req.headers, req.body.replace('"critical"', '"low"'))).toBe(false);
    expect(JSON.parse(req.body)).toEqual({ alerts: [a1, a2], hygiene_findings: [finding] });
    expect(req.headers['x-tokenwatch-signature']).toBe(webhookSignature(SECRET, NOW / 1000, req.body));
  });

  it('sends alerts as OCSF Detection Findings with alert_format ocsf', async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    const sink = new WebhookSink({ config: config(receiver.url, { alert_format: 'ocsf' }), env, now: () => NOW });
    await sink.write([a1]);
    await sink.close();
    const body = JSON.parse(receiver.requests[0]!.body) as { alerts: { class_uid: number; finding_info: { uid: string } }[] };
    expect(body.alerts[0]!.class_uid).toBe(2004);
    expect(body.alerts[0]!.finding_info.uid).toBe(a1.alert_id);
  });

  it('retries 503s honouring Retry-After, and batches by max_batch', async () => {
    receiver = await startReceiver((_r, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 }));
    const delays: number[] = [];
    const sink = new WebhookSink({ config: config(receiver.url, { delivery: { max_batch: 2, flush_interval_ms: 5, base_delay_ms: 10 } }), env, now: () => NOW, sleep: async (ms) => void delays.push(ms) });
    await sink.write([a1, a2, a1]);
    await sink.close();
    expect(delays).toEqual([2000]); // Retry-After (2 s) beats the 5-10 ms backoff
    expect(receiver.requests.map((r) => (JSON.parse(r.body) as { alerts: unknown[] }).alerts.length)).toEqual([2, 2, 1]);
    expect(sink.stats).toMatchObject({ delivered: 3, batches: 2, retries: 1, failures: 0 });
  });

  it('fails a write at once on 401 (no retry) and after max_retries on persistent 500s', async () => {
    receiver = await startReceiver(() => ({ status: 401, body: 'bad signature' }));
    const sink = new WebhookSink({ config: config(receiver.url), env, now: () => NOW, sleep: async () => undefined });
    await expect(sink.write([a1])).rejects.toMatchObject({ code: 'sink_failed', message: expect.stringContaining('HTTP 401') });
    expect(receiver.requests).toHaveLength(1);
    receiver.respond = () => ({ status: 500 });
    const retrying = new WebhookSink({ config: config(receiver.url, { delivery: { max_retries: 3, flush_interval_ms: 1 } }), env, now: () => NOW, sleep: async () => undefined });
    await expect(retrying.write([a2])).rejects.toMatchObject({ code: 'sink_failed' });
    expect(receiver.requests).toHaveLength(1 + 4);
    expect(retrying.stats).toMatchObject({ retries: 3, failures: 1, items_failed: 1 });
    await expect(sink.close()).resolves.toBeUndefined();
  });

  it('holds writers back while the receiver stalls and drains in order once it answers', async () => {
    receiver = await startReceiver(() => 'stall');
    const sink = new WebhookSink({ config: config(receiver.url, { delivery: { max_batch: 2, max_queue: 3, flush_interval_ms: 1, timeout_ms: 30_000 } }), env, now: () => NOW });
    const alerts = ['q1', 'q2', 'q3', 'q4', 'q5'].map((name) => testAlert({ name, detector: 'token_replay', kind: 'replay', severity: 'high', issuer: 'i' }));
    await sink.offer(alerts.slice(0, 3));
    let admitted = false;
    const later = sink.offer(alerts.slice(3)).then(() => (admitted = true));
    await until(() => receiver!.stalled() === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(admitted).toBe(false);
    expect(sink.queueDepth).toBe(3);
    receiver.respond = () => ({ status: 200 });
    receiver.release({ status: 200 });
    await later;
    await sink.close();
    const delivered = receiver.requests.flatMap((r) => (JSON.parse(r.body) as { alerts: { summary: string }[] }).alerts.map((a) => a.summary));
    expect(delivered).toEqual(alerts.map((a) => a.summary));
  });

  it('retries a receiver that never answers (timeout) like a 5xx', async () => {
    receiver = await startReceiver((_r, i) => (i === 0 ? 'stall' : { status: 200 }));
    const sink = new WebhookSink({ config: config(receiver.url, { delivery: { timeout_ms: 100, flush_interval_ms: 1 } }), env, now: () => NOW, sleep: async () => undefined });
    await sink.write([a1]);
    await sink.close();
    expect(receiver.requests).toHaveLength(2);
    expect(sink.stats.retries).toBe(1);
  });
});
