import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envoy, ENVOY_RECOMMENDED_JSON_FORMAT } from '../../src/normalize/envoy.js';
import { kong } from '../../src/normalize/kong.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const fixture = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`../fixtures/vendors/envoy/${name}.json`, import.meta.url), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(envoy.detect(raw)).toBe(true);
  expect(kong.detect(raw)).toBe(false);
  const parsed = envoy.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = envoy.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const makeJwt = (payload: Record<string, unknown>): string =>
  `${b64({ alg: 'ES256', typ: 'JWT', kid: 'envoy-test-kid' })}.${b64(payload)}.${Buffer.from('test-signature-not-valid').toString('base64url')}`;

const ISS = 'https://idp.acme.example/oauth2/default';
const JTI = 'jti-7f3e2d1c-orders-0001';

describe('envoy normalizer', () => {
  it('maps a request with jwt_authn payload metadata to a use', () => {
    expect(run(fixture('jwt-payload'))).toEqual([
      {
        event_id: 'envoy:0f3c9a1e-5b7d-4e2f-8a6c-9d1b3e5f7a20',
        source: 'envoy',
        platform: 'gateway',
        action: 'use',
        time: Date.parse('2025-03-04T10:15:05.117Z'),
        token: { fp: ctx.fingerprint('jti', JTI), kind: 'oauth_access' },
        issuer: '0oa8kq2wzbRvXy7Lm5d7',
        authority: ISS,
        subject: '0oa8kq2wzbRvXy7Lm5d7',
        audience: ['api://orders'],
        scopes_used: ['orders:read'],
        issued_at: 1741083000000,
        expires_at: 1741086600000,
        service: 'orders-api',
        network: { ip: '203.0.113.91' },
        user_agent: 'acme-orders-client/3.1.0',
        outcome: 'success',
        operation: 'GET /orders/v2/orders',
      },
    ]);
  });

  it('gives the same fp for a logged Authorization header carrying the same JWT', () => {
    const raw = fixture('jwt-payload');
    const payload = raw.jwt_payload;
    delete raw.jwt_payload;
    raw.authorization = `Bearer ${makeJwt(payload)}`;
    expect(run(raw)[0]!.token.fp).toBe(run(fixture('jwt-payload'))[0]!.token.fp);
  });

  it('uses a stable claims identity for JWTs without jti, across payload and full token', () => {
    const payloadOnly = fixture('jwt-payload');
    delete payloadOnly.jwt_payload.jti;
    const fullToken = fixture('jwt-payload');
    const p = { ...fullToken.jwt_payload };
    delete p.jti;
    delete fullToken.jwt_payload;
    fullToken.authorization = `Bearer ${makeJwt(p)}`;
    const a = run(payloadOnly)[0]!.token.fp;
    expect(run(fullToken)[0]!.token.fp).toBe(a);
    expect(a).not.toBe(ctx.fingerprint('jti', JTI));
  });

  it('maps an Entra token (uti, no jti) to the Entra sign-in fingerprint', () => {
    const raw = fixture('jwt-payload');
    raw.jwt_payload = {
      iss: 'https://sts.windows.net/6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0/',
      aud: 'api://orders',
      appid: '9e8d7c6b-5a49-4837-a261-5f4e3d2c1b0a',
      roles: ['Orders.Read.All'],
      uti: 'Qm9ndXNVdGlGb3JUZXN0cw',
      iat: 1741083000,
      exp: 1741086600,
    };
    const [e] = run(raw);
    expect(e).toMatchObject({
      token: { fp: ctx.fingerprint('entra:uti', 'Qm9ndXNVdGlGb3JUZXN0cw') },
      issuer: '9e8d7c6b-5a49-4837-a261-5f4e3d2c1b0a',
      scopes_used: ['Orders.Read.All'],
    });
  });

  it('accepts pseudo-header spellings, a string payload and untyped "-" values', () => {
    const raw = fixture('jwt-payload');
    raw[':method'] = raw.method;
    delete raw.method;
    raw.jwt_payload = JSON.stringify(raw.jwt_payload);
    raw.response_code = '403';
    raw.downstream_remote_address = '-';
    raw.x_forwarded_for = '198.51.100.5, 10.0.0.1';
    raw.upstream_cluster = '-';
    const [e] = run(raw);
    expect(e).toMatchObject({ outcome: 'failure', network: { ip: '198.51.100.5' }, service: 'api.acme.example' });
    expect(e!.token.fp).toBe(ctx.fingerprint('jti', JTI));
  });

  it('strips the port from IPv6 downstream addresses', () => {
    const raw = fixture('jwt-payload');
    raw.downstream_remote_address = '[2001:db8::7]:443';
    expect(run(raw)[0]!.network).toEqual({ ip: '2001:db8::7' });
  });

  it('returns [] for requests without a token identity', () => {
    expect(run(fixture('no-jwt'))).toEqual([]);
  });

  it('detects carefully and rejects partial lines with a clear reason', () => {
    expect(envoy.detect({ start_time: '2025-03-04T10:00:00Z', method: 'GET' })).toBe(false);
    expect(envoy.detect({ start_time: '2025-03-04T10:00:00Z', response_code: 200 })).toBe(false);

    const noMethod = fixture('jwt-payload');
    delete noMethod.method;
    const r1 = envoy.schema.safeParse(noMethod);
    expect(r1.success).toBe(false);
    expect(r1.error!.issues[0]).toMatchObject({ path: ['method'], message: 'an Envoy access log needs method (or :method)' });

    const badTime = fixture('jwt-payload');
    badTime.start_time = '-';
    const r2 = envoy.schema.safeParse(badTime);
    expect(r2.success).toBe(false);
    expect(r2.error!.issues[0]!.path).toEqual(['start_time']);
  });

  it('documents the recommended json_format with the jwt_authn payload', () => {
    expect(ENVOY_RECOMMENDED_JSON_FORMAT.jwt_payload).toBe('%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload)%');
    // every field the recommended format writes is one the schema knows
    const line = Object.fromEntries(Object.keys(ENVOY_RECOMMENDED_JSON_FORMAT).map((k) => [k, k === 'start_time' ? '2025-03-04T10:00:00Z' : k === 'response_code' ? 200 : k === 'jwt_payload' ? null : 'x']));
    expect(envoy.detect(line)).toBe(true);
    expect(envoy.schema.safeParse(line).success).toBe(true);
  });

  it('never leaks the bearer token into normalized output', () => {
    const raw = fixture('jwt-payload');
    const token = makeJwt(raw.jwt_payload);
    delete raw.jwt_payload;
    raw.authorization = `Bearer ${token}`;
    const out = JSON.stringify(run(raw));
    expect(out).not.toContain(token);
    expect(out).not.toContain(token.split('.')[1]!);
  });
});
