/**
 * kafkajs (2.2.4, its final release) looks up a coordinator with a FindCoordinator request every
 * time it needs one and never remembers the answer: a transaction asks for its transaction
 * coordinator at AddPartitionsToTxn, AddOffsetsToTxn and EndTxn and for the group coordinator at
 * TxnOffsetCommit. With one transactional producer per partition committing back to back that was
 * ~1,000 FindCoordinator requests a second against ~250 transactions (measured with the bench's
 * live load) — the largest share of the runner's socket writes and of the broker's work.
 *
 * This keeps each client's (kafkajs Cluster's) answers for `ttlMs` (2 s: ~30 lookups a second for 30 producers). A coordinator that moved
 * (broker restart, partition leadership change) answers NOT_COORDINATOR: the request fails, the
 * outbox aborts the transaction and replaces its producer — a new Cluster, so a fresh lookup —
 * and the consumer's own coordinator calls retry through kafkajs as before; the TTL bounds the
 * rest. Failed lookups are never kept.
 */
import { createRequire } from 'node:module';

interface CoordinatorQuery {
  groupId: string;
  coordinatorType?: number;
}

interface ClusterPrototype {
  findGroupCoordinatorMetadata(this: object, q: CoordinatorQuery): Promise<unknown>;
  __twCoordinatorCache?: true;
}

interface Cached {
  value: Promise<unknown>;
  at: number;
}

const caches = new WeakMap<object, Map<string, Cached>>();

/** Patch kafkajs' Cluster once per process (idempotent). */
export function installCoordinatorCache(ttlMs = 2_000): void {
  const require = createRequire(import.meta.url);
  const Cluster = require('kafkajs/src/cluster/index.js') as { prototype: ClusterPrototype };
  const proto = Cluster.prototype;
  if (proto.__twCoordinatorCache) return;
  const lookup = proto.findGroupCoordinatorMetadata;
  proto.findGroupCoordinatorMetadata = function cachedLookup(this: object, q: CoordinatorQuery): Promise<unknown> {
    let cache = caches.get(this);
    if (cache === undefined) caches.set(this, (cache = new Map()));
    const key = `${q.coordinatorType ?? 0}\u0000${q.groupId}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit !== undefined && now - hit.at < ttlMs) return hit.value;
    const value = lookup.call(this, q);
    const entry: Cached = { value, at: now };
    cache.set(key, entry);
    value.catch(() => {
      if (cache.get(key) === entry) cache.delete(key);
    });
    return value;
  };
  proto.__twCoordinatorCache = true;
}
