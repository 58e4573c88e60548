import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kong, KONG_CUSTOM_FIELDS_BY_LUA } from '../../src/normalize/kong.js';
import { envoy } from '../../src/normalize/envoy.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const fixture = (dir: string, name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`../fixtures/vendors/${dir}/${name}.json`, import.meta.url), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(kong.detect(raw)).toBe(true);
  const parsed = kong.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = kong.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const makeJwt = (payload: Record<string, unknown>): string =>
  `${b64({ alg: 'RS256', typ: 'JWT', kid: 'test-kid-1' })}.${b64(payload)}.${Buffer.from('test-signature-not-valid').toString('base64url')}`;

const CLAIMS = {
  jti: 'jti-7f3e2d1c-orders-0001',
  iss: 'https://idp.acme.example/oauth2/default',
  sub: '0oa8kq2wzbRvXy7Lm5d7',
  aud: 'api://orders',
  client_id: '0oa8kq2wzbRvXy7Lm5d7',
  scp: ['orders:read'],
  iat: 1741083000,
  exp: 1741086600,
};
const JWT = makeJwt(CLAIMS);
const OPAQUE = 'opq_TestOnly_3fd1c0a9b8e7d6c5b4a39281';

function withFullJwt(): Record<string, any> {
  const raw = fixture('kong', 'redacted-with-claims');
  delete raw.tw_claims;
  raw.request.headers.authorization = `Bearer ${JWT}`;
  return raw;
}

describe('kong normalizer', () => {
  it('maps a request with logged claims (authorization redacted) to a use', () => {
    expect(run(fixture('kong', 'redacted-with-claims'))).toEqual([
      {
        event_id: 'kong:a1e0f6c2b4d84f3e9d7c5b3a19e7f0d2',
        source: 'kong',
        platform: 'gateway',
        action: 'use',
        time: 1741083305117,
        token: { fp: ctx.fingerprint('jti', CLAIMS.jti), kind: 'oauth_access' },
        issuer: '0oa8kq2wzbRvXy7Lm5d7',
        authority: 'https://idp.acme.example/oauth2/default',
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

  it('gives the same fp for the full JWT as for the logged jti/claims', () => {
    const [fromClaims] = run(fixture('kong', 'redacted-with-claims'));
    const [fromJwt] = run(withFullJwt());
    expect(fromJwt!.token.fp).toBe(fromClaims!.token.fp);
    expect(fromJwt!.token.hint).toBe('test-kid-1');
    const { token: _a, ...restJwt } = fromJwt!;
    const { token: _b, ...restClaims } = fromClaims!;
    expect(restJwt).toEqual(restClaims);

    const jtiOnly = fixture('kong', 'redacted-with-claims');
    delete jtiOnly.tw_claims;
    jtiOnly.tw_jti = CLAIMS.jti;
    jtiOnly.tw_iss = CLAIMS.iss;
    expect(run(jtiOnly)[0]!.token.fp).toBe(fromClaims!.token.fp);
  });

  it('accepts tw_claims logged as a JSON string', () => {
    const raw = fixture('kong', 'redacted-with-claims');
    raw.tw_claims = JSON.stringify(raw.tw_claims);
    expect(run(raw)).toEqual(run(fixture('kong', 'redacted-with-claims')));
  });

  it('correlates with Envoy logging the same JWT payload', () => {
    const [k] = run(withFullJwt());
    const envoyRaw = fixture('envoy', 'jwt-payload');
    const parsed = envoy.schema.safeParse(envoyRaw);
    if (!parsed.success) throw new Error(parsed.error.message);
    const [e] = envoy.normalize(parsed.data, ctx);
    expect(e!.token.fp).toBe(k!.token.fp);
  });

  it('fingerprints an opaque bearer token, and a logged sha256 in its own namespace', () => {
    const raw = fixture('kong', 'opaque-token-request');
    raw.request.headers.authorization = `Bearer ${OPAQUE}`;
    const [e] = run(raw);
    expect(e).toMatchObject({
      token: { fp: ctx.fingerprint('bearer', OPAQUE), kind: 'oauth_access' },
      issuer: 'billing-worker', // the Kong consumer, since the token names no client
      service: 'payments-api',
      outcome: 'failure',
      operation: 'POST /payments/v1/charges',
    });
    expect(e!.event_id).toMatch(/^kong:[0-9a-f]{32}$/);

    const shaOnly = fixture('kong', 'opaque-token-request');
    const sha = createHash('sha256').update(OPAQUE).digest('hex');
    shaOnly.tw_token_sha256 = sha;
    expect(run(shaOnly)[0]!.token.fp).toBe(ctx.fingerprint('bearer_sha256', sha));
  });

  it('returns [] without a token identity (no header, redacted header, Basic auth)', () => {
    expect(run(fixture('kong', 'no-token'))).toEqual([]);
    expect(run(fixture('kong', 'opaque-token-request'))).toEqual([]); // authorization: REDACTED
    const basic = fixture('kong', 'opaque-token-request');
    basic.request.headers.authorization = 'Basic dXNlcjpwYXNz';
    expect(run(basic)).toEqual([]);
  });

  it('rejects partial records with a clear reason', () => {
    const noStart = fixture('kong', 'no-token');
    delete noStart.started_at;
    const r1 = kong.schema.safeParse(noStart);
    expect(r1.success).toBe(false);
    expect(r1.error!.issues[0]!.path).toEqual(['started_at']);

    const noUri = fixture('kong', 'no-token');
    delete noUri.request.uri;
    delete noUri.request.url;
    const r2 = kong.schema.safeParse(noUri);
    expect(r2.success).toBe(false);
    expect(r2.error!.issues[0]!.message).toBe('request needs uri or url');
  });

  it('documents the custom_fields_by_lua snippet', () => {
    expect(KONG_CUSTOM_FIELDS_BY_LUA).toContain('custom_fields_by_lua');
    expect(KONG_CUSTOM_FIELDS_BY_LUA).toContain('tw_claims');
    expect(KONG_CUSTOM_FIELDS_BY_LUA).toContain('tw_token_sha256');
  });

  it('never leaks the bearer tokens into normalized output', () => {
    const opaque = fixture('kong', 'opaque-token-request');
    opaque.request.headers.authorization = `Bearer ${OPAQUE}`;
    const out = JSON.stringify([...run(withFullJwt()), ...run(opaque)]);
    expect(out).not.toContain(JWT);
    expect(out).not.toContain(JWT.split('.')[1]!);
    expect(out).not.toContain(OPAQUE);
  });
});
