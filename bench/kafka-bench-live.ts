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

/** The event-time field each simulated format carries, and whether it holds an ISO string or epoch ms. */
const LIVE_TIME_FIELD: Record<string, { field: string; kind: 'iso' | 'ms' }> = {
  cloudtrail: { field: 'eventTime', kind: 'iso' },
  okta: { field: 'published', kind: 'iso' },
  kong: { field: 'started_at', kind: 'ms' },
};
// Placeholders as wide as what replaces them: toISOString() is 24 characters for years 0000–9999,
// epoch milliseconds 13 digits from 2001 to 2286.
const ISO_MARK = '0000-00-00T00:00:00.000Z';
const MS_MARK = 1_000_000_000_000;

/**
 * A background record serialized before the load starts, its event time written into the bytes at
 * produce: the live loop then costs the producer a byte write per record instead of the simulator's
 * generation and a JSON.stringify of ~1.9 KB (17 µs a record together, measured), so the bench's
 * own producer no longer takes the CPU the half-load target needs.
 */
export interface PreEncodedRecord {
  topic: string;
  value: Buffer;
  /** Byte offset of the event-time value inside `value`. */
  timeAt: number;
  timeKind: 'iso' | 'ms';
}

export function preEncodeLive(topic: string, format: string, rec: Rec): PreEncodedRecord {
  const spec = LIVE_TIME_FIELD[format];
  if (!spec) throw new Error(`bench: no live-time rewrite for format ${format}`);
  const text = JSON.stringify({ ...rec, [spec.field]: spec.kind === 'iso' ? ISO_MARK : MS_MARK });
  const needle = spec.kind === 'iso' ? `"${spec.field}":"${ISO_MARK}"` : `"${spec.field}":${MS_MARK}`;
  const at = text.indexOf(needle);
  if (at === -1 || text.indexOf(needle, at + 1) !== -1) throw new Error(`bench: cannot place the live time of a ${format} record`);
  const valueAt = at + needle.length - (spec.kind === 'iso' ? ISO_MARK.length + 1 : String(MS_MARK).length);
  return { topic, value: Buffer.from(text), timeAt: Buffer.byteLength(text.slice(0, valueAt)), timeKind: spec.kind };
}

/** Writes `now` into the record's event time (in place: each record is sent once); `iso` is new Date(now).toISOString(). */
export function stampLive(r: PreEncodedRecord, now: number, iso: string): Buffer {
  if (r.timeKind === 'iso') {
    if (iso.length !== ISO_MARK.length) throw new Error(`bench: ${iso} is not ${ISO_MARK.length} characters`);
    r.value.write(iso, r.timeAt, 'latin1');
  } else {
    if (!(now >= MS_MARK && now < MS_MARK * 10)) throw new Error(`bench: ${now} is not 13 digits`);
    r.value.write(String(now), r.timeAt, 'latin1');
  }
  return r.value;
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
 * Produce records from `background` (pre-encoded: preEncodeLive) at `ratePerSec` for `warmupSecs` + `seconds`, event time =
 * wall clock at produce, with a revocation pair every `injectEverySecs` on `cloudtrailTopic` after the warm-up.
 */
export async function produceLive(
  producer: Producer,
  background: Iterator<PreEncodedRecord>,
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
    const byTopic = new Map<string, { value: string | Buffer }[]>();
    const iso = new Date(now).toISOString();
    for (let i = 0; i < due; i++) {
      const it = background.next();
      if (it.done) throw new Error('bench: the pre-encoded live records ran out');
      const b = it.value;
      let list = byTopic.get(b.topic);
      if (!list) byTopic.set(b.topic, (list = []));
      list.push({ value: stampLive(b, now, iso) });
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
