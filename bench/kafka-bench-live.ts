/**
 * Produce → alert latency with live event times: simulated background records whose event time
 * is rewritten to the wall clock at produce, at a fixed rate, plus a known attack injected
 * periodically — an IAM access key deleted and then used (token_replay use_after_revocation).
 * The use's event time is its produce time, so an alert's `last_seen` (its triggering event's
 * time) is when the record was produced and arrival − last_seen is the produce → alert latency.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';

type Rec = Record<string, unknown>;

/** The record with its event-time field set to `now` (formats the simulator writes). */
export function withLiveTime(format: string, rec: Rec, now: number): Rec {
  const iso = new Date(now).toISOString();
  if (format === 'cloudtrail') return { ...rec, eventTime: iso };
  if (format === 'okta') return { ...rec, published: iso };
  if (format === 'kong') return { ...rec, started_at: now };
  throw new Error(`bench: no live-time rewrite for format ${format}`);
}

const ACCOUNT = '111122223333';
const keyId = (): string => `AKIA${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}`;

function ctRecord(time: number, user: string, callerKey: string, eventSource: string, eventName: string, requestParameters: Rec | null, ip: string): Rec {
  return {
    eventVersion: '1.08',
    userIdentity: { type: 'IAMUser', principalId: `AIDA${user.toUpperCase().replace(/[^A-Z0-9]/g, '').padEnd(17, 'X').slice(0, 17)}`, arn: `arn:aws:iam::${ACCOUNT}:user/${user}`, accountId: ACCOUNT, accessKeyId: callerKey, userName: user },
    eventTime: new Date(time).toISOString(),
    eventSource,
    eventName,
    awsRegion: 'us-east-1',
    sourceIPAddress: ip,
    userAgent: 'aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64',
    requestParameters,
    responseElements: null,
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: eventName.startsWith('List'),
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: 'Management',
  };
}

const ADMIN_KEY = keyId();

/**
 * A use-after-revocation pair: the key's DeleteAccessKey dated `revokeLeadMs` before `now` (more
 * than token_replay's clock-skew tolerance, 150 s by default; it arrives late but inside the
 * reorder delay) and an API call with the deleted key at `now`.
 */
export function revocationPair(i: number, now: number, revokeLeadMs: number): Rec[] {
  const key = keyId();
  const user = `bench-svc-${i}`;
  return [
    ctRecord(now - revokeLeadMs, 'bench-admin', ADMIN_KEY, 'iam.amazonaws.com', 'DeleteAccessKey', { userName: user, accessKeyId: key }, '203.0.113.10'),
    ctRecord(now, user, key, 's3.amazonaws.com', 'ListBuckets', null, '198.51.100.7'),
  ];
}

export interface AlertArrival {
  kind: string;
  detector: string;
  /** The alert's last evidence event time (`last_seen`: the triggering use) = its record's produce time here. */
  time: number;
  /** The alert record's Kafka timestamp: when the runner produced it, inside its transaction (before the commit). */
  producedAt: number;
  arrival: number;
}

/** Reads the alert topic from the beginning and notes when each alert arrives. */
export async function watchAlerts(kafka: Kafka, groupId: string, topic: string): Promise<{ arrivals: AlertArrival[]; stop: () => Promise<void> }> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 20 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const arrivals: AlertArrival[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      const arrival = Date.now();
      if (!message.value) return;
      const a = JSON.parse(message.value.toString()) as { kind?: string; detector?: string; last_seen?: string };
      arrivals.push({ kind: String(a.kind), detector: String(a.detector), time: Date.parse(String(a.last_seen)), producedAt: Number(message.timestamp), arrival });
    },
  });
  return { arrivals, stop: () => consumer.disconnect() };
}

export interface LiveLoad {
  produced: number;
  secs: number;
  /** Produce times (epoch ms) of the injected uses. */
  injected: Set<number>;
  loadEnd: number;
}

/**
 * Produce records from `background` (generated lazily) at `ratePerSec` for `warmupSecs` + `seconds`, event time =
 * wall clock at produce, with a revocation pair every `injectEverySecs` on `cloudtrailTopic` after the warm-up.
 */
export async function produceLive(
  producer: Producer,
  background: Iterator<{ topic: string; format: string; record: Rec }>,
  cloudtrailTopic: string,
  opts: { ratePerSec: number; seconds: number; warmupSecs: number; injectEverySecs: number; revokeLeadMs: number },
): Promise<LiveLoad> {
  const t0 = Date.now();
  const injected = new Set<number>();
  let sent = 0;
  // the background load runs `warmupSecs` before the first attack and `seconds` with attacks
  let nextInject = t0 + opts.warmupSecs * 1000 + 1000;
  for (;;) {
    const now = Date.now();
    if (now - t0 >= (opts.warmupSecs + opts.seconds) * 1000) break;
    // at most 500 records a request: after a stall of the shared machine a catch-up batch could exceed the broker's max message size
    const due = Math.min(500, Math.floor((opts.ratePerSec * (now - t0)) / 1000) - sent);
    const byTopic = new Map<string, { value: string }[]>();
    for (let i = 0; i < due; i++) {
      const it = background.next();
      if (it.done) throw new Error('bench: the live simulation ran out of records (raise --hours)');
      const b = it.value;
      let list = byTopic.get(b.topic);
      if (!list) byTopic.set(b.topic, (list = []));
      list.push({ value: JSON.stringify(withLiveTime(b.format, b.record, now)) });
    }
    if (now >= nextInject) {
      let list = byTopic.get(cloudtrailTopic);
      if (!list) byTopic.set(cloudtrailTopic, (list = []));
      for (const r of revocationPair(injected.size, now, opts.revokeLeadMs)) list.push({ value: JSON.stringify(r) });
      injected.add(now);
      nextInject += opts.injectEverySecs * 1000;
    }
    if (byTopic.size > 0) await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    sent += Math.max(0, due);
    await new Promise((r) => setTimeout(r, 20));
  }
  const loadEnd = Date.now();
  return { produced: sent, secs: (loadEnd - t0) / 1000, injected, loadEnd };
}

export function percentile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
