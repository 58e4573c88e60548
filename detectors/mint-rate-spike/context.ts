/**
 * Mint-side context of an issuer: the networks, ASNs and clients its tokens are minted from.
 * A context new to an established issuer is scored by novelty — a new ASN weighs most; a new
 * /24 (/48) network alone never alerts (NAT pools, CGNAT and autoscaling change addresses all
 * the time) but does together with a new client family; a new client alone (an SDK switch at
 * deploy) never alerts. `network.asn` comes from the enrichment stage when it runs; without it
 * the /24 (/48) network is the network key.
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { memoize } from '../memo.js';

export const NOVELTY_WEIGHTS = { asn: 0.6, network: 0.2, client: 0.4 } as const;
/** Novelty at which a mint alerts: a new ASN, or a new network together with a new client. */
export const NOVELTY_ALERT = 0.6;

export interface MintContext {
  asn?: string;
  network?: string;
  client?: string;
  audience?: string;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/;

/** "203.0.113.7" → "203.0.113.0/24"; "2001:db8:1:2::5" → "2001:db8:1::/48"; anything else as is (labels). */
export const networkOf = memoize((ip: string): string => {
  const v4 = IPV4.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (ip.includes(':')) {
    const [head] = ip.split('::');
    const groups = (head ?? '').split(':').filter((g) => g.length > 0);
    if (groups.length >= 3) return `${groups.slice(0, 3).join(':').toLowerCase()}::/48`;
    // Fewer than 3 leading groups before '::': the rest of the /48 is zero.
    return `${groups.join(':').toLowerCase()}::/48`;
  }
  return ip.toLowerCase();
});

/** First product token of a user agent ("aws-sdk-go-v2/1.24 os/linux" → "aws-sdk-go-v2"), lower-cased. */
export const clientOf = memoize((ua: string): string | undefined => {
  const m = /^[^\s/()[\];,]+/.exec(ua.slice(0, 256).trim());
  return m ? m[0].toLowerCase() : undefined;
});

export function contextOf(e: TokenEvent): MintContext {
  const c: MintContext = {};
  const net = e.network;
  if (net?.asn) c.asn = net.asn.toUpperCase();
  if (net?.ip) c.network = networkOf(net.ip);
  else if (net?.label) c.network = net.label.toLowerCase();
  if (e.user_agent) {
    const f = clientOf(e.user_agent);
    if (f) c.client = f;
  }
  const aud = e.audience?.[0];
  if (aud) c.audience = aud;
  return c;
}

/** Keys under which an issuer remembers a context's parts. */
export const keyOf = {
  asn: (v: string): string => `a:${v}`,
  network: (v: string): string => `n:${v}`,
  client: (v: string): string => `c:${v}`,
};

/** Which parts of the context are new to an issuer that already knows that kind of part. */
export interface Novelty {
  asn: boolean;
  network: boolean;
  client: boolean;
  score: number;
}

/**
 * `known`: key → last seen; `kinds`: which kinds of parts the issuer has ever seen (a part is
 * only new if the issuer has seen others of its kind: enrichment switched on mid-stream, or a
 * source that never carries a user agent, is not novelty).
 */
export function noveltyOf(c: MintContext, known: ReadonlyMap<string, number>, kinds: { asn: boolean; network: boolean; client: boolean }): Novelty {
  const asn = !!c.asn && kinds.asn && !known.has(keyOf.asn(c.asn));
  const network = !!c.network && kinds.network && !known.has(keyOf.network(c.network));
  const client = !!c.client && kinds.client && !known.has(keyOf.client(c.client));
  const score = (asn ? NOVELTY_WEIGHTS.asn : 0) + (network ? NOVELTY_WEIGHTS.network : 0) + (client ? NOVELTY_WEIGHTS.client : 0);
  return { asn, network, client, score: Math.min(1, score) };
}

/** Remember the context's parts (LRU: touched keys move to the end; the oldest go beyond `max`). */
export function learnContext(c: MintContext, known: Map<string, number>, time: number, max: number): void {
  const touch = (k: string): void => {
    known.delete(k);
    known.set(k, time);
  };
  if (c.asn) touch(keyOf.asn(c.asn));
  if (c.network) touch(keyOf.network(c.network));
  if (c.client) touch(keyOf.client(c.client));
  while (known.size > max) known.delete(known.keys().next().value!);
}
