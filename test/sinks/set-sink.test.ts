/**
 * SET sink against a real local receiver: RFC 8417 claims, CAEP event types, RFC 9493 subjects,
 * RFC 8935 push (content type, bearer, 202), signatures checked with node:crypto, retries after
 * 503, permanent 400 rejections, and backpressure while the receiver stalls.
 */
import { createHmac, generateKeyPairSync, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED, DEFAULT_SET_EVENTS, SetSink, type SetSinkConfig } from '../../src/sinks/set-sink.js';
import { startReceiver, testAlert, until, type Receiver } from './http-receiver.js';

const NOW = Date.UTC(2026, 2, 2, 11, 0, 0);
let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function config(url: string, over: Partial<SetSinkConfig> = {}): SetSinkConfig {
  return {
    url: `${url}/events`,
    issuer: 'https://tokenwatch.example.com',
    audience: 'https://receiver.example.com',
    alg: 'none',
    bearer_env: 'SET_BEARER',
    min_severity: 'critical',
    events: { ...DEFAULT_SET_EVENTS },
    credential_type: 'password',
    delivery: { flush_interval_ms: 5, base_delay_ms: 1 },
    ...over,
  };
}

const env = { SET_BEARER: 'receiver-bearer-abc' };
const replay = testAlert({ name: 'r1', detector: 'token_replay', kind: 'use_after_revocation', severity: 'critical', issuer: 'https://acme.okta.com', subject: '00u1crm-sync' });
const context = testAlert({ name: 'c1', detector: 'credential_context', kind: 'new_context', severity: 'critical', issuer: 'app/payments', subject: 'payments-svc@acme.example' });
const lowReplay = testAlert({ name: 'r2', detector: 'token_replay', kind: 'replay', severity: 'high', issuer: 'x', subject: 'y' });
const spike = testAlert({ name: 's1', detector: 'mint_rate_spike', kind: 'mint_rate_spike', severity: 'critical', issuer: 'x', subject: 'y' });
const noSubject = testAlert({ name: 'r3', detector: 'token_replay', kind: 'use_after_revocation', severity: 'critical', issuer: 'role/ci' });

function decode(jwt: string): { header: Record<string, unknown>; claims: Record<string, unknown>; input: string; sig: string } {
  const [h, c, sig] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), claims: JSON.parse(Buffer.from(c!, 'base64url').toString()), input: `${h}.${c}`, sig: sig! };
}

describe('SetSink', () => {
  it('pushes one SET per qualifying alert with RFC 8417 claims, CAEP events and principal subjects', async () => {
    receiver = await startReceiver(() => ({ status: 202 }));
    const sink = new SetSink({ config: config(receiver.url), env, now: () => NOW });
    await sink.write([replay, context, lowReplay, spike, noSubject]);
    await sink.close();

    expect(receiver.requests).toHaveLength(2);
    expect(sink.setStats).toEqual({ sets: 2, skipped_no_subject: 1, rejected: 0 });
    for (const req of receiver.requests) {
      expect(req.method).toBe('POST');
      expect(req.path).toBe('/events');
      expect(req.headers['content-type']).toBe('application/secevent+jwt');
      expect(req.headers.authorization).toBe('Bearer receiver-bearer-abc');
      expect(req.body).not.toContain('tw1:'); // never a token fingerprint, let alone a token
    }
    const [first, second] = receiver.requests.map((r) => decode(r.body));
    expect(first!.header).toEqual({ alg: 'none', typ: 'secevent+jwt' });
    expect(first!.sig).toBe('');
    expect(first!.claims).toEqual({
      iss: 'https://tokenwatch.example.com',
      aud: 'https://receiver.example.com',
      iat: NOW / 1000,
      jti: expect.stringMatching(/^[0-9a-f]{32}$/),
      txn: replay.alert_id,
      sub_id: { format: 'iss_sub', iss: 'https://acme.okta.com', sub: '00u1crm-sync' },
      events: {
        [CAEP_SESSION_REVOKED]: { event_timestamp: Date.parse(replay.first_seen) / 1000, initiating_entity: 'policy', reason_admin: { en: `tokenwatch token_replay/use_after_revocation (critical): ${replay.title}` } },
      },
    });
    expect(second!.claims.sub_id).toEqual({ format: 'email', email: 'payments-svc@acme.example' });
    expect(second!.claims.events).toEqual({
      [CAEP_CREDENTIAL_CHANGE]: expect.objectContaining({ credential_type: 'password', change_type: 'revoke', initiating_entity: 'policy' }),
    });
    expect(first!.claims.jti).not.toBe(second!.claims.jti);
  });

  it('signs with RS256, ES256 and HS256 so the receiver verifies with node:crypto', async () => {
    receiver = await startReceiver(() => ({ status: 202 }));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keys = { RSA_PEM: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, EC_PEM: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, HS_SECRET: 'shared-secret-0123456789abcdef' };
    for (const [alg, key_env] of [['RS256', 'RSA_PEM'], ['ES256', 'EC_PEM'], ['HS256', 'HS_SECRET']] as const) {
      const sink = new SetSink({ config: config(receiver.url, { alg, key_env, kid: `k-${alg}` }), env: { ...env, ...keys }, now: () => NOW });
      await sink.write([replay]);
      await sink.close();
    }
    const [rs, es, hs] = receiver.requests.map((r) => decode(r.body));
    expect([rs!.header, es!.header, hs!.header]).toEqual([
      { alg: 'RS256', typ: 'secevent+jwt', kid: 'k-RS256' },
      { alg: 'ES256', typ: 'secevent+jwt', kid: 'k-ES256' },
      { alg: 'HS256', typ: 'secevent+jwt', kid: 'k-HS256' },
    ]);
    expect(verify('sha256', Buffer.from(rs!.input), rsa.publicKey, Buffer.from(rs!.sig, 'base64url'))).toBe(true);
    expect(verify('sha256', Buffer.from(es!.input), { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(es!.sig, 'base64url'))).toBe(true);
    expect(hs!.sig).toBe(createHmac('sha256', keys.HS_SECRET).update(hs!.input).digest('base64url'));
    // a tampered payload fails verification
    const tampered = `${rs!.input.split('.')[0]}.${Buffer.from(JSON.stringify({ ...rs!.claims, iss: 'evil' })).toString('base64url')}`;
    expect(verify('sha256', Buffer.from(tampered), rsa.publicKey, Buffer.from(rs!.sig, 'base64url'))).toBe(false);
  });

  it('retries after 503 with exponential backoff, resending the same SET (same jti)', async () => {
    receiver = await startReceiver((_req, i) => (i < 2 ? { status: 503, headers: { 'retry-after': '0' } } : { status: 202 }));
    const delays: number[] = [];
    const sink = new SetSink({ config: config(receiver.url, { delivery: { flush_interval_ms: 5, base_delay_ms: 100 } }), env, now: () => NOW, sleep: async (ms) => void delays.push(ms), random: () => 0.5 });
    await sink.write([replay]);
    await sink.close();
    expect(receiver.requests).toHaveLength(3);
    expect(new Set(receiver.requests.map((r) => decode(r.body).claims.jti)).size).toBe(1);
    expect(delays).toEqual([75, 150]); // equal jitter: step/2 + 0.5 * step/2, step = 100, 200
    expect(sink.stats.retries).toBe(2);
  });

  it('drops a SET the receiver rejects with 400 without retrying, and delivers the rest', async () => {
    receiver = await startReceiver((req) => (decode(req.body).claims.txn === replay.alert_id ? { status: 400, body: '{"err":"invalid_request","description":"bad subject"}' } : { status: 202 }));
    const sink = new SetSink({ config: config(receiver.url), env, now: () => NOW });
    await sink.write([replay, context]);
    await sink.close();
    expect(receiver.requests).toHaveLength(2);
    expect(sink.setStats.rejected).toBe(1);
    expect(sink.stats.retries).toBe(0);
  });

  it('applies backpressure while the receiver stalls: offers wait for queue room', async () => {
    receiver = await startReceiver(() => 'stall');
    const sink = new SetSink({ config: config(receiver.url, { delivery: { max_batch: 1, max_queue: 2, flush_interval_ms: 1, timeout_ms: 30_000 } }), env, now: () => NOW });
    const alerts = ['b1', 'b2', 'b3', 'b4'].map((name) => testAlert({ name, detector: 'token_replay', kind: 'replay', severity: 'critical', issuer: 'i', subject: name }));
    await sink.offer([alerts[0]!]);
    await sink.offer([alerts[1]!]);
    let thirdQueued = false;
    const third = sink.offer([alerts[2]!]).then(() => (thirdQueued = true));
    await until(() => receiver!.stalled() === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(thirdQueued).toBe(false); // the queue (2) is full: the producer waits
    expect(sink.queueDepth).toBe(2);
    receiver.respond = () => ({ status: 202 });
    receiver.release({ status: 202 });
    await third;
    await sink.offer([alerts[3]!]);
    await sink.close();
    expect(receiver.requests.map((r) => (decode(r.body).claims.sub_id as { sub: string }).sub)).toEqual(['b1', 'b2', 'b3', 'b4']);
    expect(sink.stats.delivered).toBe(4);
  });

  it('refuses a signing algorithm without a key', () => {
    expect(() => new SetSink({ config: config('http://127.0.0.1:1', { alg: 'RS256', key_env: 'MISSING' }), env })).toThrow(/key_env/);
  });
});
