/**
 * Where a credential event came from, judged against operator-written network lists: CIDRs
 * (IPv4/IPv6), ASNs ("AS16509" or "16509") and exact labels for the non-address values some
 * vendors put where the IP goes (CloudTrail's "ec2.amazonaws.com", "AWS Internal"). Pure, no
 * I/O: node:net's BlockList does the CIDR matching.
 */
import { BlockList, isIP } from 'node:net';
import type { TokenEvent } from '../../schemas/token-event.js';
import { parseCidr, parseIpv4, parseIpv6 } from '../enrich/ip-address.js';

export interface NetworkList {
  cidrs?: readonly string[] | undefined;
  asns?: readonly string[] | undefined;
  labels?: readonly string[] | undefined;
}

/** "AS16509", "as16509", "16509" → "16509". */
export const normalizeAsn = (asn: string): string => asn.trim().replace(/^as/i, '');

export const isCidr = (s: string): boolean => parseCidr(s) !== undefined;

/** "10.0.0.0/8" → a BlockList entry; a bare address counts as a /32 or /128. */
function addCidr(list: BlockList, cidr: string): void {
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
  const prefix = slash < 0 ? (family === 'ipv6' ? 128 : 32) : Number(cidr.slice(slash + 1));
  list.addSubnet(addr, prefix, family);
}

export type NetworkVerdict = 'inside' | 'outside' | 'unknown';

/**
 * A matcher for one list: `inside` when the event's IP is in a CIDR, its ASN is listed or its
 * network label / non-address IP value is listed; `unknown` when the event carries no network.
 */
export function compileNetworkList(list: NetworkList): (network: TokenEvent['network']) => NetworkVerdict {
  const blocks = new BlockList();
  for (const c of list.cidrs ?? []) addCidr(blocks, c);
  const asns = new Set((list.asns ?? []).map(normalizeAsn));
  const labels = new Set((list.labels ?? []).map((l) => l.toLowerCase()));
  return (network) => {
    if (!network) return 'unknown';
    const ip = network.ip?.trim();
    const family = ip ? isIP(ip) : 0;
    if (ip && family !== 0 && blocks.check(ip, family === 6 ? 'ipv6' : 'ipv4')) return 'inside';
    if (network.asn !== undefined && asns.has(normalizeAsn(network.asn))) return 'inside';
    if (network.label !== undefined && labels.has(network.label.toLowerCase())) return 'inside';
    if (ip && family === 0 && labels.has(ip.toLowerCase())) return 'inside';
    if (!ip && network.asn === undefined && network.label === undefined) return 'unknown';
    return 'outside';
  };
}

const words = new Uint32Array(4);

/** The /24 (IPv4) or /48 (IPv6) holding an address, as CIDR text; undefined for a non-address. */
export function blockOf(ip: string): string | undefined {
  const v4 = parseIpv4(ip);
  if (v4 >= 0) return `${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.0/24`;
  if (!parseIpv6(ip, words)) return undefined;
  const hex = (n: number): string => n.toString(16);
  return `${hex(words[0]! >>> 16)}:${hex(words[0]! & 0xffff)}:${hex(words[1]! >>> 16)}::/48`;
}
