/**
 * Sticky partition assignment for kafkajs (issue 8): when a member joins or leaves, only the
 * partitions that must move to keep the group balanced change owner, so the detection state of
 * every other partition stays where it is (no restore from the changelog, no dropped task).
 *
 * Per topic, each member subscribed to it gets floor or ceil of partitions/subscribers; a partition
 * stays with its previous owner while that owner is still a member subscribed to the topic and
 * within its quota; only surplus and unowned partitions are handed out, deterministically (members
 * and partitions sorted). Balancing per topic matters because the runtime reads input topics and
 * two repartition topics: a balanced total could still leave one member all of one stage.
 *
 * How a member knows what it owns: the assigner runs only on the group leader, and kafkajs has no
 * "on assignment" callback, so each member's assigner observes its own SyncGroup response (the
 * assignment the coordinator hands it, whoever the leader is) and reports it, with the generation,
 * in the userData of its JoinGroup metadata. The leader reads every member's report. When two
 * members claim one partition (a member expelled for a missed session still claims its old
 * partitions), the later generation wins.
 *
 * Caveats: every member must list `StickyAssigner` under the same protocol name (the coordinator
 * picks a protocol all members support, so list `PartitionAssigners.roundRobin` after it for a
 * rolling upgrade; assignments received under round robin are observed too, so the first sticky
 * rebalance already keeps them). Observing SyncGroup wraps `cluster.findGroupCoordinator` of the
 * consumer's own cluster (kafkajs creates one cluster per consumer) — internal to kafkajs 2.2.x;
 * without it the assigner still balances, deterministically, but without stickiness.
 */
import kafkajs from 'kafkajs';
import type { Assigner, Cluster, GroupMember, GroupMemberAssignment, Logger, PartitionAssigner } from 'kafkajs';

const { AssignerProtocol } = kafkajs;

/** Group protocol name: identical on every member, distinct from Java's "sticky" (another userData format). */
export const STICKY_ASSIGNER_NAME = 'TokenwatchStickyAssigner';
export const STICKY_ASSIGNER_VERSION = 1;

/** Partitions per topic, e.g. `{ 'in': [0, 2], 'by-token': [1] }`. */
export type TopicPartitions = Record<string, number[]>;

export interface StickyMember {
  memberId: string;
  /** Topics the member subscribes to: it gets partitions of these topics only. */
  topics: readonly string[];
  /** Partitions the member owned after the last rebalance it took part in. */
  owned: Readonly<Record<string, readonly number[]>>;
  /** Generation in which `owned` was received; of two claims on one partition the later wins. */
  generation?: number;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
// "__proto__" is a legal topic name: topic-keyed records are read and written as own properties only
const ownValue = <T>(rec: Readonly<Record<string, T>>, key: string): T | undefined => (Object.hasOwn(rec, key) ? rec[key] : undefined);
const setOwn = <T>(rec: Record<string, T>, key: string, value: T): void => {
  Object.defineProperty(rec, key, { value, enumerable: true, writable: true, configurable: true });
};
const byNumber = (a: number, b: number): number => a - b;

/**
 * The sticky assignment (pure): every member of `members` gets an entry (possibly `{}`); topics
 * without partitions or without subscribers are left out. Same input, same output, regardless of
 * the order of `members`.
 */
export function stickyAssign(
  members: readonly StickyMember[],
  partitionsPerTopic: Readonly<Record<string, readonly number[]>>,
): Record<string, TopicPartitions> {
  const sorted = [...members].sort((a, b) => byString(a.memberId, b.memberId));
  const result = new Map<string, TopicPartitions>(sorted.map((m) => [m.memberId, {}]));
  // partitions handed out so far over all topics: breaks ties so the extra partitions of
  // unevenly divisible topics do not all land on the same member
  const load = new Map<string, number>(sorted.map((m) => [m.memberId, 0]));

  for (const topic of Object.keys(partitionsPerTopic).sort(byString)) {
    const partitions = [...new Set(partitionsPerTopic[topic])].sort(byNumber);
    const subscribers = sorted.filter((m) => m.topics.includes(topic));
    if (partitions.length === 0 || subscribers.length === 0) continue;

    // previous owner of each partition; on conflicting claims the later generation, then the first member id
    const valid = new Set(partitions);
    const claim = new Map<number, { memberId: string; generation: number }>();
    for (const m of subscribers) {
      const generation = m.generation ?? -1;
      for (const p of ownValue(m.owned, topic) ?? []) {
        if (!valid.has(p)) continue;
        const prev = claim.get(p);
        if (!prev || generation > prev.generation) claim.set(p, { memberId: m.memberId, generation });
      }
    }
    const ownedBy = new Map<string, number[]>(subscribers.map((m) => [m.memberId, []]));
    for (const p of partitions) {
      const c = claim.get(p);
      if (c) ownedBy.get(c.memberId)!.push(p);
    }

    // quotas: `extra` members get one more; those already owning that many come first, so nothing moves needlessly
    const floor = Math.floor(partitions.length / subscribers.length);
    const extra = partitions.length % subscribers.length;
    const owns = (id: string): number => Math.min(ownedBy.get(id)!.length, floor + 1);
    const byPriority = [...subscribers].sort(
      (a, b) => owns(b.memberId) - owns(a.memberId) || load.get(a.memberId)! - load.get(b.memberId)! || byString(a.memberId, b.memberId),
    );
    const quota = new Map<string, number>(byPriority.map((m, i) => [m.memberId, floor + (i < extra ? 1 : 0)]));

    const assigned = new Map<string, number[]>();
    const kept = new Set<number>();
    for (const m of subscribers) {
      const keep = ownedBy.get(m.memberId)!.slice(0, quota.get(m.memberId)!);
      for (const p of keep) kept.add(p);
      assigned.set(m.memberId, keep);
    }
    const free = partitions.filter((p) => !kept.has(p));
    let next = 0;
    for (const m of subscribers) {
      const mine = assigned.get(m.memberId)!;
      while (mine.length < quota.get(m.memberId)!) mine.push(free[next++]!);
      if (mine.length === 0) continue;
      mine.sort(byNumber);
      setOwn(result.get(m.memberId)!, topic, mine);
      load.set(m.memberId, load.get(m.memberId)! + mine.length);
    }
  }
  return Object.fromEntries(result);
}

/** What a member reports about itself in the userData of its JoinGroup metadata. */
export interface OwnedPartitions {
  generation: number;
  assignment: Readonly<Record<string, readonly number[]>>;
}

const USER_DATA_VERSION = 1;

/** userData: compact JSON `{"v":1,"g":<generation>,"a":{"<topic>":[partitions]}}`. */
export function encodeOwned(owned: OwnedPartitions | undefined): Buffer {
  if (!owned) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify({ v: USER_DATA_VERSION, g: owned.generation, a: owned.assignment }));
}

/** Inverse of encodeOwned; anything unreadable (another assigner's format, a newer version) counts as owning nothing. */
export function decodeOwned(userData: Buffer | null | undefined): OwnedPartitions | undefined {
  if (!userData || userData.length === 0) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(userData.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { v, g, a } = raw as { v?: unknown; g?: unknown; a?: unknown };
  if (v !== USER_DATA_VERSION || !Number.isSafeInteger(g) || typeof a !== 'object' || a === null || Array.isArray(a)) return undefined;
  const assignment: Record<string, number[]> = {};
  for (const [topic, parts] of Object.entries(a)) {
    if (!Array.isArray(parts)) continue;
    const valid = parts.filter((p): p is number => Number.isSafeInteger(p) && p >= 0);
    setOwn(assignment, topic, valid);
  }
  return { generation: g as number, assignment };
}

type FindGroupCoordinator = (req: { groupId: string; coordinatorType?: number }) => Promise<object>;
type SyncGroup = (req: { generationId: number }) => Promise<{ memberAssignment?: Buffer | null }>;

/**
 * Calls `onAssignment` with every assignment the coordinator hands this consumer for `groupId`,
 * by wrapping the SyncGroup call of the coordinator the consumer group gets from its cluster.
 * Returns false when the cluster does not look like kafkajs 2.2's (nothing is wrapped then).
 */
function observeOwnAssignments(cluster: Cluster, groupId: string, onAssignment: (owned: OwnedPartitions) => void): boolean {
  const target = cluster as unknown as { findGroupCoordinator?: FindGroupCoordinator };
  const original = target.findGroupCoordinator;
  if (typeof original !== 'function') return false;
  const proxies = new WeakMap<object, object>();
  const observe = (broker: object): object => {
    let proxy = proxies.get(broker);
    if (!proxy) {
      const syncGroup = (broker as { syncGroup?: SyncGroup }).syncGroup;
      if (typeof syncGroup !== 'function') return broker;
      const observed: SyncGroup = async (req) => {
        const res = await syncGroup.call(broker, req);
        const decoded = res?.memberAssignment ? AssignerProtocol.MemberAssignment.decode(res.memberAssignment) : null;
        onAssignment({ generation: req.generationId, assignment: decoded?.assignment ?? {} });
        return res;
      };
      // a view of the shared broker: only SyncGroup is observed, every other call goes to the broker itself
      proxy = new Proxy(broker, {
        get(b, prop) {
          if (prop === 'syncGroup') return observed;
          const value: unknown = Reflect.get(b, prop, b);
          return typeof value === 'function' ? value.bind(b) : value;
        },
      });
      proxies.set(broker, proxy);
    }
    return proxy;
  };
  target.findGroupCoordinator = async (req) => {
    const broker = await original.call(cluster, req);
    // coordinatorType 1 is a transaction coordinator, not this group's
    return req.groupId === groupId && (req.coordinatorType ?? 0) === 0 ? observe(broker) : broker;
  };
  return true;
}

/** Partition ids of `topics` from the leader's metadata, fetching metadata for topics only other members subscribe to. */
async function partitionsOf(cluster: Cluster, topics: readonly string[], leaderTopics: readonly string[], logger: Logger): Promise<Record<string, number[]>> {
  const read = (topic: string): number[] => cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
  const unknown = topics.filter((t) => !leaderTopics.includes(t) && read(t).length === 0);
  if (unknown.length > 0) {
    try {
      await cluster.addMultipleTargetTopics(unknown);
    } catch (err) {
      logger.warn('sticky assigner: no metadata for topics other members subscribe to; they stay unassigned this generation', {
        topics: unknown,
        error: (err as Error).message,
      });
    }
  }
  return Object.fromEntries(topics.map((t) => [t, read(t)]));
}

/** A member's JoinGroup metadata; unreadable metadata counts as no subscription (the member gets nothing). */
function decodeMetadata(buf: Buffer): { topics: string[]; userData: Buffer } | null {
  try {
    return AssignerProtocol.MemberMetadata.decode(buf);
  } catch {
    return null;
  }
}

/**
 * The kafkajs partition assigner: `kafka.consumer({ partitionAssigners: [StickyAssigner, PartitionAssigners.roundRobin] })`.
 * Each consumer gets its own instance, which remembers the consumer's last assignment.
 */
export const StickyAssigner: PartitionAssigner = ({ cluster, groupId, logger }): Assigner => {
  let owned: OwnedPartitions | undefined;
  if (!observeOwnAssignments(cluster, groupId, (o) => (owned = o))) {
    logger.warn('sticky assigner: cannot observe this consumer\'s assignments (kafkajs internals changed); assignments stay balanced but not sticky', { groupId });
  }
  return {
    name: STICKY_ASSIGNER_NAME,
    version: STICKY_ASSIGNER_VERSION,

    async assign({ members, topics }: { members: GroupMember[]; topics: string[] }): Promise<GroupMemberAssignment[]> {
      const sticky: StickyMember[] = members.map(({ memberId, memberMetadata }) => {
        const meta = decodeMetadata(memberMetadata);
        const reported = decodeOwned(meta?.userData);
        return { memberId, topics: meta?.topics ?? [], owned: reported?.assignment ?? {}, generation: reported?.generation };
      });
      const allTopics = [...new Set([...topics, ...sticky.flatMap((m) => m.topics)])];
      const assignment = stickyAssign(sticky, await partitionsOf(cluster, allTopics, topics, logger));
      return members.map(({ memberId }) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: STICKY_ASSIGNER_VERSION,
          assignment: ownValue(assignment, memberId) ?? {},
          userData: Buffer.alloc(0),
        }),
      }));
    },

    protocol({ topics }: { topics: string[] }) {
      return {
        name: STICKY_ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: STICKY_ASSIGNER_VERSION, topics, userData: encodeOwned(owned) }),
      };
    },
  };
};
