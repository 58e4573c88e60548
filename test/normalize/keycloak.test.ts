import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keycloak } from '../../src/normalize/keycloak.js';
import { gatewayTokenIdentity } from '../../src/normalize/bearer.js';
import { FORMATS } from '../../src/normalize/index.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeText, decodeValue, detectFormat } from '../../src/pipeline/decode.js';
import { TokenEvent } from '../../schemas/token-event.js';
import { DetectionEngine, DEFAULT_ENGINE_OPTIONS } from '../../src/pipeline/detection-engine.js';
import { tokenReplay } from '../../detectors/token-replay/index.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const DIR = new URL('../fixtures/vendors/keycloak/', import.meta.url);
const VENDORS = new URL('../fixtures/vendors/', import.meta.url);
const fixture = (name: string): Record<string, any> => JSON.parse(readFileSync(new URL(`${name}.json`, DIR), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(keycloak.detect(raw)).toBe(true);
  const parsed = keycloak.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = keycloak.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

const jti = (id: string): string => ctx.fingerprint('jti', id);
const REALM = '5c1e9a40-2b7d-4f3e-8a61-9d0c7b2e4f18';
const USER = '8d3a6f21-94c0-4b5e-a7d2-1f6e8c9b0a34';
const SESSION = '2f7b9c14-5e3a-4d81-b6f0-7a2c9e4d1b53';
const ACCESS_1 = 'onrtac:7e4b2d19-3c6a-4f08-9b1e-5d2a8c7f6e40';
const REFRESH_1 = '3a9c5e71-8b2d-4f6e-a0c4-9e7b1d3f5a28';
const ACCESS_2 = 'ortrt:9f1c3e5a-7b2d-4e60-8a9c-1d3f5b7e9a02';
const REFRESH_2 = 'c4e6a8b0-1d3f-4a5c-9e7b-2f4d6a8c0e13';
const EXCHANGED = 'te:4c6e8a0c-2e4a-4c6e-9a0c-6e8a0c2e4a94';

describe('keycloak normalizer', () => {
  it('maps CODE_TO_TOKEN to mints of the access token and the refresh token, in the jti namespace', () => {
    const common = {
      source: 'keycloak',
      platform: 'keycloak',
      action: 'mint',
      time: 1741083330123,
      issuer: 'billing-portal',
      authority: `keycloak:${REALM}`,
      subject: USER,
      scopes_granted: ['openid', 'profile', 'email'],
      network: { ip: '198.51.100.23' },
      outcome: 'success',
      operation: 'CODE_TO_TOKEN',
    };
    expect(run(fixture('code-to-token'))).toEqual([
      { ...common, event_id: 'keycloak:0b8f3c52-6f1e-4a7d-9d2b-3e5c1a7f9b01', token: { fp: jti(ACCESS_1), kind: 'oauth_access' } },
      { ...common, event_id: 'keycloak:0b8f3c52-6f1e-4a7d-9d2b-3e5c1a7f9b01:1', token: { fp: jti(REFRESH_1), kind: 'oauth_refresh' } },
    ]);
  });

  it('gives a Keycloak token id the fingerprint a gateway computes from the JWT jti', () => {
    const [access] = run(fixture('code-to-token'));
    const atGateway = gatewayTokenIdentity({ payload: { jti: ACCESS_1, iss: 'https://sso.example.com/realms/payments', sub: USER } }, ctx.fingerprint);
    expect(atGateway?.fp).toBe(access!.token.fp);
  });

  it('maps REFRESH_TOKEN to mints whose parent is the redeemed refresh token; the new refresh token is one-time', () => {
    const [access, refresh] = run(fixture('refresh-token-rotated'));
    expect(access).toMatchObject({ action: 'mint', token: { fp: jti(ACCESS_2), kind: 'oauth_access' }, parent_fp: jti(REFRESH_1) });
    expect(refresh).toMatchObject({ action: 'mint', token: { fp: jti(REFRESH_2), kind: 'oauth_refresh', one_time: true }, parent_fp: jti(REFRESH_1) });
    expect(access!.token.one_time).toBeUndefined();
  });

  it('reads the jboss-logging JSON log record as the same event', () => {
    const fromLog = run(fixture('jboss-log-refresh-token'));
    const fromApi = run(fixture('refresh-token-rotated'));
    // the log line carries no event id: the rest is identical
    const strip = (es: TokenEvent[]) => es.map(({ event_id: _id, ...rest }) => rest);
    expect(strip(fromLog)).toEqual(strip(fromApi));
    expect(fromLog[0]!.event_id).toMatch(/^keycloak:1741083630456:[0-9a-f]{20}$/);
    expect(run(fixture('jboss-log-refresh-token'))[0]!.event_id).toBe(fromLog[0]!.event_id);
    // Keycloak's ECS log format names the logger `log.logger` and the time `@timestamp`
    expect(strip(run(fixture('ecs-log-client-login')))).toEqual(strip(run(fixture('client-login'))));
  });

  it('maps refresh-token reuse refusals to a reuse_signal on the redeemed refresh token', () => {
    expect(run(fixture('refresh-token-error-reuse'))).toEqual([
      {
        event_id: 'keycloak:a1c3e5b7-9d2f-4a60-8b1e-3c5d7f9a1b26',
        source: 'keycloak',
        platform: 'keycloak',
        action: 'reuse_signal',
        time: 1741084230789,
        token: { fp: jti(REFRESH_1), kind: 'oauth_refresh', one_time: true },
        issuer: 'billing-portal',
        authority: `keycloak:${REALM}`,
        subject: USER,
        network: { ip: '203.0.113.77' },
        outcome: 'failure',
        operation: 'REFRESH_TOKEN_ERROR',
        signal: 'invalid_token: Maximum allowed refresh token reuse exceeded',
      },
    ]);
    // Keycloak before 24 logged unquoted values; "Stale token" is the rotation refusal too
    const [stale] = run(fixture('jboss-log-legacy-unquoted'));
    expect(stale).toMatchObject({ action: 'reuse_signal', token: { fp: jti(REFRESH_1) }, signal: 'invalid_token: Stale token', authority: 'keycloak:payments' });
    expect(stale!.subject).toBeUndefined(); // userId=null
  });

  it('maps other refresh refusals to a failed mint that presented the refresh token, not to reuse', () => {
    const [e] = run(fixture('refresh-token-error-expired'));
    expect(e).toMatchObject({ action: 'mint', outcome: 'failure', token: { kind: 'unknown' }, parent_fp: jti(REFRESH_2), issuer: 'billing-portal' });
    expect(e!.token.fp).toBe(ctx.fingerprint('keycloak:event', 'keycloak:f0e2d4c6-b8a1-4c3e-9f5a-7b9d1e3f5a47'));
    expect(e!.signal).toBeUndefined();
  });

  it('maps CLIENT_LOGIN and its error (no event id before Keycloak 23) to mints keyed for the client', () => {
    expect(run(fixture('client-login'))[0]).toMatchObject({
      action: 'mint',
      token: { fp: jti('trrtcc:1b3d5f7a-9c2e-4a6c-8e1a-3c5e7a9c1e63'), kind: 'oauth_access' },
      issuer: 'ledger-sync',
      subject: 'e7a9c1b3-5d7f-4a2c-8e0a-4c6e8a0c2e51',
      scopes_granted: ['ledger:read', 'ledger:write'],
      network: { ip: '10.20.4.17' },
    });
    const [failed] = run(fixture('client-login-error-legacy'));
    expect(failed).toMatchObject({ action: 'mint', outcome: 'failure', issuer: 'ledger-sync', authority: 'keycloak:payments', token: { kind: 'unknown' } });
    expect(failed!.event_id).toMatch(/^keycloak:1741083001500:[0-9a-f]{20}$/);
    // the digest is deterministic, and changes with the event
    expect(run(fixture('client-login-error-legacy'))[0]!.event_id).toBe(failed!.event_id);
    const other = fixture('client-login-error-legacy');
    other.ipAddress = '192.0.2.67';
    expect(run(other)[0]!.event_id).not.toBe(failed!.event_id);
  });

  it('maps TOKEN_EXCHANGE to a mint with its audience, and INTROSPECT_TOKEN to a use of that token', () => {
    const [minted] = run(fixture('token-exchange'));
    expect(minted).toMatchObject({ action: 'mint', token: { fp: jti(EXCHANGED), kind: 'oauth_access' }, issuer: 'invoice-api', audience: ['ledger-api'] });
    const [used] = run(fixture('introspect-token'));
    expect(used).toMatchObject({ action: 'use', token: { fp: jti(EXCHANGED), kind: 'oauth_access' }, service: 'ledger-api', outcome: 'success' });
    expect(used!.issuer).toBeUndefined(); // the introspecting client is not the token's holder
  });

  it('maps REVOKE_GRANT to a revoke of the named token, LOGIN/LOGOUT to the session', () => {
    expect(run(fixture('revoke-grant'))).toMatchObject([{ action: 'revoke', token: { fp: jti(REFRESH_2), kind: 'oauth_refresh' }, issuer: 'billing-portal' }]);
    const noId = fixture('revoke-grant');
    delete noId.details.token_id;
    expect(run(noId)).toEqual([]);
    const [login] = run(fixture('login'));
    const [logout] = run(fixture('logout'));
    expect(login).toMatchObject({ action: 'mint', token: { fp: ctx.fingerprint('keycloak:session', SESSION), kind: 'session' }, issuer: USER });
    expect(logout).toMatchObject({ action: 'revoke', token: { fp: login!.token.fp, kind: 'session' } });
  });

  it('maps admin events: a regenerated client secret is a mint, a deleted session a revoke, the rest nothing', () => {
    const [secret] = run(fixture('admin-client-secret-regenerated'));
    expect(secret).toMatchObject({
      action: 'mint',
      token: { kind: 'api_key' },
      issuer: '6a8c0e2a-4c6e-4a8c-9e2a-8c0e2a4c6e93',
      minted_by: '9e1a3c5e-7a9c-4e1a-8c5e-9a1c3e5a7c82',
      network: { ip: '192.0.2.10' },
      operation: 'ACTION:CLIENT',
    });
    expect(run(fixture('admin-delete-session'))).toMatchObject([{ action: 'revoke', token: { fp: ctx.fingerprint('keycloak:session', SESSION), kind: 'session' } }]);
    expect(run(fixture('admin-user-update'))).toEqual([]);
    const refused = fixture('admin-client-secret-regenerated');
    refused.error = 'unknown_error';
    expect(run(refused)).toEqual([]);
  });

  it('rejects partial and hostile events with a clear reason', () => {
    expect(decodeValue(fixture('invalid-details-not-object'), ctx)).toMatchObject({ ok: false, format: 'keycloak', error: { code: 'schema_violation', message: expect.stringContaining('details') } });
    expect(decodeValue(fixture('invalid-log-record-without-realm'), ctx)).toMatchObject({ ok: false, format: 'keycloak', error: { code: 'schema_violation', message: expect.stringContaining('realmId') } });
    const noKind = fixture('admin-user-update');
    delete noKind.operationType;
    expect(keycloak.detect(noKind)).toBe(false);
    const badTime = fixture('jboss-log-refresh-token');
    badTime.timestamp = 'yesterday';
    expect(keycloak.schema.safeParse(badTime).success).toBe(false);
    const longClient = fixture('code-to-token');
    longClient.clientId = 'c'.repeat(600);
    expect(keycloak.schema.safeParse(longClient).success).toBe(false);
    // a message full of pairs stays bounded and valid
    const flood = fixture('jboss-log-refresh-token');
    flood.message += ', x="1"'.repeat(20_000);
    expect(run(flood)).toHaveLength(2);
  });

  it('detects Keycloak events, and no other vendor fixture as Keycloak', () => {
    expect(keycloak.detect({ type: 'LOGIN', realmId: 'r', time: 1 })).toBe(true);
    expect(keycloak.detect({ type: 'login', realmId: 'r', time: 1 })).toBe(false);
    expect(keycloak.detect({ type: 'LOGIN', realmId: 'r', time: '2025-01-01T00:00:00Z' })).toBe(false);
    for (const dir of readdirSync(VENDORS)) {
      if (dir === 'keycloak') continue;
      for (const f of readdirSync(new URL(`${dir}/`, VENDORS)).filter((x) => x.endsWith('.json'))) {
        const raw = JSON.parse(readFileSync(new URL(`${dir}/${f}`, VENDORS), 'utf8'));
        expect(keycloak.detect(raw), `${dir}/${f}`).toBe(false);
      }
    }
    for (const f of readdirSync(DIR).filter((x) => x.endsWith('.json'))) {
      const raw = fixture(f.slice(0, -5));
      for (const other of FORMATS) if (other.id !== 'keycloak') expect(other.detect(raw), `${other.id} on keycloak/${f}`).toBe(false);
      expect(detectFormat(raw)?.id).toBe('keycloak');
    }
  });

  it('replays the fixture stream through decodeText with auto-detection', () => {
    const lines = readFileSync(new URL('replay.ndjson', DIR), 'utf8').split('\n').filter((l) => l.trim());
    const events: TokenEvent[] = [];
    for (const line of lines) {
      const r = decodeText(line, ctx);
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      expect(r.format).toBe('keycloak');
      events.push(...r.events);
    }
    expect(events.map((e) => `${e.action}:${e.operation}`)).toEqual([
      'mint:LOGIN',
      'mint:CODE_TO_TOKEN',
      'mint:CODE_TO_TOKEN',
      'mint:CLIENT_LOGIN',
      'mint:TOKEN_EXCHANGE',
      'use:INTROSPECT_TOKEN',
      'mint:REFRESH_TOKEN',
      'mint:REFRESH_TOKEN',
      'reuse_signal:REFRESH_TOKEN_ERROR',
      'revoke:REVOKE_GRANT',
      'revoke:LOGOUT',
      'mint:ACTION:CLIENT',
      'reuse_signal:REFRESH_TOKEN_ERROR',
    ]);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
  });

  it('lets token_replay see the refresh token a rotation replaced redeemed again, from another network', () => {
    const again = fixture('refresh-token-rotated');
    again.id = '6e2d4a18-0c9b-4f73-8e51-2b7a9d3c6f99';
    again.time += 3_600_000;
    again.ipAddress = '203.0.113.77';
    again.details.token_id = 'ortrt:5a7c9e1b-3d5f-4a7c-9e1b-3d5f7a9c1e55';
    again.details.updated_refresh_token_id = 'e6a8c0e2-4a6c-4e8a-8c2e-6a8c0e2a4c66';
    const engine = new DetectionEngine({ ...DEFAULT_ENGINE_OPTIONS, detectors: [{ definition: tokenReplay, config: tokenReplay.config.parse({}) }] });
    const alerts = [];
    for (const raw of [fixture('code-to-token'), fixture('refresh-token-rotated'), again]) {
      const r = decodeText(JSON.stringify(raw), ctx);
      if (!r.ok) throw new Error(r.error.message);
      for (const e of r.events) alerts.push(...engine.ingest(e));
    }
    alerts.push(...engine.finish());
    expect(alerts.map((a) => [a.kind, a.token_fp])).toEqual([['one_time_reuse', jti(REFRESH_1)]]);
  });

  it('never leaks token ids, session ids or the client secret into normalized output', () => {
    const out = JSON.stringify(readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('invalid-')).flatMap((f) => run(fixture(f.slice(0, -5)))));
    for (const secret of [ACCESS_1, REFRESH_1, ACCESS_2, REFRESH_2, EXCHANGED, SESSION, 'kc-secret-Xq9vB2nLm4Pz7Rt1Wy5', 'trrtcc:1b3d5f7a']) {
      expect(out).not.toContain(secret);
    }
  });
});
