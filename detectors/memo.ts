/**
 * Bounded memo for pure string → value functions on a detector's hot path (IP → network,
 * audience → host identity, user agent → family). Real traffic repeats a small set of IPs,
 * hosts and user agents, so a cache turns per-event parsing into a Map lookup. Bounded: when
 * full it starts over, which keeps memory fixed and costs one re-parse per key.
 */
export function memoize<R>(fn: (key: string) => R, maxEntries = 10_000): (key: string) => R {
  let cache = new Map<string, R>();
  return (key) => {
    const hit = cache.get(key);
    if (hit !== undefined || cache.has(key)) return hit as R;
    const value = fn(key);
    if (cache.size >= maxEntries) cache = new Map();
    cache.set(key, value);
    return value;
  };
}
