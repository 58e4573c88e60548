import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { Admin, Cluster, Consumer, Logger } from 'kafkajs';
import {
  STICKY_ASSIGNER_NAME,
  StickyAssigner,
  decodeOwned,
  encodeOwned,
  stickyAssign,
  type StickyMember,
  type TopicPartitions,
} from '../../src/runtime/sticky-assigner.js';
import { BROKERS, waitFor } from './kafka-test-kit.js';

const { AssignerProtocol, Kafka, logLevel } = kafkajs;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
type Result = Record<string, TopicPartitions>;

/** Members owning what `previous` gave them, subscribed to `topics`. */
const membersFrom = (ids: string[], topics: string[], previous: Result = {}, generation = 1): StickyMember[] =>
  ids.map((memberId) => ({ memberId, topics, owned: previous[memberId] ?? {}, generation }));

/** "topic/partition" → owner. */
function owners(r: Result): Map<string, string> {
  const m = new Map<string, string>();
  for (const [member, topics] of Object.entries(r))
    for (const [topic, parts] of Object.entries(topics))
      for (const p of parts) {
        expect(m.has(`${topic}/${p}`), `${topic}/${p} assigned twice`).toBe(false);
        m.set(`${topic}/${p}`, member);
      }
  return m;
}

/** Partitions whose owner differs between two assignments (new partitions count as moved only if previously owned). */
function moved(before: Result, after: Result): string[] {
  const a = owners(before);
  const b = owners(after);
  return [...a.keys()].filter((tp) => b.get(tp) !== a.get(tp));
}

function expectBalanced(r: Result, partitionsPerTopic: Record<string, number[]>, subscribers: Record<string, string[]>): void {
  const o = owners(r);
  for (const [topic, parts] of Object.entries(partitionsPerTopic)) {
    const subs = subscribers[topic]!;
    for (const p of parts) expect(subs).toContain(o.get(`${topic}/${p}`));
    const counts = subs.map((id) => r[id]?.[topic]?.length ?? 0);
    const floor = Math.floor(parts.length / subs.length);
    for (const c of counts) expect([floor, floor + 1]).toContain(c);
    expect(counts.reduce((x, y) => x + y, 0)).toBe(parts.length);
  }
}

const allSubscribe = (topics: string[], ids: string[]): Record<string, string[]> => Object.fromEntries(topics.map((t) => [t, ids]));

describe('stickyAssign (pure)', () => {
  it('fresh group: every partition once, each member floor or ceil per topic, the extras spread over members', () => {
    const ppt = { in: range(12), 'by-token': range(7), 'by-issuer': range(4), tiny: range(1) };
    const r = stickyAssign(membersFrom(['c', 'a', 'b'], Object.keys(ppt)), ppt);
    expectBalanced(r, ppt, allSubscribe(Object.keys(ppt), ['a', 'b', 'c']));
    const totals = ['a', 'b', 'c'].map((id) => Object.values(r[id]!).reduce((n, ps) => n + ps.length, 0));
    // 24 partitions: the three topics that do not divide evenly give their extra to different members
    expect(totals.sort()).toEqual([8, 8, 8]);
  });

  it('a member joining a group of 2 with 12 partitions takes exactly 4; the others keep a subset of theirs', () => {
    const ppt = { in: range(12) };
    const two = stickyAssign(membersFrom(['a', 'b'], ['in']), ppt);
    const three = stickyAssign(membersFrom(['a', 'b', 'c'], ['in'], two, 2), ppt);
    expectBalanced(three, ppt, { in: ['a', 'b', 'c'] });
    expect(moved(two, three)).toHaveLength(4);
    for (const id of ['a', 'b']) for (const p of three[id]!.in!) expect(two[id]!.in).toContain(p);
  });

  it('a member leaving moves only its partitions', () => {
    const ppt = { in: range(12), 'by-token': range(6) };
    const three = stickyAssign(membersFrom(['a', 'b', 'c'], Object.keys(ppt)), ppt);
    const two = stickyAssign(membersFrom(['a', 'c'], Object.keys(ppt), three, 2), ppt);
    expectBalanced(two, ppt, allSubscribe(Object.keys(ppt), ['a', 'c']));
    const ofB = [...owners(three)].filter(([, owner]) => owner === 'b').map(([tp]) => tp);
    expect(ofB).toHaveLength(6);
    expect(moved(three, two).sort()).toEqual(ofB.sort());
    for (const id of ['a', 'c']) for (const t of Object.keys(ppt)) for (const p of three[id]![t]!) expect(two[id]![t]).toContain(p);
  });

  it('a stable group keeps its assignment exactly, and the result does not depend on member order', () => {
    const ppt = { in: range(10), 'by-token': range(10), 'by-issuer': range(10) };
    const ids = ['m-3', 'm-1', 'm-4', 'm-2'];
    const first = stickyAssign(membersFrom(ids, Object.keys(ppt)), ppt);
    expect(stickyAssign(membersFrom([...ids].reverse(), Object.keys(ppt)), ppt)).toEqual(first);
    const again = stickyAssign(membersFrom(ids, Object.keys(ppt), first, 2), ppt);
    expect(again).toEqual(first);
    expect(stickyAssign(membersFrom([...ids].sort(), Object.keys(ppt), first, 2), ppt)).toEqual(first);
  });

  it('members with different subscriptions get partitions only of topics they subscribe to', () => {
    const ppt = { t1: range(6), t2: range(5), t3: range(3) };
    const members: StickyMember[] = [
      { memberId: 'a', topics: ['t1', 't2'], owned: {} },
      { memberId: 'b', topics: ['t1'], owned: {} },
      { memberId: 'c', topics: ['t2', 't3'], owned: { t1: [0, 1] } }, // a stale claim on a topic it left
    ];
    const r = stickyAssign(members, ppt);
    expectBalanced(r, ppt, { t1: ['a', 'b'], t2: ['a', 'c'], t3: ['c'] });
    expect(r.b!.t2).toBeUndefined();
    expect(r.c!.t1).toBeUndefined();
    // a topic nobody subscribes to is not assigned; a member with nothing to get still has an entry
    const lonely = stickyAssign([{ memberId: 'z', topics: ['t9'], owned: {} }, ...members], ppt);
    expect(lonely.z).toEqual({});
  });

  it('a new topic and new partitions of a grown topic are handed out without moving owned ones', () => {
    const before = { in: range(4) };
    const r1 = stickyAssign(membersFrom(['a', 'b'], ['in', 'by-token']), before);
    const after = { in: range(6), 'by-token': range(4) };
    const r2 = stickyAssign(membersFrom(['a', 'b'], ['in', 'by-token'], r1, 2), after);
    expectBalanced(r2, after, allSubscribe(['in', 'by-token'], ['a', 'b']));
    expect(moved(r1, r2)).toEqual([]);
  });

  it('conflicting claims on a partition: the later generation wins; claims on partitions that no longer exist are ignored', () => {
    const ppt = { in: range(4) };
    const members: StickyMember[] = [
      { memberId: 'a', topics: ['in'], owned: { in: [0, 1, 2, 3, 9] }, generation: 3 }, // expelled at generation 3, still claims all
      { memberId: 'b', topics: ['in'], owned: { in: [2, 3] }, generation: 5 },
    ];
    const r = stickyAssign(members, ppt);
    expect(r).toEqual({ a: { in: [0, 1] }, b: { in: [2, 3] } });
  });

  it('under churn (members joining and leaving at random) every result is balanced and a staying member loses a partition only above its new quota', () => {
    let seed = 42;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const ppt = { in: range(8), 'by-token': range(5), 'by-issuer': range(12) };
    const topics = Object.keys(ppt);
    let ids = ['m0', 'm1'];
    let prev = stickyAssign(membersFrom(ids, topics), ppt);
    for (let gen = 2, nextId = 2; gen < 60; gen++) {
      if (ids.length > 1 && rand(2) === 0) {
        const leaving = rand(ids.length);
        ids = ids.filter((_, i) => i !== leaving);
      } else ids = [...ids, `m${nextId++}`];
      const next = stickyAssign(membersFrom(ids, topics, prev, gen), ppt);
      expectBalanced(next, ppt, allSubscribe(topics, ids));
      for (const id of ids)
        for (const t of topics) {
          const had = prev[id]?.[t] ?? [];
          const kept = had.filter((p) => next[id]![t]?.includes(p));
          if (kept.length < had.length) expect(next[id]![t]!.length).toBe(kept.length); // dropped some: all it has now is what it kept
        }
      prev = next;
    }
  });

  it('owned partitions travel in userData; unreadable userData counts as owning nothing', () => {
    const owned = { generation: 7, assignment: { in: [0, 3], ['__proto__']: [1] } }; // a legal topic name, as an own key
    const decoded = decodeOwned(encodeOwned(owned))!;
    expect(decoded.generation).toBe(7);
    expect(Object.entries(decoded.assignment)).toEqual([['in', [0, 3]], ['__proto__', [1]]]);
    expect(encodeOwned(undefined).length).toBe(0);
    for (const bad of ['', 'not json', '[]', '{"v":2,"g":1,"a":{}}', '{"v":1,"g":"x","a":{}}', '{"v":1,"g":1,"a":[]}'])
      expect(decodeOwned(Buffer.from(bad))).toBeUndefined();
    expect(decodeOwned(Buffer.from('{"v":1,"g":1,"a":{"in":[0,-1,"2",1.5,4]}}'))!.assignment).toEqual({ in: [0, 4] });
  });
});

describe('StickyAssigner (kafkajs protocol)', () => {
  // the leader side of the protocol, fed the JoinGroup metadata other members' assigners produce
  const silent: Logger = { info: () => {}, error: () => {}, warn: () => {}, debug: () => {}, namespace: () => silent, setLogLevel: () => {} };
  const metadataCluster = (ppt: Record<string, number>): Cluster =>
    ({
      findTopicPartitionMetadata: (t: string) => range(ppt[t] ?? 0).map((partitionId) => ({ partitionId })),
      addMultipleTargetTopics: async () => {},
    }) as unknown as Cluster;

  it('assign() decodes members\' metadata and userData and encodes kafkajs member assignments', async () => {
    const cluster = metadataCluster({ in: 6, side: 2 });
    const leader = StickyAssigner({ cluster, groupId: 'g', logger: silent });
    expect(leader.name).toBe(STICKY_ASSIGNER_NAME);
    const meta = (topics: string[], owned?: { generation: number; assignment: Record<string, number[]> }) =>
      AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: encodeOwned(owned) });
    const members = [
      { memberId: 'a', memberMetadata: meta(['in'], { generation: 4, assignment: { in: [0, 1, 2] } }) },
      { memberId: 'b', memberMetadata: meta(['in', 'side'], { generation: 4, assignment: { in: [3, 4, 5] } }) },
      { memberId: 'c', memberMetadata: leader.protocol({ topics: ['in'] }).metadata },
    ];
    const out = await leader.assign({ members, topics: ['in'] });
    const decoded = Object.fromEntries(out.map((o) => [o.memberId, AssignerProtocol.MemberAssignment.decode(o.memberAssignment)!.assignment]));
    expect(decoded.a!.in!.every((p) => [0, 1, 2].includes(p))).toBe(true);
    expect(decoded.b!.in!.every((p) => [3, 4, 5].includes(p))).toBe(true);
    expect(decoded.b!.side).toEqual([0, 1]); // only b subscribes to it, though the leader does not
    expect(decoded.c!.in).toHaveLength(2);
  });
});

describe('StickyAssigner with kafkajs consumers on the broker', () => {
  const run = `tw-sticky-${randomUUID().slice(0, 8)}`;
  const topics = [`${run}.a`, `${run}.b`];
  const groupId = `${run}.group`;
  const kafka = new Kafka({ clientId: run, brokers: BROKERS, logLevel: logLevel.NOTHING });
  let admin: Admin | undefined;
  const consumers: Consumer[] = [];

  afterAll(async () => {
    for (const c of consumers) await c.disconnect().catch(() => {});
    await admin?.deleteTopics({ topics }).catch(() => {});
    await admin?.deleteGroups([groupId]).catch(() => {});
    await admin?.disconnect();
  });

  interface Member {
    consumer: Consumer;
    latest?: { memberId: string; isLeader: boolean; groupProtocol: string; assignment: Set<string> };
  }

  async function start(): Promise<Member> {
    const consumer = kafka.consumer({ groupId, partitionAssigners: [StickyAssigner], sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
    consumers.push(consumer);
    const m: Member = { consumer };
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assignment = new Set<string>();
      for (const [t, ps] of Object.entries(payload.memberAssignment as Record<string, number[]>)) for (const p of ps) assignment.add(`${t}/${p}`);
      m.latest = { memberId: payload.memberId, isLeader: payload.isLeader, groupProtocol: payload.groupProtocol, assignment };
    });
    await consumer.connect();
    await consumer.subscribe({ topics });
    await consumer.run({ eachMessage: async () => {} });
    return m;
  }

  /** Until the members' latest assignments partition the 12 partitions, 12/n each (6/n per topic). */
  const settled = (members: Member[]) =>
    waitFor(`a balanced assignment over ${members.length} members`, () => {
      const all = new Set<string>();
      for (const m of members) {
        if (!m.latest || m.latest.assignment.size !== 12 / members.length) return undefined;
        for (const tp of m.latest.assignment) all.add(tp);
        for (const t of topics) if ([...m.latest.assignment].filter((tp) => tp.startsWith(`${t}/`)).length !== 6 / members.length) return undefined;
      }
      return all.size === 12 ? members.map((m) => new Set(m.latest!.assignment)) : undefined;
    });

  const subset = (a: Set<string>, b: Set<string>): boolean => [...a].every((x) => b.has(x));

  it('a third member takes only the partitions it needs; when the leader leaves the others keep theirs', async () => {
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions: 6, replicationFactor: 1 })) });

    const m1 = await start();
    await settled([m1]);
    const m2 = await start();
    const [two1, two2] = await settled([m1, m2]);
    expect(m1.latest!.groupProtocol).toBe(STICKY_ASSIGNER_NAME);

    const m3 = await start();
    const [three1, three2, three3] = await settled([m1, m2, m3]);
    // the first two keep a subset of theirs (4 of 6 each); only the third's 4 partitions changed owner
    expect(subset(three1!, two1!)).toBe(true);
    expect(subset(three2!, two2!)).toBe(true);
    expect(three3!.size).toBe(4);

    // stop the leader: a new leader assigns from what the remaining members report in their userData
    const leader = [m1, m2, m3].find((m) => m.latest!.isLeader)!;
    const stay = [m1, m2, m3].filter((m) => m !== leader);
    const before = stay.map((m) => new Set(m.latest!.assignment));
    await leader.consumer.disconnect();
    const after = await settled(stay);
    expect(stay.some((m) => m.latest!.isLeader)).toBe(true);
    for (const [i, b] of before.entries()) expect(subset(b, after[i]!)).toBe(true);
  }, 120_000);
});
