/**
 * Network identity for token contexts: which declared NAT/egress range an IP belongs to, whether
 * it is private, and a comparison key, so that a NAT pool rotating its egress IP is one network.
 * Pure byte arithmetic (no node:net, no lookups). IPv4-mapped IPv6 is treated as IPv4.
 */
import { memoize } from './memo.js';

export interface EgressRange {
  name: string;
  cidrs: readonly string[];
}

export interface NetworkInfo {
  /** Canonical IP (IPv4 dotted, IPv6 fully expanded lowercase). */
  ip: string;
  /** Two IPs with the same key are the same network. */
  key: string;
  /** The declared range's name, 'private', or 'external'. */
  name: string;
  /** Public and outside every declared range. */
  external: boolean;
}

export type IpFamily = 'ipv4' | 'ipv6';

export interface ParsedCidr {
  address: string;
  prefix: number;
  family: IpFamily;
}

const PRIVATE_CIDRS = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8',
  '169.254.0.0/16',
  'fc00::/7',
  'fe80::/10',
  '::1/128',
];

function ipv4Octets(s: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  return o.every((n) => n <= 255) ? o : undefined;
}

/** The eight 16-bit groups of an IPv6 literal (handles '::' and an embedded IPv4 tail). */
export function expandIpv6(s: string): number[] | undefined {
  const toGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes('.')) {
        const o = ipv4Octets(p);
        if (!o) return undefined;
        out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = toGroups(halves[0]!);
  const tail = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return undefined;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

interface Address {
  ip: string;
  family: IpFamily;
  /** 4 (IPv4) or 16 (IPv6) bytes. */
  bytes: number[];
}

function parseAddress(raw: string): Address | undefined {
  let s = raw.trim();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const v4 = ipv4Octets(s);
  if (v4) return { ip: v4.join('.'), family: 'ipv4', bytes: v4 };
  if (!s.includes(':')) return undefined;
  const groups = expandIpv6(s);
  if (!groups) return undefined;
  // ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const bytes = [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff];
    return { ip: bytes.join('.'), family: 'ipv4', bytes };
  }
  return {
    ip: groups.map((g) => g.toString(16).padStart(4, '0')).join(':'),
    family: 'ipv6',
    bytes: groups.flatMap((g) => [g >> 8, g & 0xff]),
  };
}

/** '::ffff:1.2.3.4' → '1.2.3.4'; strips an IPv6 zone id; undefined if not an IP literal. */
export function normalizeIp(raw: string): { ip: string; family: IpFamily } | undefined {
  const a = parseAddress(raw);
  return a && { ip: a.ip, family: a.family };
}

interface Subnet {
  family: IpFamily;
  bytes: number[];
  prefix: number;
}

function parseSubnet(cidr: string): Subnet | undefined {
  const slash = cidr.indexOf('/');
  const addr = parseAddress(slash >= 0 ? cidr.slice(0, slash) : cidr);
  if (!addr) return undefined;
  const max = addr.family === 'ipv4' ? 32 : 128;
  const prefixText = slash >= 0 ? cidr.slice(slash + 1) : String(max);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return { family: addr.family, bytes: addr.bytes, prefix };
}

/** 'a.b.c.d/n' or 'v6/n'; a bare address is a single host. Undefined when malformed. */
export function parseCidr(cidr: string): ParsedCidr | undefined {
  const s = parseSubnet(cidr);
  const addr = s && parseAddress(cidr.split('/')[0]!);
  return s && addr ? { address: addr.ip, prefix: s.prefix, family: s.family } : undefined;
}

function inSubnet(a: Address, s: Subnet): boolean {
  if (a.family !== s.family) return false;
  const whole = s.prefix >> 3;
  for (let i = 0; i < whole; i++) if (a.bytes[i] !== s.bytes[i]) return false;
  const rest = s.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a.bytes[whole]! ^ s.bytes[whole]!) & mask) === 0;
}

function subnetsOf(cidrs: readonly string[]): Subnet[] {
  return cidrs.map((c) => {
    const s = parseSubnet(c);
    if (!s) throw new Error(`invalid CIDR "${c}"`);
    return s;
  });
}

/** The /24 (IPv4) or /48 (IPv6) an address lies in, as CIDR text. */
export function subnetOf(ip: string, family: IpFamily): string {
  if (family === 'ipv4') return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  return `${ip.split(':').slice(0, 3).join(':')}::/48`;
}

export type NetworkResolver = (ip: string | undefined) => NetworkInfo | undefined;

/**
 * Declared ranges are checked in order (first match names the network); with `sameSubnet`,
 * IPs outside every range that share a /24 or /48 are one network.
 */
export function createNetworkResolver(ranges: readonly EgressRange[], sameSubnet: boolean): NetworkResolver {
  const declared = ranges.map((r) => ({ name: r.name, subnets: subnetsOf(r.cidrs) }));
  const privateSubnets = subnetsOf(PRIVATE_CIDRS);
  const resolve = memoize((raw: string): NetworkInfo | undefined => {
    const addr = parseAddress(raw);
    if (!addr) return undefined; // a label such as "AWS Internal" is not a network address
    const range = declared.find((r) => r.subnets.some((s) => inSubnet(addr, s)));
    if (range) return { ip: addr.ip, key: `range:${range.name}`, name: range.name, external: false };
    const isPrivate = privateSubnets.some((s) => inSubnet(addr, s));
    const key = sameSubnet ? `subnet:${subnetOf(addr.ip, addr.family)}` : `ip:${addr.ip}`;
    return { ip: addr.ip, key, name: isPrivate ? 'private' : 'external', external: !isPrivate };
  });
  return (raw) => (raw === undefined ? undefined : resolve(raw));
}
