import { describe, expect, it } from 'vitest';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { fingerprintPartition, stringPartition } from '../../src/runtime/repartition-stage.js';

describe('repartition partitioning', () => {
  const fp = createFingerprinter({ key: 'partition-test-key-0123456789abcdef' });

  it('spreads fingerprints evenly and always puts one key on one partition', () => {
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) {
      const key = fp('aws', `ASIA${String(i).padStart(16, '0')}`);
      const p = fingerprintPartition(key, 6);
      expect(fingerprintPartition(key, 6)).toBe(p);
      counts[p]++;
    }
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('spreads issuers and stays within range for any string, including non-fingerprints', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const p = stringPartition(`arn:aws:iam::123456789012:role/app-${i}`, 4);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(4);
      seen.add(p);
    }
    expect(seen.size).toBe(4);
    expect(fingerprintPartition('not-a-fingerprint', 3)).toBe(stringPartition('not-a-fingerprint', 3));
  });
});
