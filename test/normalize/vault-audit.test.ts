import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { vaultAudit } from '../../src/normalize/vault-audit.js';
import { FORMATS } from '../../src/normalize/index.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeText, decodeValue, detectFormat } from '../../src/pipeline/decode.js';
import { TokenEvent } from '../../schemas/token-event.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const DIR = new URL('../fixtures/vendors/vault_audit/', import.meta.url);
const VENDORS = new URL('../fixtures/vendors/', import.meta.url);
const fixture = (name: string): Record<string, any> => JSON.parse(readFileSync(new URL(`${name}.json`, DIR), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(vaultAudit.detect(raw)).toBe(true);
  const parsed = vaultAudit.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = vaultAudit.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

// The accessors as the audit device wrote them (HMAC'd with the device's salt).
const A1 = 'hmac-sha256:53d2ec192d6034bbcf123d0ff8355fbc0791594ad8f704558b7d4e3ca8d945b2';
const A2 = 'hmac-sha256:a28b3d5502d689b399ed0179be1eda439cd62361655b7e5c40aaf5e06f89aac4';
const ADMIN = 'hmac-sha256:d946491c1b372f1edb51050f1e8136fecbca73e5622b22a4a7688d7784e311dc';
const BATCH_TOKEN = 'hmac-sha256:c9d72cf6a04841a796be64158eff6cd097f15662b279567ea844f2249852099f';
const acc = (a: string): string => ctx.fingerprint('vault:accessor', a);

describe('vault audit normalizer', () => {
  it('maps an AppRole login response to a mint of the new token: accessor identity, ttl expiry, policies', () => {
    expect(run(fixture('approle-login-response'))).toEqual([
      {
        event_id: 'vault_audit:a0f1e2d3-0001-4c5b-9a8f-7e6d5c4b3a21',
        source: 'vault_audit',
        platform: 'vault',
        action: 'mint',
        time: Date.parse('2025-03-04T10:00:00.123Z'),
        token: { fp: acc(A1), kind: 'vault_token' },
        issuer: 'payments-api',
        subject: '6f1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
        authority: 'vault:root',
        service: 'auth/approle/',
        issued_at: Date.parse('2025-03-04T10:00:00Z'),
        expires_at: Date.parse('2025-03-04T11:00:00Z'),
        scopes_granted: ['default', 'payments-db'],
        network: { ip: '10.1.2.3' },
        outcome: 'success',
        operation: 'update auth/approle/login',
      },
    ]);
  });

  it('emits one event per call: the request entry of a successful call yields nothing, its response the event', () => {
    expect(run(fixture('approle-login-request'))).toEqual([]);
    const request = fixture('kv-read-response');
    request.type = 'request';
    delete request.response;
    expect(run(request)).toEqual([]);
    // a refused request may have no response entry: it is kept, under the call's event id
    const [denied] = run(fixture('kv-read-denied-request'));
    expect(denied).toMatchObject({ event_id: 'vault_audit:f5a6b7c8-0006-4b0a-8f9e-2d1c0b9a8f76', action: 'use', outcome: 'failure', token: { fp: acc(A1) }, network: { ip: '203.0.113.50' } });
    const deniedResponse = fixture('kv-read-denied-request');
    deniedResponse.type = 'response';
    deniedResponse.response = { mount_type: 'kv' };
    expect(run(deniedResponse)[0]!.event_id).toBe(denied!.event_id); // the engine's event-id dedupe drops the pair's second
  });

  it('maps a call made with a token to a use of its accessor (service = mount, ip, user agent)', () => {
    expect(run(fixture('kv-read-response'))).toMatchObject([
      {
        action: 'use',
        token: { fp: acc(A1), kind: 'vault_token' },
        issuer: 'payments-api',
        service: 'secret/',
        network: { ip: '10.1.2.3' },
        user_agent: 'vault-agent/1.19.0',
        outcome: 'success',
        operation: 'read secret/data/payments/db',
      },
    ]);
  });

  it('maps auth/token/create to a mint whose parent is the creating token', () => {
    const [child] = run(fixture('token-create-child'));
    expect(child).toMatchObject({ action: 'mint', token: { fp: acc(A2) }, parent_fp: acc(A1), minted_by: 'payments-api', issuer: 'payments-api', expires_at: Date.parse('2025-03-04T10:40:00Z') });
  });

  it('maps renew-self to a use with the new expiry, revoke-accessor and revoke-self to revokes', () => {
    expect(run(fixture('token-renew-self'))).toMatchObject([{ action: 'use', token: { fp: acc(A2) }, expires_at: Date.parse('2025-03-04T11:05:00.400Z') }]);
    const [revoked, adminUse] = run(fixture('token-revoke-accessor'));
    expect(revoked).toMatchObject({ action: 'revoke', token: { fp: acc(A2), kind: 'vault_token' }, network: { ip: '192.0.2.15' } });
    expect(adminUse).toMatchObject({ event_id: `${revoked!.event_id}:1`, action: 'use', token: { fp: acc(ADMIN) }, issuer: 'ops-admin' });
    expect(run(fixture('token-revoke-self'))).toMatchObject([{ action: 'revoke', token: { fp: acc(A1) }, issuer: 'payments-api' }]);
  });

  it('cannot correlate a revoke by token value: only the caller use remains', () => {
    expect(run(fixture('token-revoke-by-value'))).toEqual([expect.objectContaining({ action: 'use', token: { fp: acc(ADMIN), kind: 'vault_token' } })]);
    // a refused revoke-accessor revokes nothing
    const refused = fixture('token-revoke-accessor');
    refused.error = '1 error occurred:\n\t* permission denied\n\n';
    expect(run(refused)).toEqual([expect.objectContaining({ action: 'use', outcome: 'failure', token: { fp: acc(ADMIN), kind: 'vault_token' } })]);
  });

  it('maps a failed login to a failed mint for the auth mount, and keys batch tokens on their HMAC', () => {
    expect(run(fixture('approle-login-failed'))).toMatchObject([
      { action: 'mint', outcome: 'failure', issuer: 'auth/approle/', token: { fp: ctx.fingerprint('vault_audit:event', 'c8d9e0f1-0009-4e3d-9c2b-9a8f7e6d5c43') }, network: { ip: '198.51.100.99' } },
    ]);
    expect(run(fixture('batch-token-database-creds'))).toMatchObject([
      { action: 'use', token: { fp: ctx.fingerprint('vault:client_token', BATCH_TOKEN), kind: 'vault_token' }, issuer: 'payments-worker', service: 'database/' },
    ]);
    expect(run(fixture('sys-health-unauthenticated'))).toEqual([]);
  });

  it('keeps tokens out of the operation when an old API put them in the path', () => {
    const old = fixture('token-revoke-self');
    old.request.path = 'auth/token/revoke/hvs.CAESIJT2KM9n2KJqgE267EHJSY0c4NWtTRnBsNWhzUDkQZQ';
    const other = fixture('kv-read-response');
    other.request.path = 'cubbyhole/s.Xq9vB2nLm4Pz7Rt1Wy5Ab3Cd/notes';
    const out = JSON.stringify([...run(old), ...run(other)]);
    expect(out).not.toContain('hvs.CAES');
    expect(out).not.toContain('s.Xq9vB2nLm4');
    expect(out).toContain('read cubbyhole/<token>/notes');
  });

  it('rejects partial and hostile entries with a clear reason', () => {
    expect(decodeValue(fixture('invalid-missing-request-id'), ctx)).toMatchObject({ ok: false, format: 'vault_audit', error: { code: 'schema_violation', message: expect.stringContaining('request.id') } });
    expect(decodeValue(fixture('invalid-unparseable-time'), ctx)).toMatchObject({ ok: false, error: { message: expect.stringContaining('not a parseable timestamp') } });
    expect(decodeValue(fixture('invalid-policies-not-array'), ctx)).toMatchObject({ ok: false, error: { message: expect.stringContaining('auth.policies') } });
    const huge = fixture('kv-read-response');
    huge.auth.token_ttl = -5;
    expect(vaultAudit.schema.safeParse(huge).success).toBe(false);
  });

  it('detects Vault audit entries, and no other vendor fixture as Vault', () => {
    expect(vaultAudit.detect({ type: 'audit', time: '2025-01-01T00:00:00Z', request: { path: 'x' } })).toBe(false);
    expect(vaultAudit.detect({ type: 'response', time: '2025-01-01T00:00:00Z', request: 'x' })).toBe(false);
    for (const dir of readdirSync(VENDORS)) {
      if (dir === 'vault_audit') continue;
      for (const f of readdirSync(new URL(`${dir}/`, VENDORS)).filter((x) => x.endsWith('.json'))) {
        expect(vaultAudit.detect(JSON.parse(readFileSync(new URL(`${dir}/${f}`, VENDORS), 'utf8'))), `${dir}/${f}`).toBe(false);
      }
    }
    for (const f of readdirSync(DIR).filter((x) => x.endsWith('.json'))) {
      const raw = fixture(f.slice(0, -5));
      for (const other of FORMATS) if (other.id !== 'vault_audit') expect(other.detect(raw), `${other.id} on vault_audit/${f}`).toBe(false);
      expect(detectFormat(raw)?.id).toBe('vault_audit');
    }
  });

  it('replays the fixture log through decodeText with auto-detection', () => {
    const lines = readFileSync(new URL('replay.ndjson', DIR), 'utf8').split('\n').filter((l) => l.trim());
    const events: TokenEvent[] = [];
    for (const line of lines) {
      const r = decodeText(line, ctx);
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      expect(r.format).toBe('vault_audit');
      events.push(...r.events);
    }
    expect(events.map((e) => `${e.action}:${e.operation}`)).toEqual([
      'mint:update auth/approle/login',
      'use:read secret/data/payments/db',
      'mint:update auth/token/create',
      'use:update auth/token/renew-self',
      'revoke:update auth/token/revoke-accessor',
      'use:update auth/token/revoke-accessor',
      'use:read secret/data/billing/stripe',
      'revoke:update auth/token/revoke-self',
      'use:update auth/token/revoke',
      'mint:update auth/approle/login',
      'use:read database/creds/payments-ro',
    ]);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
  });

  it('never lets an HMAC\'d token or accessor value into normalized output', () => {
    const all = readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('invalid-'));
    const out = JSON.stringify(all.flatMap((f) => run(fixture(f.slice(0, -5)))));
    expect(out).not.toContain('hmac-sha256');
    for (const v of [A1, A2, ADMIN, BATCH_TOKEN]) expect(out).not.toContain(v.slice(12, 40));
  });
});
