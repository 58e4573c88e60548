import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { okta } from '../../src/normalize/okta.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/vendors/okta/${name}.json`, import.meta.url), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(okta.detect(raw)).toBe(true);
  const parsed = okta.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = okta.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

const REFRESH_ID = 'rt.Hh7Jk2Lm9Np4Qr6St8Uv0Wx3Yz5';

describe('okta normalizer', () => {
  it('maps a client-credentials access token grant to a mint', () => {
    expect(run(fixture('access-token-grant-client-credentials'))).toEqual([
      {
        event_id: 'okta:7c1e2b90-0a3d-11f0-9c2e-5b1a8f3e2d41',
        source: 'okta',
        platform: 'okta',
        action: 'mint',
        time: Date.parse('2025-03-04T10:15:30.123Z'),
        // the target's token id wins over debugData.tokenId
        token: { fp: ctx.fingerprint('jti', 'AT.q3J0nN5vX2bM8pLw7sR1tY4uZ6aC9dE0fG'), kind: 'oauth_access' },
        issuer: '0oa8kq2wzbRvXy7Lm5d7',
        authority: 'okta:aus8x1inventory0g7',
        scopes_requested: ['inventory:read', 'inventory:write'],
        scopes_granted: ['inventory:read', 'inventory:write'],
        network: { ip: '203.0.113.24', asn: '64496' },
        user_agent: 'okta-sdk-java/8.2.1 java/17.0.8',
        outcome: 'success',
        operation: 'app.oauth2.as.token.grant.access_token',
      },
    ]);
  });

  it('maps a user refresh token grant: client from debugData, subject = user', () => {
    const [e] = run(fixture('refresh-token-grant-user'));
    expect(e).toMatchObject({
      action: 'mint',
      token: { fp: ctx.fingerprint('jti', REFRESH_ID), kind: 'oauth_refresh' },
      issuer: '0oa9portal7Xc2Vb5d7',
      subject: 'dana.lee@example.com',
      authority: 'okta:default',
      scopes_requested: ['openid', 'profile', 'offline_access'],
      scopes_granted: ['openid', 'profile', 'offline_access'],
    });
  });

  it('maps token.revoke to a revoke of the same token fp', () => {
    const [mint] = run(fixture('refresh-token-grant-user'));
    const events = run(fixture('token-revoke'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'revoke', issuer: '0oa9portal7Xc2Vb5d7', outcome: 'success' });
    expect(events[0]!.token.fp).toBe(mint!.token.fp);
  });

  it('maps detect_reuse to a reuse_signal on a one-time refresh token', () => {
    expect(run(fixture('detect-reuse'))).toEqual([
      {
        event_id: 'okta:5e2a8d41-0a42-11f0-94c3-0d1b2e3f4a5b',
        source: 'okta',
        platform: 'okta',
        action: 'reuse_signal',
        time: Date.parse('2025-03-04T12:30:45.678Z'),
        token: { fp: ctx.fingerprint('jti', REFRESH_ID), kind: 'oauth_refresh', one_time: true },
        issuer: '0oa9portal7Xc2Vb5d7',
        authority: 'okta:default',
        network: { ip: '192.0.2.200', asn: '64511' },
        user_agent: 'python-requests/2.31.0',
        outcome: 'failure',
        operation: 'app.oauth2.as.token.detect_reuse',
        signal: 'app.oauth2.as.token.detect_reuse',
      },
    ]);
  });

  it('keeps a failed grant without a token, keyed on the event', () => {
    const [e] = run(fixture('grant-failure'));
    expect(e).toMatchObject({
      action: 'mint',
      outcome: 'failure',
      token: { fp: ctx.fingerprint('okta:event', '8a1c3e55-0a43-11f0-b7e4-6a5b4c3d2e1f'), kind: 'unknown' },
      issuer: '0oa8kq2wzbRvXy7Lm5d7',
      scopes_requested: ['inventory:admin'],
    });
    expect(e!.scopes_granted).toBeUndefined();
  });

  it('maps API token create and revoke to the same api_key fp', () => {
    const [created] = run(fixture('api-token-create'));
    const [revoked] = run(fixture('api-token-revoke'));
    expect(created).toEqual({
      event_id: 'okta:c4d2e6f8-0a44-11f0-8d9e-1a2b3c4d5e6f',
      source: 'okta',
      platform: 'okta',
      action: 'mint',
      time: Date.parse('2025-03-05T08:00:00.000Z'),
      token: { fp: ctx.fingerprint('okta:api_token', '00Tq8w7e6r5t4y3u2i1o'), kind: 'api_key' },
      issuer: 'ops-admin@example.com',
      minted_by: 'ops-admin@example.com',
      authority: 'okta:org',
      network: { ip: '198.51.100.44' },
      user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15',
      outcome: 'success',
      operation: 'system.api_token.create',
    });
    expect(revoked).toMatchObject({ action: 'revoke', token: { fp: created!.token.fp, kind: 'api_key' } });
  });

  it('maps user.session.start to a session mint fingerprinted from externalSessionId', () => {
    expect(run(fixture('session-start'))).toEqual([
      {
        event_id: 'okta:e1f2a3b4-0a46-11f0-a0b1-3c4d5e6f7081',
        source: 'okta',
        platform: 'okta',
        action: 'mint',
        time: Date.parse('2025-03-04T09:59:58.000Z'),
        token: { fp: ctx.fingerprint('okta:session', '102aBcDeFgHiJkLmNoPqRsT'), kind: 'session' },
        issuer: 'dana.lee@example.com',
        authority: 'okta:org',
        network: { ip: '198.51.100.7', asn: '64500' },
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
        outcome: 'success',
        operation: 'user.session.start',
      },
    ]);
  });

  it('returns [] for a session start without a session id and for unrelated event types', () => {
    const noSession = fixture('session-start');
    noSession.authenticationContext = { authenticationStep: 0, externalSessionId: 'unknown' };
    expect(run(noSession)).toEqual([]);
    expect(run(fixture('privilege-grant'))).toEqual([]);
  });

  it('accepts odd debugData and still emits the mint', () => {
    const raw = fixture('access-token-grant-client-credentials');
    for (const debugContext of [
      { debugData: { grantedScopes: 42, requestedScopes: { nested: true }, authorizationServer: ['x'] } },
      { debugData: 'not-an-object' },
      'debug context as a string',
      null,
    ]) {
      raw.debugContext = debugContext;
      const [e] = run(raw);
      expect(e).toMatchObject({ action: 'mint', token: { kind: 'oauth_access' }, authority: 'okta:aus8x1inventory0g7' });
      expect(e!.scopes_granted).toBeUndefined();
      expect(e!.scopes_requested).toBeUndefined();
    }
  });

  it('accepts data-lake exports with lowercased top-level keys', () => {
    const raw = fixture('session-start');
    const lowered = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
    expect(run(lowered)).toEqual(run(raw));
  });

  it('rejects partial events with a clear reason', () => {
    const noUuid = fixture('session-start');
    delete noUuid.uuid;
    const r1 = okta.schema.safeParse(noUuid);
    expect(r1.success).toBe(false);
    expect(r1.error!.issues[0]!.path).toEqual(['uuid']);

    const badTime = fixture('session-start');
    badTime.published = 'redacted';
    const r2 = okta.schema.safeParse(badTime);
    expect(r2.success).toBe(false);
    expect(r2.error!.issues[0]).toMatchObject({ path: ['published'], message: 'not a parseable timestamp' });

    const noActorId = fixture('session-start');
    noActorId.actor = { type: 'User' };
    expect(okta.schema.safeParse(noActorId).success).toBe(false);
  });

  it('detects Okta events and not other vendors', () => {
    expect(okta.detect(fixture('privilege-grant'))).toBe(true);
    expect(okta.detect({ eventType: 'x', published: '2025-01-01T00:00:00Z' })).toBe(false);
    expect(okta.detect({ type: 'seccft', date: '2025-01-01T00:00:00Z', log_id: '1' })).toBe(false);
  });

  it('never leaks token ids or session ids into normalized output', () => {
    const names = ['access-token-grant-client-credentials', 'refresh-token-grant-user', 'token-revoke', 'detect-reuse', 'api-token-create', 'api-token-revoke', 'session-start'];
    const out = JSON.stringify(names.flatMap((n) => run(fixture(n))));
    for (const secret of ['AT.q3J0nN5vX2bM8pLw7sR1tY4uZ6aC9dE0fG', 'AT.debugOnlyValueNotPreferred', REFRESH_ID, '00Tq8w7e6r5t4y3u2i1o', '102aBcDeFgHiJkLmNoPqRsT']) {
      expect(out).not.toContain(secret);
    }
  });
});
