import { describe, expect, it } from 'vitest';
import { EnrichConfig } from '../../src/config/config-schema.js';
import { EnrichStage, enrichStageFor } from '../../src/enrich/enrich-stage.js';
import { planEnrichment } from '../../src/enrich/enrichment-data.js';
import { buildAlert } from '../../src/pipeline/alert-builder.js';
import { meta as replayMeta } from '../../detectors/token-replay/meta.js';
import type { TokenEvent } from '../../schemas/token-event.js';

const FIX = 'test/fixtures/enrich';
const config = EnrichConfig.parse({
  data_dir: `${FIX}/no-such-dir`,
  asn_csv: { ipv4: `${FIX}/asn-ipv4.csv`, ipv6: `${FIX}/asn-ipv6.csv` },
  country_csv: { ipv4: `${FIX}/asn-country-ipv4.csv`, ipv6: `${FIX}/asn-country-ipv6.csv` },
  cloud_ranges: [
    { provider: 'aws', file: `${FIX}/aws-ip-ranges.json` },
    { provider: 'gcp', file: `${FIX}/gcp-cloud.json` },
    { provider: 'azure', file: `${FIX}/azure-service-tags.json` },
  ],
});

function event(network: TokenEvent['network']): TokenEvent {
  return {
    event_id: 'cloudtrail:1', source: 'cloudtrail', platform: 'aws', action: 'use', time: 1_750_000_000_000,
    token: { fp: 'tw1:0123456789abcdef0123456789abcdef', kind: 'sts_session' }, ...(network && { network }),
  };
}

function enriched(stage: EnrichStage, network: TokenEvent['network']): TokenEvent['network'] {
  const e = event(network);
  stage.enrich(e);
  return e.network;
}

describe('the enrichment stage', () => {
  const stage = new EnrichStage(planEnrichment(config), 4);

  it('fills ASN, org, country for a public IPv4 and IPv6 address', () => {
    expect(enriched(stage, { ip: '81.2.69.160' })).toEqual({ ip: '81.2.69.160', scope: 'public', asn: 'AS20712', as_org: 'Andrews & Arnold Ltd', country: 'GB' });
    expect(enriched(stage, { ip: '2a02:8010::7' })).toEqual({ ip: '2a02:8010::7', scope: 'public', asn: 'AS20712', as_org: 'Andrews & Arnold Ltd', country: 'GB' });
    expect(enriched(stage, { ip: '::ffff:81.2.69.1' })).toMatchObject({ asn: 'AS20712', country: 'GB' });
  });

  it('fills cloud provider, region and service', () => {
    expect(enriched(stage, { ip: '18.208.10.1' })).toEqual({ ip: '18.208.10.1', scope: 'public', cloud_provider: 'aws', cloud_region: 'us-east-1', cloud_service: 'EC2' });
    expect(enriched(stage, { ip: '13.68.161.5' })).toMatchObject({ cloud_provider: 'azure', cloud_region: 'eastus', cloud_service: 'AzureStorage' });
    expect(enriched(stage, { ip: '2600:1900:4000::5' })).toMatchObject({ cloud_provider: 'gcp', cloud_region: 'us-central1' });
  });

  it('keeps a vendor-given asn, in the AS<n> form, and adds the org only when the numbers agree', () => {
    expect(enriched(stage, { ip: '81.2.69.160', asn: '64500' })).toEqual({ ip: '81.2.69.160', scope: 'public', asn: 'AS64500', country: 'GB' });
    expect(enriched(stage, { ip: '81.2.69.160', asn: '20712' })).toMatchObject({ asn: 'AS20712', as_org: 'Andrews & Arnold Ltd' });
    expect(enriched(stage, { ip: '81.2.69.160', asn: 'AS20712' })).toMatchObject({ asn: 'AS20712', as_org: 'Andrews & Arnold Ltd' });
  });

  it('gives private and reserved addresses only their scope, malformed ones nothing', () => {
    expect(enriched(stage, { ip: '10.0.0.8' })).toEqual({ ip: '10.0.0.8', scope: 'private' });
    expect(enriched(stage, { ip: '100.64.1.1' })).toEqual({ ip: '100.64.1.1', scope: 'shared' });
    expect(enriched(stage, { ip: 'fe80::1%eth0' })).toEqual({ ip: 'fe80::1%eth0', scope: 'link_local' });
    expect(enriched(stage, { ip: '::ffff:192.168.0.1' })).toEqual({ ip: '::ffff:192.168.0.1', scope: 'private' });
    expect(enriched(stage, { ip: '255.255.255.255' })).toEqual({ ip: '255.255.255.255', scope: 'reserved' });
    expect(enriched(stage, { ip: '999.1.1.1' })).toEqual({ ip: '999.1.1.1' });
    expect(enriched(stage, { ip: 'AWS Internal' })).toEqual({ ip: 'AWS Internal' });
    expect(enriched(stage, { label: 'ec2.amazonaws.com' })).toEqual({ label: 'ec2.amazonaws.com' });
    expect(enriched(stage, undefined)).toBeUndefined();
  });

  it('gives the same answers after its bounded memo is cleared', () => {
    for (let i = 1; i <= 10; i++) enriched(stage, { ip: `81.2.69.${i}` });
    expect(enriched(stage, { ip: '18.208.10.1' })).toMatchObject({ cloud_service: 'EC2' });
    expect(enriched(stage, { ip: '81.2.69.160' })).toMatchObject({ asn: 'AS20712' });
  });

  it('records the data versions and the alert builder writes them into the baseline', () => {
    const data = stage.load();
    expect(data.versions.asn_data).toMatch(/asn-ipv4\.csv \(modified/);
    expect(data.versions.country_data).toMatch(/asn-country-ipv4\.csv/);
    expect(Object.keys(data.versions.cloud_ranges ?? {})).toEqual(['aws', 'gcp', 'azure']);
    const alert = buildAlert(replayMeta, {
      kind: 'use_after_revocation', score: 1, title: 't', summary: 's', dedup_key: 'k',
      events: [event({ ip: '81.2.69.160' })], baseline: { revoked_at: 'x' },
    });
    expect(alert.evidence.baseline).toEqual({ revoked_at: 'x', enrichment: data.versions });
    expect((alert.evidence.baseline.enrichment as { cloud_ranges: Record<string, string> }).cloud_ranges.aws).toMatch(/createDate 2026-06-17-19-13-03/);
  });
});

describe('enrichStageFor', () => {
  it('is off when disabled and shared per config', () => {
    expect(enrichStageFor(EnrichConfig.parse({ enabled: false }))).toBeNull();
    expect(enrichStageFor(config)).toBe(enrichStageFor(EnrichConfig.parse(JSON.parse(JSON.stringify(config)))));
  });
  it('rejects a configured file that does not exist when the stage is created', () => {
    expect(() => enrichStageFor(EnrichConfig.parse({ asn_mmdb: `${FIX}/missing.mmdb` }))).toThrow(/enrich: file .*missing\.mmdb does not exist/);
  });
  it('defaults to the npm packages and the cloud files in data_dir when present', () => {
    const plan = planEnrichment(EnrichConfig.parse({ data_dir: FIX }));
    expect(plan.asnCsv).toEqual({ ipv4: `${FIX}/asn-ipv4.csv`, ipv6: `${FIX}/asn-ipv6.csv` });
    expect(plan.cloud.map((c) => c.provider)).toEqual(['aws', 'gcp', 'azure']);
    const none = planEnrichment(EnrichConfig.parse({ data_dir: `${FIX}/no-such-dir` }));
    expect(none).toEqual({ asnCsv: {}, countryCsv: {}, cloud: [] });
  });
  it('uses mmdb files when configured', () => {
    const stage = new EnrichStage(planEnrichment(EnrichConfig.parse({ data_dir: `${FIX}/no-such-dir`, asn_mmdb: `${FIX}/test-asn.mmdb`, country_mmdb: `${FIX}/test-country.mmdb` })));
    expect(enriched(stage, { ip: '81.2.69.160' })).toEqual({ ip: '81.2.69.160', scope: 'public', asn: 'AS20712', as_org: 'Andrews & Arnold Ltd', country: 'GB' });
    expect(enriched(stage, { ip: '2a02:8010::1' })).toMatchObject({ asn: 'AS20712' });
    expect(stage.load().versions.asn_data).toMatch(/GeoLite2-ASN built/);
  });
  it('fills from the installed packages with zero configuration', () => {
    const stage = new EnrichStage(planEnrichment(EnrichConfig.parse({ data_dir: `${FIX}/no-such-dir` })));
    expect(enriched(stage, { ip: '8.8.8.8' })).toMatchObject({ scope: 'public', asn: 'AS15169', as_org: expect.stringMatching(/Google/), country: 'US' });
    expect(enriched(stage, { ip: '2001:4860:4860::8888' })).toMatchObject({ asn: 'AS15169' });
    expect(stage.load().versions.asn_data).toMatch(/^@ip-location-db\/asn /);
  });
});
