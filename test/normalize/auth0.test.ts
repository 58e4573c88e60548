import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { auth0 } from '../../src/normalize/auth0.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const fixture = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`../fixtures/vendors/auth0/${name}.json`, import.meta.url), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(auth0.detect(raw)).toBe(true);
  const parsed = auth0.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = auth0.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

const SECCFT_ID = '90020250304101010101000000000000001223372036854775807';

describe('auth0 normalizer', () => {
  it('maps seccft (client credentials) to an oauth_access mint', () => {
    expect(run(fixture('seccft'))).toEqual([
      {
        event_id: `auth0:${SECCFT_ID}`,
        source: 'auth0',
        platform: 'auth0',
        action: 'mint',
        time: Date.parse('2025-03-04T10:10:10.101Z'),
        token: { fp: ctx.fingerprint('auth0:log', SECCFT_ID), kind: 'oauth_access' },
        issuer: 'Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9E',
        authority: 'auth0:acme-prod.eu.auth0.com',
        audience: ['https://api.acme.example/reports'],
        scopes_granted: ['read:reports', 'export:reports'],
        network: { ip: '203.0.113.80' },
        user_agent: 'Go-http-client/2.0',
        outcome: 'success',
        operation: 'seccft',
      },
    ]);
  });

  it('unwraps the log-stream wrapper and maps sertft with the user as subject', () => {
    const [e] = run(fixture('stream-sertft'));
    expect(e).toEqual({
      event_id: 'auth0:90020250304102000000000000000000001223372036854775808',
      source: 'auth0',
      platform: 'auth0',
      action: 'mint',
      time: Date.parse('2025-03-04T10:20:00.000Z'),
      token: { fp: ctx.fingerprint('auth0:log', '90020250304102000000000000000000001223372036854775808'), kind: 'oauth_access' },
      issuer: 'Pq9Rs8Tu7Vw6Xy5Za4Bc3De2Fg1Hi0Jk',
      authority: 'auth0:acme-prod.eu.auth0.com',
      subject: 'auth0|65e5f0a1b2c3d4e5f6a7b8c9',
      audience: ['https://api.acme.example/'],
      scopes_granted: ['openid', 'profile', 'offline_access', 'read:orders'],
      network: { ip: '198.51.100.7' },
      user_agent: 'AcmeMobile/5.4 (iPhone; iOS 17.3)',
      outcome: 'success',
      operation: 'sertft',
    });
  });

  it('takes log_id from the wrapper when the inner event has none', () => {
    const raw = fixture('stream-sertft');
    delete raw.data.log_id;
    expect(run(raw)[0]!.event_id).toBe('auth0:90020250304102000000000000000000001223372036854775808');
  });

  it('maps ferrt to a reuse_signal on a one-time refresh token', () => {
    const [e] = run(fixture('ferrt'));
    expect(e).toMatchObject({
      action: 'reuse_signal',
      token: { kind: 'oauth_refresh', one_time: true },
      signal: 'ferrt',
      outcome: 'failure',
      issuer: 'Pq9Rs8Tu7Vw6Xy5Za4Bc3De2Fg1Hi0Jk',
      subject: 'auth0|65e5f0a1b2c3d4e5f6a7b8c9',
      network: { ip: '192.0.2.200' },
    });
  });

  it('maps srrt to a revoke, identified by _id when log_id is absent', () => {
    const [e] = run(fixture('srrt'));
    expect(e).toMatchObject({
      event_id: 'auth0:90020250304103100000000000000000001223372036854775810',
      action: 'revoke',
      token: { kind: 'oauth_refresh' },
      outcome: 'success',
    });
  });

  it('returns [] for codes without token activity', () => {
    expect(run(fixture('login-success'))).toEqual([]);
  });

  it('rejects partial events with a clear reason', () => {
    const noId = fixture('seccft');
    delete noId.log_id;
    delete noId._id;
    const r1 = auth0.schema.safeParse(noId);
    expect(r1.success).toBe(false);
    expect(r1.error!.issues[0]).toMatchObject({ path: ['log_id'], message: 'an Auth0 log event needs log_id or _id' });

    const badDate = fixture('seccft');
    badDate.date = 'not a date';
    const r2 = auth0.schema.safeParse(badDate);
    expect(r2.success).toBe(false);
    expect(r2.error!.issues[0]!.path).toEqual(['date']);

    const noType = fixture('seccft');
    delete noType.type;
    expect(auth0.schema.safeParse(noType).success).toBe(false);
  });

  it('does not claim generic {type, date} records', () => {
    expect(auth0.detect({ type: 'order', date: '2025-01-01' })).toBe(false);
  });
});
