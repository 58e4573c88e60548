/**
 * The enrichment stage, between normalize and route: fills `network.scope`, `asn`, `as_org`,
 * `country` and `cloud_provider/region/service` on every token event with an IP.
 *
 * - A vendor-given asn is kept (a bare number is written in the `AS<n>` form); its org is
 *   added only when our data agrees on the number.
 * - Private, shared (CGNAT), loopback, link-local, multicast and reserved addresses get only
 *   their scope; malformed addresses get nothing.
 * - Per event: one Map lookup in a bounded memo of resolved addresses, then field stores.
 *   A miss parses the address into scratch words and binary-searches typed arrays; it
 *   allocates only the memo entry (and the mmdb reader's record when an mmdb is configured).
 * - The data loads once per process, on the first event with an IP (or `load()`), and its
 *   versions are published for the alert builder (./provenance.ts).
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import type { EnrichConfig } from '../config/config-schema.js';
import { embeddedIpv4, parseIpv4, parseIpv6, scopeOfIpv4, scopeOfIpv6, type IpScope } from './ip-address.js';
import { loadEnrichmentData, planEnrichment, type EnrichmentData, type EnrichmentPlan } from './enrichment-data.js';
import { setEnrichmentVersions } from './provenance.js';

/** What one address resolves to; one shape for every entry so the stage's stores stay monomorphic. */
class AddressInfo {
  asn: string | undefined = undefined;
  as_org: string | undefined = undefined;
  country: string | undefined = undefined;
  cloud_provider: string | undefined = undefined;
  cloud_region: string | undefined = undefined;
  cloud_service: string | undefined = undefined;
  constructor(readonly scope: IpScope | undefined) {}
}

const MALFORMED = new AddressInfo(undefined);

export class EnrichStage {
  private data: EnrichmentData | undefined;
  private readonly memo = new Map<string, AddressInfo>();
  private readonly asnLabels = new Map<number, string>();
  private readonly words = new Uint32Array(4);
  private readonly memoSize: number;

  constructor(private readonly plan: EnrichmentPlan, memoSize = 65_536) {
    this.memoSize = memoSize;
  }

  /** Loads the data now (idempotent); returns it for load-time and size reporting. */
  load(): EnrichmentData {
    if (this.data === undefined) {
      this.data = loadEnrichmentData(this.plan);
      setEnrichmentVersions(this.data.versions);
    }
    return this.data;
  }

  enrich(ev: TokenEvent): void {
    const net = ev.network;
    if (net === undefined) return;
    const ip = net.ip;
    if (ip === undefined) return;
    let info = this.memo.get(ip);
    if (info === undefined) {
      info = this.resolve(ip);
      if (this.memo.size >= this.memoSize) this.memo.clear(); // bounded; a clear costs one re-resolve per hot address
      this.memo.set(ip, info);
    }
    if (info.scope === undefined) return;
    net.scope = info.scope;
    // a vendor's bare number takes the interned AS<n> label (no string built per event)
    if (net.asn !== undefined && isDigits(net.asn)) net.asn = this.asnLabel(Number(net.asn));
    if (info.asn !== undefined && (net.asn === undefined || net.asn === info.asn)) {
      net.asn = info.asn;
      if (info.as_org !== undefined) net.as_org = info.as_org;
    }
    if (info.country !== undefined) net.country = info.country;
    if (info.cloud_provider !== undefined) {
      net.cloud_provider = info.cloud_provider;
      if (info.cloud_region !== undefined) net.cloud_region = info.cloud_region;
      if (info.cloud_service !== undefined) net.cloud_service = info.cloud_service;
    }
  }

  /** Lookup of one address text, without the memo (tests and tools). */
  resolve(ip: string): AddressInfo {
    const data = this.load();
    const w = this.words;
    let v4 = parseIpv4(ip);
    if (v4 < 0) {
      if (!parseIpv6(ip, w)) return MALFORMED;
      v4 = embeddedIpv4(w);
    }
    const scope = v4 >= 0 ? scopeOfIpv4(v4) : scopeOfIpv6(w);
    const info = new AddressInfo(scope);
    if (scope !== 'public') return info;
    if (data.asnCsv) {
      const t = data.asnCsv;
      const i = v4 >= 0 ? t.v4.find(v4) : t.v6.find(w);
      if (i >= 0) {
        const asn = v4 >= 0 ? t.v4.a[i]! : t.v6.a[i]!;
        const org = t.orgs[v4 >= 0 ? t.v4.b[i]! : t.v6.b[i]!];
        if (asn > 0) {
          info.asn = this.asnLabel(asn);
          if (org) info.as_org = org;
        }
      }
    } else if (data.asnMmdb) {
      const r = data.asnMmdb.asn(ip);
      if (r) {
        info.asn = this.asnLabel(r.asn);
        if (r.org) info.as_org = r.org;
      }
    }
    if (data.countryCsv) {
      const t = data.countryCsv;
      const i = v4 >= 0 ? t.v4.find(v4) : t.v6.find(w);
      if (i >= 0) info.country = t.countries[v4 >= 0 ? t.v4.a[i]! : t.v6.a[i]!];
    } else if (data.countryMmdb) {
      info.country = data.countryMmdb.country(ip);
    }
    if (data.cloud) {
      const t = data.cloud;
      const i = v4 >= 0 ? t.v4.find(v4) : t.v6.find(w);
      if (i >= 0) {
        const a = v4 >= 0 ? t.v4.a[i]! : t.v6.a[i]!;
        const b = v4 >= 0 ? t.v4.b[i]! : t.v6.b[i]!;
        info.cloud_provider = t.providers[a >>> 24];
        const region = a & 0xffffff;
        if (region > 0) info.cloud_region = t.labels[region - 1];
        if (b > 0) info.cloud_service = t.labels[b - 1];
      }
    }
    return info;
  }

  private asnLabel(asn: number): string {
    let s = this.asnLabels.get(asn);
    if (s === undefined) {
      s = `AS${asn}`;
      this.asnLabels.set(asn, s);
    }
    return s;
  }
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Stages by config, so a process loads each data set once however many runners it starts. */
const stages = new Map<string, EnrichStage | null>();

/**
 * The process-wide stage for this config, or null when `enrich.enabled` is false. Cheap: it
 * checks that the files the config names exist; the data loads on the first event with an IP.
 */
export function enrichStageFor(cfg: EnrichConfig): EnrichStage | null {
  const key = JSON.stringify(cfg);
  let stage = stages.get(key);
  if (stage === undefined) {
    stage = cfg.enabled ? new EnrichStage(planEnrichment(cfg), cfg.memo_size) : null;
    stages.set(key, stage);
  }
  return stage;
}
