import { describe, expect, it } from 'vitest';
import { createFingerprinter, DEV_HMAC_KEY, isFingerprint } from '../../src/core/fingerprint.js';

describe('fingerprint', () => {
  it('is a keyed, namespaced HMAC that never contains the token', () => {
    const a = createFingerprinter({ key: 'k'.repeat(32) });
    const b = createFingerprinter({ key: 'j'.repeat(32) });
    const token = 'ASIAEXAMPLEKEY123456';
    const fa = a('aws', token);
    expect(isFingerprint(fa)).toBe(true);
    expect(fa).not.toContain(token);
    expect(a('aws', token)).toBe(fa); // deterministic
    expect(b('aws', token)).not.toBe(fa); // keyed
    expect(a('okta', token)).not.toBe(fa); // namespaced
  });

  it('warns when the development key is used and rejects short keys', () => {
    let warned = 0;
    createFingerprinter({ key: DEV_HMAC_KEY, onDevKey: () => warned++ });
    expect(warned).toBe(1);
    createFingerprinter({ key: 'x'.repeat(32), onDevKey: () => warned++ });
    expect(warned).toBe(1);
    expect(() => createFingerprinter({ key: 'short' })).toThrow(/at least 16/);
  });
});
