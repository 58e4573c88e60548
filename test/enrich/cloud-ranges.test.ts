import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCloudRanges, type CloudTables } from '../../src/enrich/cloud-ranges.js';
import { parseIpv4, parseIpv6 } from '../../src/enrich/ip-address.js';

const FIX = 'test/fixtures/enrich';

function cloudOf(t: CloudTables, ip: string): { provider: string; region?: string; service?: string } | undefined {
  const n = parseIpv4(ip);
  const w = new Uint32Array(4);
  if (n < 0 && !parseIpv6(ip, w)) throw new Error(ip);
  const table = n >= 0 ? t.v4 : t.v6;
  const i = n >= 0 ? t.v4.find(n) : t.v6.find(w);
  if (i < 0) return undefined;
  const a = table.a[i]!;
  const b = table.b[i]!;
  const out: { provider: string; region?: string; service?: string } = { provider: t.providers[a >>> 24]! };
  if ((a & 0xffffff) > 0) out.region = t.labels[(a & 0xffffff) - 1]!;
  if (b > 0) out.service = t.labels[b - 1]!;
  return out;
}

const all = loadCloudRanges([
  { provider: 'aws', file: `${FIX}/aws-ip-ranges.json` },
  { provider: 'gcp', file: `${FIX}/gcp-cloud.json` },
  { provider: 'azure', file: `${FIX}/azure-service-tags.json` },
]);

describe('AWS ip-ranges.json', () => {
  it('prefers the specific service over AMAZON for the same block, in either order', () => {
    expect(cloudOf(all, '18.208.10.1')).toEqual({ provider: 'aws', region: 'us-east-1', service: 'EC2' });
    expect(cloudOf(all, '52.217.255.255')).toEqual({ provider: 'aws', region: 'us-east-1', service: 'S3' });
    expect(cloudOf(all, '13.33.0.1')).toEqual({ provider: 'aws', region: 'GLOBAL', service: 'CLOUDFRONT' });
  });
  it('lets a nested block win inside it and the outer block around it', () => {
    expect(cloudOf(all, '3.0.5.31')?.service).toBe('AMAZON');
    expect(cloudOf(all, '3.0.5.32')?.service).toBe('EC2_INSTANCE_CONNECT');
    expect(cloudOf(all, '3.0.5.39')?.service).toBe('EC2_INSTANCE_CONNECT');
    expect(cloudOf(all, '3.0.5.40')?.service).toBe('AMAZON');
    expect(cloudOf(all, '3.1.255.255')).toEqual({ provider: 'aws', region: 'us-east-1', service: 'AMAZON' });
    expect(cloudOf(all, '3.2.0.0')).toBeUndefined();
    expect(cloudOf(all, '2.255.255.255')).toBeUndefined();
  });
  it('reads ipv6_prefixes', () => {
    expect(cloudOf(all, '2600:1f18:1234::1')).toEqual({ provider: 'aws', region: 'us-east-1', service: 'EC2' });
    expect(cloudOf(all, '2600:1f18:8000::1')).toBeUndefined();
    expect(cloudOf(all, '2600:900f:ffff::1')).toEqual({ provider: 'aws', region: 'GLOBAL', service: 'CLOUDFRONT' });
  });
  it('records createDate and syncToken', () => {
    expect(all.versions.aws).toMatch(/^ip-ranges\.json createDate 2026-06-17-19-13-03 syncToken 1781716383 \(aws-ip-ranges\.json, modified \d{4}-\d\d-\d\d\)$/);
  });
});

describe('Google Cloud cloud.json', () => {
  it('gives scope as the region', () => {
    expect(cloudOf(all, '34.81.0.1')).toEqual({ provider: 'gcp', region: 'asia-east1', service: 'Google Cloud' });
    expect(cloudOf(all, '34.1.223.255')).toEqual({ provider: 'gcp', region: 'africa-south1', service: 'Google Cloud' });
    expect(cloudOf(all, '34.1.224.0')).toBeUndefined();
    expect(cloudOf(all, '2600:1900:4000::5')).toEqual({ provider: 'gcp', region: 'us-central1', service: 'Google Cloud' });
    expect(all.versions.gcp).toMatch(/creationTime 2026-06-17T11:20:00/);
  });
});

describe('Azure Service Tags', () => {
  it('takes region and service from the most specific tags', () => {
    expect(cloudOf(all, '13.68.161.5')).toEqual({ provider: 'azure', region: 'eastus', service: 'AzureStorage' });
    expect(cloudOf(all, '13.68.130.1')).toEqual({ provider: 'azure', region: 'eastus' });
    expect(cloudOf(all, '13.70.0.1')).toEqual({ provider: 'azure' });
    expect(cloudOf(all, '13.96.0.0')).toBeUndefined();
    expect(cloudOf(all, '2603:1030:20c::1')).toEqual({ provider: 'azure', region: 'eastus' });
    expect(cloudOf(all, '2603:10ff::1')).toEqual({ provider: 'azure' });
    expect(all.versions.azure).toMatch(/^azure-service-tags\.json changeNumber 412 cloud Public/);
  });
  it('gives a service without a region where only a global service tag covers the address', () => {
    expect(cloudOf(all, '20.38.98.7')).toEqual({ provider: 'azure', service: 'AzureStorage' });
  });
});

describe('loading', () => {
  it('rejects a file in the wrong format and an unknown provider without a format', () => {
    expect(() => loadCloudRanges([{ provider: 'aws', file: `${FIX}/gcp-cloud.json`, format: 'azure' }])).toThrow(/not an Azure Service Tags file/);
    expect(() => loadCloudRanges([{ provider: 'oracle', file: `${FIX}/gcp-cloud.json` }])).toThrow(/no format for provider "oracle"/);
  });
  it('takes another provider in a known format', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-cloud-'));
    writeFileSync(join(dir, 'r.json'), JSON.stringify({ syncToken: '1', creationTime: 'x', prefixes: [{ ipv4Prefix: '129.146.0.0/21', scope: 'us-phoenix-1', service: 'OCI' }, { ipv4Prefix: 'bogus' }] }));
    const t = loadCloudRanges([{ provider: 'oracle', file: join(dir, 'r.json'), format: 'gcp' }]);
    expect(cloudOf(t, '129.146.7.255')).toEqual({ provider: 'oracle', region: 'us-phoenix-1', service: 'OCI' });
  });
});
