/**
 * A learned context profile (one per issuer, one per workload): per dimension, the values its
 * credentials were used from and how often a value never seen before appears. The novelty rate is
 * what makes one default fit every estate: a mobile app's OAuth client sees new networks all the
 * time (a new /24 is no surprise), a server role behind a NAT gateway almost never (a new /24 is).
 *
 * Plain data, JSON-serializable; values live in arrays (no object keys from input).
 */
import { DIMENSIONS, valueOf, type Dimension, type UseContext } from './context.js';

export interface ValueStat {
  value: string;
  first: number;
  last: number;
  /** Distinct credentials that used it (approximate: counted once per new token context). */
  tokens: number;
}

/**
 * A first use of a credential from a context new to its holder (workload or subject), waiting for
 * the holder's other credentials to show the old context is still in use.
 */
export interface HolderSuspect {
  fp: string;
  time: number;
  /** The suspect context's value of each new dimension. */
  values: Partial<Record<Dimension, string>>;
  surprise: number;
  novel: Dimension[];
  event: unknown;
  profiles: { issuer: unknown; workload: unknown };
}

export interface ContextProfile {
  first_seen: number;
  suspect?: HolderSuspect;
  /** New token contexts observed (the denominator of the novelty rate); halved with `news` to stay recent. */
  observations: number;
  /** Per dimension: observations that brought a value never seen before. */
  news: Record<Dimension, number>;
  values: Record<Dimension, ValueStat[]>;
}

const HALVE_AT = 2000;

export function newProfile(time: number): ContextProfile {
  return { first_seen: time, observations: 0, news: { network: 0, asn: 0, cloud: 0, ua: 0 }, values: { network: [], asn: [], cloud: [], ua: [] } };
}

export function findValue(p: ContextProfile, d: Dimension, value: string): ValueStat | undefined {
  const list = p.values[d];
  for (let i = 0; i < list.length; i++) if (list[i]!.value === value) return list[i];
  return undefined;
}

/** P(a new token context brings a value this profile has never seen), Laplace-smoothed. */
export function noveltyRate(p: ContextProfile, d: Dimension): number {
  return (p.news[d] + 1) / (p.observations + 2);
}

/** The value is the profile's own: seen from enough distinct credentials (a lone stolen one cannot teach it). */
export function isTrusted(p: ContextProfile, d: Dimension, value: string, trustedAfter: number): boolean {
  const s = findValue(p, d, value);
  return s !== undefined && s.tokens >= trustedAfter;
}

/**
 * Record a new context of one credential. `alreadyHad(d, v)` says whether that credential used the
 * value before (then it is not counted as another credential).
 */
export function observe(p: ContextProfile, c: UseContext, time: number, maxValues: number, alreadyHad: (d: Dimension, v: string) => boolean): void {
  p.observations++;
  for (const d of DIMENSIONS) {
    const v = valueOf(c, d);
    if (v === undefined) continue;
    const s = findValue(p, d, v);
    if (s === undefined) {
      p.news[d]++;
      const list = p.values[d];
      list.push({ value: v, first: time, last: time, tokens: 1 });
      if (list.length > maxValues) evictOldest(list);
    } else {
      s.last = Math.max(s.last, time);
      if (!alreadyHad(d, v)) s.tokens++;
    }
  }
  if (p.observations >= HALVE_AT) {
    p.observations /= 2;
    for (const d of DIMENSIONS) p.news[d] /= 2;
  }
}

/** A use from a context the credential already had: keep its values fresh so they are not evicted. */
export function refresh(p: ContextProfile, c: UseContext, time: number): void {
  for (const d of DIMENSIONS) {
    const v = valueOf(c, d);
    if (v === undefined) continue;
    const s = findValue(p, d, v);
    if (s !== undefined && time > s.last) s.last = time;
  }
}

function evictOldest(list: ValueStat[]): void {
  let oldest = 0;
  for (let i = 1; i < list.length; i++) if (list[i]!.last < list[oldest]!.last) oldest = i;
  list.splice(oldest, 1);
}

export function summarizeProfile(p: ContextProfile | undefined, dims: readonly Dimension[]): Record<string, unknown> | null {
  if (!p) return null;
  const out: Record<string, unknown> = { observations: Math.round(p.observations) };
  for (const d of dims) {
    out[d] = {
      novelty_rate: Number(noveltyRate(p, d).toFixed(4)),
      known: p.values[d].length,
      top: [...p.values[d]].sort((a, b) => b.tokens - a.tokens).slice(0, 5).map((s) => s.value),
    };
  }
  return out;
}
