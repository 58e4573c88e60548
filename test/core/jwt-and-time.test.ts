import { describe, expect, it } from 'vitest';
import { bearerToken, decodeJwtClaims } from '../../src/core/jwt.js';
import { parseTime } from '../../src/core/time.js';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('decodeJwtClaims', () => {
  it('decodes claims without verifying or keeping the token', () => {
    const jwt = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ jti: 'j-1', iss: 'https://idp', sub: 's', aud: 'api://x', scope: 'a b', iat: 1700000000, exp: 1700003600, client_id: 'c1' })}.sig`;
    const c = decodeJwtClaims(jwt)!;
    expect(c).toMatchObject({ jti: 'j-1', iss: 'https://idp', sub: 's', aud: ['api://x'], scopes: ['a', 'b'], iat: 1700000000000, exp: 1700003600000, client_id: 'c1', kid: 'k1' });
  });
  it('returns undefined for opaque tokens and garbage', () => {
    expect(decodeJwtClaims('opaque-token-value')).toBeUndefined();
    expect(decodeJwtClaims('aa.bb.cc')).toBeUndefined();
  });
  it('extracts bearer tokens', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('Basic xyz')).toBeUndefined();
  });
});

describe('parseTime', () => {
  it("parses CloudTrail's non-ISO STS expiration as UTC", () => {
    expect(parseTime('Oct 2, 2019 11:12:29 PM')).toBe(Date.UTC(2019, 9, 2, 23, 12, 29));
    expect(parseTime('Oct 2, 2019 12:05:00 AM')).toBe(Date.UTC(2019, 9, 2, 0, 5, 0));
  });
  it('parses ISO, epoch seconds, ms and µs', () => {
    expect(parseTime('2026-01-05T10:00:00Z')).toBe(Date.UTC(2026, 0, 5, 10));
    expect(parseTime('2026-01-05T10:00:00')).toBe(Date.UTC(2026, 0, 5, 10));
    expect(parseTime('2023-03-08 18:52:52')).toBe(Date.UTC(2023, 2, 8, 18, 52, 52));
    expect(parseTime('2023-03-08 18:52:52.250')).toBe(Date.UTC(2023, 2, 8, 18, 52, 52, 250));
    expect(parseTime(1767607200)).toBe(1767607200000);
    expect(parseTime(1767607200123)).toBe(1767607200123);
    expect(parseTime(1767607200123456)).toBe(1767607200123);
    expect(parseTime('not a time')).toBeUndefined();
  });
});
