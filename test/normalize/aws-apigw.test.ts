import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { awsApigw } from '../../src/normalize/aws-apigw.js';
import { clfTimeMs } from '../../schemas/vendors/aws-apigw.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const DIR = fileURLToPath(new URL('../fixtures/vendors/aws_apigw/', import.meta.url));
const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(DIR + name, 'utf8')) as Record<string, unknown>;

function run(raw: unknown): TokenEvent[] {
  const parsed = awsApigw.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected fixture: ${parsed.error.message}`);
  const events = awsApigw.normalize(parsed.data, ctx);
  for (const e of events) TokenEvent.parse(e);
  return events;
}

describe('aws_apigw format', () => {
  it('detects JSON access-log records', () => {
    expect(awsApigw.detect(load('http-api-jwt-claims.json'))).toBe(true);
    expect(awsApigw.detect(load('lambda-authorizer-token-hash.json'))).toBe(true);
    expect(awsApigw.detect({ requestId: 'x', httpMethod: 'GET' })).toBe(false);
  });

  it('parses $context.requestTime (CLF with offset)', () => {
    expect(clfTimeMs('03/Oct/2024:10:05:00 +0200')).toBe(Date.UTC(2024, 9, 3, 8, 5, 0));
    expect(clfTimeMs('03/Oct/2024:08:05:00 -0030')).toBe(Date.UTC(2024, 9, 3, 8, 35, 0));
    expect(clfTimeMs('2024-10-03T08:05:00Z')).toBeUndefined();
  });

  it('HTTP API with JWT claims: a use of the token named by its jti', () => {
    expect(run(load('http-api-jwt-claims.json'))).toEqual([
      {
        event_id: 'aws_apigw:Zx1AbCdEfGhIjKg=',
        source: 'aws_apigw',
        platform: 'gateway',
        action: 'use',
        time: 1727942700123,
        token: { fp: ctx.fingerprint('jti', 'b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d'), kind: 'oauth_access' },
        issuer: '0oa1example2client3',
        authority: 'https://login.example.com/oauth2/default',
        service: 'api.example.com',
        scopes_used: ['orders:read', 'orders:write'],
        issued_at: 1727942400_000,
        expires_at: 1727946000_000,
        network: { ip: '203.0.113.25' },
        user_agent: 'orders-sync/2.3.1 okhttp/4.12.0',
        outcome: 'success',
        operation: 'GET /orders/{id}',
      },
    ]);
  });

  it('REST API with nested Cognito claims, CLF time only, 403 → failure', () => {
    const [e] = run(load('rest-api-cognito-nested.json'));
    expect(e).toEqual({
      event_id: 'aws_apigw:c6a9e5f1-3b2d-4c8a-9e7f-1a2b3c4d5e6f',
      source: 'aws_apigw',
      platform: 'gateway',
      action: 'use',
      time: Date.UTC(2024, 9, 3, 8, 5, 0),
      token: { fp: ctx.fingerprint('jti', '7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d'), kind: 'oauth_access' },
      issuer: '4example5cognito6client7id',
      authority: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EXAMPLE01',
      subject: '2f3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6c',
      service: 'f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com',
      scopes_used: ['payments/write'],
      network: { ip: '198.51.100.61' },
      user_agent: 'python-requests/2.32.3',
      outcome: 'failure',
      operation: 'POST /payments',
    });
  });

  it('a Lambda authorizer token hash identifies the token when there is no jti', () => {
    const [e] = run(load('lambda-authorizer-token-hash.json'));
    expect(e).toMatchObject({
      token: { fp: ctx.fingerprint('bearer_sha256', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'), kind: 'oauth_access' },
      issuer: 'svc-keyrotator',
      service: 'k1l2m3n4o5',
      operation: 'DELETE /keys/{keyId}',
      time: 1727949600000,
      outcome: 'success',
    });
  });

  it('without jti or hash, iss+sub+client+iat identify the token; "-" is absent', () => {
    const [e] = run(load('claims-without-jti.json'));
    expect(e?.token.fp).toBe(ctx.fingerprint('oauth_claims', 'https://login.example.com/oauth2/default|reporting-bot|reporting-bot|1727949000'));
    // sub equal to the client is not repeated as subject
    expect(e?.subject).toBeUndefined();
  });

  it('a request without token claims yields nothing', () => {
    expect(run(load('no-authorizer.json'))).toEqual([]);
  });

  it.each([
    ['invalid-missing-request-id.json', 'requestId'],
    ['invalid-missing-request-time.json', 'requestTimeEpoch'],
    ['invalid-missing-method-and-route.json', 'httpMethod'],
  ])('rejects %s at %s', (name, path) => {
    const r = awsApigw.schema.safeParse(load(name));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('no jti or token hash reaches the output', () => {
    const raw = ['b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d', '7a8b9c0d-1e2f-4a3b-9c4d-5e6f7a8b9c0d', '9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08'];
    let output = '';
    for (const f of readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('invalid-'))) output += JSON.stringify(run(load(f)));
    for (const s of raw) {
      expect(output).not.toContain(s);
      expect(output.toLowerCase()).not.toContain(s.toLowerCase());
    }
  });
});
