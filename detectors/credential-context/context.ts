/**
 * The context a credential is used from, reduced to comparable dimensions: network (public /24 v4,
 * /48 v6, private /16), ASN organisation (the AS number when no organisation is known), cloud
 * provider/region and user-agent family. Unknown dimensions are left out and never count as new.
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { memoize } from '../memo.js';
import { createNetworkResolver } from '../network.js';
import { uaFamily } from '../ua-family.js';

export const DIMENSIONS = ['network', 'asn', 'cloud', 'ua'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export interface UseContext {
  ip?: string;
  network?: string;
  asn?: string;
  cloud?: string;
  ua?: string;
  private: boolean;
}

/** Enrichment fields (src/enrich) read without tying the detector to how they are filled. */
interface EnrichedNetwork {
  ip?: string;
  asn?: string;
  as_org?: string;
  cloud_provider?: string;
  cloud_region?: string;
}

const resolveNetwork = createNetworkResolver([], true);

/** 'subnet:10.1.2.0/24' (private) → 'private:10.1.0.0/16': one VPC's subnets are one network. */
const networkKey = memoize((ip: string): { key: string; private: boolean; ip: string } | undefined => {
  const info = resolveNetwork(ip);
  if (!info) return undefined;
  if (info.name === 'private' && !info.ip.includes(':')) {
    const o = info.ip.split('.');
    return { key: `private:${o[0]}.${o[1]}.0.0/16`, private: true, ip: info.ip };
  }
  return { key: info.key.replace(/^subnet:/, info.name === 'private' ? 'private:' : ''), private: info.name === 'private', ip: info.ip };
});

export function contextOf(event: TokenEvent): UseContext | undefined {
  const net = event.network as EnrichedNetwork | undefined;
  const n = net?.ip !== undefined ? networkKey(net.ip) : undefined;
  const ua = uaFamily(event.user_agent)?.toLowerCase();
  if (n === undefined && ua === undefined) return undefined;
  const c: UseContext = { private: n?.private ?? false };
  if (n !== undefined) {
    c.ip = n.ip;
    c.network = n.key;
  }
  // The organisation, not the AS number: a carrier or cloud announces its addresses from several
  // ASNs (Verizon AS6167 and AS22394, Amazon AS16509 and AS14618), one network owner to a client.
  if (net?.as_org !== undefined) c.asn = net.as_org.toLowerCase();
  else if (net?.asn !== undefined) c.asn = net.asn.toUpperCase();
  if (net?.cloud_provider !== undefined) c.cloud = net.cloud_region !== undefined ? `${net.cloud_provider}:${net.cloud_region}` : net.cloud_provider;
  if (ua !== undefined) c.ua = ua;
  return c;
}

export function valueOf(c: UseContext, d: Dimension): string | undefined {
  switch (d) {
    case 'network':
      return c.network;
    case 'asn':
      return c.asn;
    case 'cloud':
      return c.cloud;
    case 'ua':
      return c.ua;
  }
}

/** Two contexts of one token are the same when network and client family agree (unknowns match anything). */
export function sameContext(a: UseContext, b: UseContext): boolean {
  const eq = (x: string | undefined, y: string | undefined): boolean => x === undefined || y === undefined || x === y;
  return eq(a.network, b.network) && eq(a.ua, b.ua);
}

export function describeContext(c: UseContext): Record<string, unknown> {
  return { ip: c.ip ?? null, network: c.network ?? null, asn: c.asn ?? null, cloud: c.cloud ?? null, ua_family: c.ua ?? null, private: c.private };
}
