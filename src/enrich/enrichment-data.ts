/**
 * Loads the enrichment data a config names, once: ASN (ip-location-db CSV or an mmdb), country
 * (the same), and cloud ranges. Missing default files are skipped; a file the user named that
 * is missing is a config error raised when the stage is created, not at the first event.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EnrichConfig } from '../config/config-schema.js';
import { TokenwatchError } from '../core/errors.js';
import { loadCloudRanges, type CloudRangeFile, type CloudTables } from './cloud-ranges.js';
import { loadAsnCsv, loadCountryCsv, type AsnTables, type CountryTables, type CsvPaths } from './ip-location-db.js';
import { openMmdb, type MmdbSource } from './mmdb-source.js';
import type { EnrichmentVersions } from './provenance.js';

export interface EnrichmentData {
  asnCsv?: AsnTables | undefined;
  asnMmdb?: MmdbSource | undefined;
  countryCsv?: CountryTables | undefined;
  countryMmdb?: MmdbSource | undefined;
  cloud?: CloudTables | undefined;
  versions: EnrichmentVersions;
  /** Wall time the load took, and the bytes of the typed-array tables (strings not counted). */
  loadMs: number;
  tableBytes: number;
}

/** File names scripts/update-enrichment-data.sh writes into `enrich.data_dir`. */
export const DATA_DIR_FILES = {
  asn: { ipv4: 'asn-ipv4.csv', ipv6: 'asn-ipv6.csv' },
  country: { ipv4: 'asn-country-ipv4.csv', ipv6: 'asn-country-ipv6.csv' },
  cloud: [
    { provider: 'aws', file: 'aws-ip-ranges.json' },
    { provider: 'gcp', file: 'gcp-cloud.json' },
    { provider: 'azure', file: 'azure-service-tags.json' },
  ],
} as const;

export interface EnrichmentPlan {
  asnCsv?: CsvPaths;
  asnMmdb?: string;
  countryCsv?: CsvPaths;
  countryMmdb?: string;
  cloud: CloudRangeFile[];
}

/** Which files to load: what the config names, else newer files in data_dir, else the npm packages. */
export function planEnrichment(cfg: EnrichConfig): EnrichmentPlan {
  const named = [cfg.asn_csv?.ipv4, cfg.asn_csv?.ipv6, cfg.country_csv?.ipv4, cfg.country_csv?.ipv6, cfg.asn_mmdb, cfg.country_mmdb, ...(cfg.cloud_ranges ?? []).map((c) => c.file)];
  for (const f of named) if (f !== undefined && !existsSync(f)) throw new TokenwatchError('config_invalid', `invalid config:\n  enrich: file ${f} does not exist`);
  const inDir = (pair: { ipv4: string; ipv6: string }): CsvPaths | undefined => {
    const p = { ipv4: join(cfg.data_dir, pair.ipv4), ipv6: join(cfg.data_dir, pair.ipv6) };
    return existsSync(p.ipv4) && existsSync(p.ipv6) ? p : undefined;
  };
  const plan: EnrichmentPlan = {
    cloud: cfg.cloud_ranges ?? DATA_DIR_FILES.cloud.map((c) => ({ provider: c.provider, file: join(cfg.data_dir, c.file) })).filter((c) => existsSync(c.file)),
  };
  if (cfg.asn_mmdb !== undefined) plan.asnMmdb = cfg.asn_mmdb;
  else plan.asnCsv = cfg.asn_csv ?? inDir(DATA_DIR_FILES.asn) ?? {};
  if (cfg.country) {
    if (cfg.country_mmdb !== undefined) plan.countryMmdb = cfg.country_mmdb;
    else plan.countryCsv = cfg.country_csv ?? inDir(DATA_DIR_FILES.country) ?? {};
  }
  return plan;
}

export function loadEnrichmentData(plan: EnrichmentPlan): EnrichmentData {
  const started = performance.now();
  const data: EnrichmentData = { versions: {}, loadMs: 0, tableBytes: 0 };
  if (plan.asnMmdb !== undefined) {
    data.asnMmdb = openMmdb(plan.asnMmdb);
    data.versions.asn_data = data.asnMmdb.version;
  } else if (plan.asnCsv !== undefined) {
    data.asnCsv = loadAsnCsv(plan.asnCsv);
    data.versions.asn_data = data.asnCsv.version;
    data.tableBytes += data.asnCsv.v4.bytes + data.asnCsv.v6.bytes;
  }
  if (plan.countryMmdb !== undefined) {
    data.countryMmdb = openMmdb(plan.countryMmdb);
    data.versions.country_data = data.countryMmdb.version;
  } else if (plan.countryCsv !== undefined) {
    data.countryCsv = loadCountryCsv(plan.countryCsv);
    data.versions.country_data = data.countryCsv.version;
    data.tableBytes += data.countryCsv.v4.bytes + data.countryCsv.v6.bytes;
  }
  if (plan.cloud.length > 0) {
    data.cloud = loadCloudRanges(plan.cloud);
    data.versions.cloud_ranges = data.cloud.versions;
    data.tableBytes += data.cloud.v4.bytes + data.cloud.v6.bytes;
  }
  data.loadMs = Math.round(performance.now() - started);
  return data;
}
