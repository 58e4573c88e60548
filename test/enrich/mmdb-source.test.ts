import { describe, expect, it } from 'vitest';
import { openMmdb } from '../../src/enrich/mmdb-source.js';

// fixtures written by test/fixtures/enrich/make-mmdb.py (mmdb-writer), read with the maxmind package
describe('an mmdb a user brings', () => {
  it('reads ASN and organization from a GeoLite2-ASN layout, v4 and v6', () => {
    const db = openMmdb('test/fixtures/enrich/test-asn.mmdb');
    expect(db.asn('81.2.69.160')).toEqual({ asn: 20712, org: 'Andrews & Arnold Ltd' });
    expect(db.asn('2a02:8010::1')).toEqual({ asn: 20712, org: 'Andrews & Arnold Ltd' });
    expect(db.asn('8.8.8.8')?.asn).toBe(15169);
    expect(db.asn('9.9.9.9')).toBeUndefined();
    expect(db.asn('not an ip')).toBeUndefined();
    expect(db.version).toMatch(/^test-asn\.mmdb GeoLite2-ASN built \d{4}-\d\d-\d\d \(epoch \d+\)$/);
  });
  it('reads the country, falling back to the registered country', () => {
    const db = openMmdb('test/fixtures/enrich/test-country.mmdb');
    expect(db.country('81.2.69.1')).toBe('GB');
    expect(db.country('8.8.8.8')).toBe('US');
    expect(db.country('9.9.9.9')).toBeUndefined();
  });
  it('fails with a config error on a file that is not an mmdb', () => {
    expect(() => openMmdb('test/fixtures/enrich/gcp-cloud.json')).toThrow(/cannot open mmdb/);
  });
});
