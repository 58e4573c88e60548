/**
 * Which enrichment data this process loaded (package version, file dates, mmdb build epoch),
 * set once by the enrichment stage when its data loads and written by the alert builder into
 * every alert's `evidence.baseline.enrichment`, so an analyst knows what an ASN or cloud label
 * was judged against.
 */

export interface EnrichmentVersions {
  /** "@ip-location-db/asn 2.3.2026061719", a CSV path with its date, or an mmdb's type and build date. */
  asn_data?: string;
  country_data?: string;
  /** Per cloud provider: its file's own version fields and modification date. */
  cloud_ranges?: Record<string, string>;
}

let loaded: Readonly<EnrichmentVersions> | undefined;

export function setEnrichmentVersions(v: EnrichmentVersions | undefined): void {
  loaded = v === undefined ? undefined : Object.freeze({ ...v });
}

/** The versions of the loaded enrichment data, or undefined when no enrichment data is loaded. */
export function enrichmentVersions(): Readonly<EnrichmentVersions> | undefined {
  return loaded;
}
