import { describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAsnCsv, loadCountryCsv, type AsnTables } from '../../src/enrich/ip-location-db.js';
import { parseIpv4, parseIpv6 } from '../../src/enrich/ip-address.js';
import { TokenwatchError } from '../../src/core/errors.js';

const FIX = 'test/fixtures/enrich';

function asnOf(t: AsnTables, ip: string): [number, string] | undefined {
  const n = parseIpv4(ip);
  if (n >= 0) {
    const i = t.v4.find(n);
    return i < 0 ? undefined : [t.v4.a[i]!, t.orgs[t.v4.b[i]!]!];
  }
  const w = new Uint32Array(4);
  if (!parseIpv6(ip, w)) throw new Error(ip);
  const i = t.v6.find(w);
  return i < 0 ? undefined : [t.v6.a[i]!, t.orgs[t.v6.b[i]!]!];
}

describe('the @ip-location-db/asn package', () => {
  const asn = loadAsnCsv();
  it('names its package version', () => {
    expect(asn.version).toMatch(/^@ip-location-db\/asn \d+\.\d+\.\d+$/);
  });
  it.each([
    ['8.8.8.8', 15169, /Google/],
    ['1.1.1.1', 13335, /Cloudflare/],
    ['2001:4860:4860::8888', 15169, /Google/],
    ['2606:4700:4700::1111', 13335, /Cloudflare/],
  ])('%s is AS%i', (ip, num, org) => {
    const r = asnOf(asn, ip);
    expect(r?.[0]).toBe(num);
    expect(r?.[1]).toMatch(org);
  });
  it('interns org names: one string per organization', () => {
    expect(new Set(asn.orgs).size).toBe(asn.orgs.length);
    expect(asn.orgs.length).toBeLessThan(asn.v4.size);
  });
});

describe('the @ip-location-db/asn-country package', () => {
  it('gives ISO alpha-2 codes', () => {
    const c = loadCountryCsv();
    expect(c.version).toMatch(/^@ip-location-db\/asn-country /);
    const i = c.v4.find(parseIpv4('8.8.8.8'));
    expect(c.countries[c.v4.a[i]!]).toBe('US');
    expect(c.countries.every((cc) => /^[A-Z]{2}$/.test(cc))).toBe(true);
  });
});

describe('CSV files a user points at', () => {
  const asn = loadAsnCsv({ ipv4: `${FIX}/asn-ipv4.csv`, ipv6: `${FIX}/asn-ipv6.csv` });
  it('finds range bounds inclusively and misses the gaps', () => {
    expect(asnOf(asn, '1.0.0.0')?.[0]).toBe(13335);
    expect(asnOf(asn, '1.0.0.255')?.[0]).toBe(13335);
    expect(asnOf(asn, '1.0.1.0')).toBeUndefined();
    expect(asnOf(asn, '1.0.3.255')).toBeUndefined();
    expect(asnOf(asn, '1.0.4.0')?.[0]).toBe(38803);
    expect(asnOf(asn, '0.255.255.255')).toBeUndefined();
    expect(asnOf(asn, '255.255.255.255')).toEqual([64496, 'Edge "Quoted" Org']);
    expect(asnOf(asn, '2a02:8010::')?.[0]).toBe(20712);
    expect(asnOf(asn, '2a02:8010:ffff:ffff:ffff:ffff:ffff:ffff')?.[0]).toBe(20712);
    expect(asnOf(asn, '2a02:8011::')).toBeUndefined();
    expect(asnOf(asn, '2a02:800f:ffff:ffff:ffff:ffff:ffff:ffff')).toBeUndefined();
  });
  it('unquotes CSV org names', () => {
    expect(asnOf(asn, '1.0.0.7')?.[1]).toBe('Cloudflare, Inc.');
  });
  it('records the files and their dates as the version', () => {
    expect(asn.version).toMatch(/asn-ipv4\.csv \(modified \d{4}-\d\d-\d\d\) \+ .*asn-ipv6\.csv/);
  });
  it('reads numeric (-num) IPv4 files and sorts unsorted rows', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-enrich-'));
    writeFileSync(join(dir, 'v4.csv'), '1359103232,1359103487,20712,A\n16777216,16777471,13335,B\r\n');
    writeFileSync(join(dir, 'v6.csv'), '');
    const t = loadAsnCsv({ ipv4: join(dir, 'v4.csv'), ipv6: join(dir, 'v6.csv') });
    expect(asnOf(t, '1.0.0.1')).toEqual([13335, 'B']);
    expect(asnOf(t, '81.2.69.160')).toEqual([20712, 'A']);
  });
  it('rejects a malformed file with its path and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-enrich-'));
    writeFileSync(join(dir, 'v4.csv'), '1.0.0.0,1.0.0.255,13335,X\nnot a row\n');
    writeFileSync(join(dir, 'v6.csv'), '');
    expect(() => loadAsnCsv({ ipv4: join(dir, 'v4.csv'), ipv6: join(dir, 'v6.csv') })).toThrow(/v4\.csv:2/);
    expect(() => loadAsnCsv({ ipv4: join(dir, 'missing.csv'), ipv6: join(dir, 'v6.csv') })).toThrow(TokenwatchError);
  });
  it('reads country files, upper-casing codes', () => {
    const c = loadCountryCsv({ ipv4: `${FIX}/asn-country-ipv4.csv`, ipv6: `${FIX}/asn-country-ipv6.csv` });
    expect(c.countries[c.v4.a[c.v4.find(parseIpv4('81.2.69.160'))]!]).toBe('GB');
    const w = new Uint32Array(4);
    parseIpv6('2a02:8010::1', w);
    expect(c.countries[c.v6.a[c.v6.find(w)]!]).toBe('GB');
  });
});
