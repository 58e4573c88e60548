/**
 * A MaxMind DB (.mmdb) file a user brings (`enrich.asn_mmdb`, `enrich.country_mmdb`): MaxMind
 * GeoLite2/GeoIP2 ASN and Country, or the ip-location-db / IPinfo mmdb builds. Read with the
 * `maxmind` package's reader. An mmdb lookup decodes a record object, so the stage calls it
 * only on a memo miss (one per distinct address).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Reader, type Response } from 'maxmind';
import { TokenwatchError } from '../core/errors.js';

interface MmdbRecord {
  autonomous_system_number?: number;
  autonomous_system_organization?: string;
  /** ip-location-db country mmdb */
  country_code?: string;
  /** MaxMind GeoLite2/GeoIP2 Country and City */
  country?: { iso_code?: string };
  registered_country?: { iso_code?: string };
}

export interface MmdbSource {
  asn(ip: string): { asn: number; org: string } | undefined;
  country(ip: string): string | undefined;
  /** "GeoLite2-ASN.mmdb GeoLite2-ASN built 2026-06-16" */
  version: string;
}

export function openMmdb(path: string): MmdbSource {
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(readFileSync(path));
  } catch (cause) {
    throw new TokenwatchError('config_invalid', `cannot open mmdb ${path}: ${(cause as Error).message}`, undefined, { cause });
  }
  const m = reader.metadata;
  const version = `${basename(path)} ${m.databaseType} built ${m.buildEpoch.toISOString().slice(0, 10)} (epoch ${Math.floor(m.buildEpoch.getTime() / 1000)})`;
  const get = (ip: string): MmdbRecord | null => {
    try {
      return reader.get(ip) as MmdbRecord | null; // the fields read below are all checked
    } catch {
      return null; // an address the reader rejects (e.g. IPv6 in an IPv4-only database)
    }
  };
  return {
    version,
    asn(ip) {
      const r = get(ip);
      const asn = r?.autonomous_system_number;
      return typeof asn === 'number' && asn > 0 ? { asn, org: r?.autonomous_system_organization ?? '' } : undefined;
    },
    country(ip) {
      const r = get(ip);
      const cc = r?.country_code ?? r?.country?.iso_code ?? r?.registered_country?.iso_code;
      return typeof cc === 'string' && cc.length === 2 ? cc.toUpperCase() : undefined;
    },
  };
}
