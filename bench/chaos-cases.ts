/**
 * One chaos case: fresh topics, group and database; produce the records; start `tokenwatch run`;
 * inject the case's fault at a consumed fraction; wait until the group has drained (lag 0 on the
 * input and repartition topics and nothing new for a few seconds, or the case timeout); stop the
 * runners; compare the alert ids on the alert topic and in ClickHouse with the replay's.
 *
 * Recovery time: seconds from the end of a fault (the process restarted, the member joined or
 * left, the server back) until the group's committed offsets on the input and repartition topics
 * advance again (or its lag is 0). The longest stall of those commits while the group had lag is
 * in the notes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { stringify } from 'yaml';
import { groupLag } from '../src/runtime/kafka-runner.js';
import type { SourceFormat } from '../schemas/token-event.js';
import { compareIds, countIds as countIdsOf, type CaseResult } from './chaos-compare.js';
import { CHAOS_PARTITIONS, partitionedChaosRecords, type SimulationPlan } from './chaos-records.js';
import type { ChaosClickHouse, ChaosKafka } from './chaos-services.js';
import { AdminHandle, chaosKafka, clickhouseAlertRows, committedSum, dropDatabase, readAlertTopic, readClickHouse, readDeadLetters, topicRecords } from './chaos-observe.js';
import { RunnerProcess, summarizeRunnerLogs } from './chaos-runner-process.js';

const { Partitioners } = kafkajs;

export const CASE_NAMES = ['baseline', 'kill9', 'join-leave', 'clickhouse-down', 'broker-restart', 'malformed'] as const;
export type CaseName = (typeof CASE_NAMES)[number];

export const INPUT_FORMATS: readonly SourceFormat[] = ['cloudtrail', 'okta', 'kong'];
const PARTITIONS = CHAOS_PARTITIONS;

export interface HarnessDeps {
  root: string;
  /** bin/tokenwatch.js of the snapshot of dist/ the harness runs (others may rebuild dist/ meanwhile). */
  cli: string;
  runId: string;
  outDir: string;
  kafka: ChaosKafka;
  ch: ChaosClickHouse;
  plan: SimulationPlan;
  malformed: number;
  outageSecs: number;
  quietSecs: number;
  timeoutSecs: number;
  keep: boolean;
  /** Alert ids of the embedded replay of the valid records. */
  expected: ReadonlyMap<string, number>;
  /** `detector/kind` of each expected id. */
  expectedLabels: ReadonlyMap<string, string>;
  /** `detector/kind/dedup_key` of each expected id. */
  expectedKeys: ReadonlyMap<string, string>;
  log: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (f: number): string => `${Math.round(f * 100)}%`;

interface Fault {
  name: string;
  startAt: number;
  endAt?: number;
  committedAtEnd?: number;
  recoveredAt?: number;
  fraction: number;
}

/** State and helpers of one running case, used by the case scripts. */
class CaseRun {
  readonly prefix: string;
  readonly group: string;
  readonly database: string;
  readonly inputs: { topic: string; format: SourceFormat }[];
  readonly topics: { alerts: string; dead_letter: string; by_token: string; by_issuer: string; changelog: string };
  readonly runners: RunnerProcess[] = [];
  readonly faults: Fault[] = [];
  readonly notes: string[] = [];
  readonly admin: AdminHandle;
  totalInput = 0;
  /** Committed offsets on the input topics (the consumed fraction). */
  committed = 0;
  /** Committed offsets on the input and repartition topics (progress of both stages). */
  committedAll = 0;
  polls = 0;
  lag: number | undefined;
  lastChangeAt = Date.now();
  /** Undefined until the first commit: the runner's start-up is not a stall. */
  lastAdvanceAt: number | undefined;
  longestStallSecs = 0;
  deadline = 0;
  private signature = '';
  private polling = false;
  private pollLoop: Promise<void> | undefined;

  constructor(readonly name: CaseName, readonly deps: HarnessDeps) {
    this.prefix = `chaos-${deps.runId}-${name}`;
    this.group = `${this.prefix}.group`;
    this.database = `chaos_${deps.runId}_${name}`.replace(/\W/g, '_');
    this.inputs = INPUT_FORMATS.map((format) => ({ topic: `${this.prefix}.in.${format}`, format }));
    this.topics = { alerts: `${this.prefix}.alerts`, dead_letter: `${this.prefix}.dead-letter`, by_token: `${this.prefix}.by-token`, by_issuer: `${this.prefix}.by-issuer`, changelog: `${this.prefix}.changelog` };
    this.admin = new AdminHandle(chaosKafka(deps.kafka.brokers, `${this.prefix}.harness`));
  }

  get fraction(): number {
    return this.totalInput > 0 ? this.committed / this.totalInput : 0;
  }

  writeConfig(): string {
    const cfg = {
      kafka: {
        brokers: this.deps.kafka.brokers,
        client_id: this.prefix,
        group_id: this.group,
        from_beginning: true,
        inputs: this.inputs,
        topics: { ...this.topics, partitions: PARTITIONS, replication_factor: 1 },
      },
      store: { url: this.deps.ch.url, database: this.database },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
    };
    const path = join(this.deps.outDir, `${this.name}.config.yaml`);
    writeFileSync(path, `# generated by bench/chaos-cases.ts\n${stringify(cfg)}`);
    return path;
  }

  startRunner(configPath: string): RunnerProcess {
    const r = new RunnerProcess(this.deps.root, this.deps.cli, configPath, join(this.deps.outDir, `${this.name}.runner-${this.runners.length + 1}.log`));
    this.runners.push(r);
    r.start();
    return r;
  }

  async produce(): Promise<void> {
    const a = await this.admin.get();
    await a.createTopics({
      waitForLeaders: true,
      topics: [...this.inputs.map((i) => i.topic), this.topics.alerts].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
    });
    const producer = chaosKafka(this.deps.kafka.brokers, `${this.prefix}.producer`).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const t0 = Date.now();
    const topicOf = new Map(this.inputs.map((i) => [i.format, i.topic]));
    const malformed = this.name === 'malformed' ? this.deps.malformed : 0;
    let batch = new Map<string, { value: Buffer; partition: number }[]>();
    let inBatch = 0;
    const flush = async (): Promise<void> => {
      if (inBatch === 0) return;
      await producer.sendBatch({ topicMessages: [...batch].map(([topic, messages]) => ({ topic, messages })) });
      batch = new Map();
      inBatch = 0;
    };
    try {
      for (const r of partitionedChaosRecords(this.deps.plan, malformed)) {
        const topic = topicOf.get(r.format)!;
        let list = batch.get(topic);
        if (!list) batch.set(topic, (list = []));
        list.push({ value: r.value, partition: r.partition });
        this.totalInput++;
        if (++inBatch >= 1000) await flush();
      }
      await flush();
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    const secs = (Date.now() - t0) / 1000;
    // the input as the broker holds it (a producer retry could have written a copy)
    let onBroker = 0;
    for (const i of this.inputs) onBroker += await topicRecords(a, i.topic);
    if (onBroker !== this.totalInput) this.notes.push(`input topics hold ${onBroker.toLocaleString('en-US')} records for ${this.totalInput.toLocaleString('en-US')} produced`);
    this.deps.log(`  ${this.name}: produced ${this.totalInput.toLocaleString('en-US')} records${malformed ? ` (${malformed.toLocaleString('en-US')} malformed)` : ''} to ${this.inputs.length} topics × ${PARTITIONS} partitions in ${secs.toFixed(1)} s`);
  }

  /** Poll progress every second until stopped (errors while a server is down are expected). */
  startPolling(): void {
    this.polling = true;
    const watched = [...this.inputs.map((i) => i.topic), this.topics.by_token, this.topics.by_issuer];
    this.pollLoop = (async () => {
      while (this.polling) {
        const now = Date.now();
        let alertsEnd = -1;
        let chRows = -1;
        try {
          await this.admin.use(async (a) => {
            this.committed = await committedSum(a, this.group, this.inputs.map((i) => i.topic));
            const all = await committedSum(a, this.group, watched);
            if (all > this.committedAll) this.lastAdvanceAt = now;
            this.committedAll = all;
            alertsEnd = await topicRecords(a, this.topics.alerts);
            this.lag = await groupLag(a, this.group, watched).catch(() => undefined); // repartition topics exist once a runner created them
          });
        } catch {
          /* broker down */
        }
        chRows = await clickhouseAlertRows(this.deps.ch.url, this.database).catch(() => -1);
        if (this.lag !== 0 && this.lastAdvanceAt !== undefined) this.longestStallSecs = Math.max(this.longestStallSecs, (now - this.lastAdvanceAt) / 1000);
        for (const f of this.faults) {
          if (f.endAt !== undefined && f.recoveredAt === undefined && (this.committedAll > (f.committedAtEnd ?? 0) || this.lag === 0)) f.recoveredAt = Math.max(now, f.endAt); // this poll began before the fault ended: recovered at once, not before
        }
        const sig = `${this.committedAll}|${this.lag}|${alertsEnd}|${chRows}`;
        this.polls++;
        if (sig !== this.signature) {
          this.signature = sig;
          this.lastChangeAt = now;
        }
        await sleep(1000);
      }
    })();
  }

  async stopPolling(): Promise<void> {
    this.polling = false;
    await this.pollLoop;
  }

  /** Wait until the group has committed `f` of the input (or the case deadline). */
  async waitProgress(f: number): Promise<void> {
    while (this.fraction < f && Date.now() < this.deadline) await sleep(200);
  }

  beginFault(name: string): Fault {
    const fault: Fault = { name, startAt: Date.now(), fraction: this.fraction };
    this.faults.push(fault);
    this.deps.log(`  ${this.name}: ${name} at ${pct(fault.fraction)} consumed`);
    return fault;
  }

  /** The fault is over: recovery is measured from now, against the committed offsets as of now. */
  async endFault(fault: Fault): Promise<void> {
    const watched = [...this.inputs.map((i) => i.topic), this.topics.by_token, this.topics.by_issuer];
    fault.committedAtEnd = await this.admin.use((a) => committedSum(a, this.group, watched)).catch(() => this.committedAll);
    fault.endAt = Date.now();
  }

  /**
   * Drained: lag 0 and nothing new for quietSecs, after at least two polls since the fault
   * script ended. A small lag left unchanged three times as long also counts (transaction
   * markers at the end of a partition are never consumed), with a note.
   */
  async waitDrained(): Promise<boolean> {
    const markers = (this.inputs.length + 2) * PARTITIONS;
    const after = this.polls + 2;
    for (;;) {
      const quietMs = Date.now() - this.lastChangeAt;
      const inputDone = this.committed >= this.totalInput;
      if (this.polls >= after && this.lag !== undefined && inputDone) {
        if (this.lag === 0 && quietMs >= this.deps.quietSecs * 1000) return true;
        if (this.lag <= markers && quietMs >= Math.max(30, 3 * this.deps.quietSecs) * 1000) {
          this.notes.push(`ended with a lag of ${this.lag} unchanged for ${Math.round(quietMs / 1000)} s`);
          return true;
        }
      }
      if (Date.now() > this.deadline) return false;
      await sleep(500);
    }
  }
}

type CaseScript = (run: CaseRun, configPath: string) => Promise<void>;

const SCRIPTS: Record<CaseName, CaseScript> = {
  baseline: async (run, cfg) => void run.startRunner(cfg),
  malformed: async (run, cfg) => void run.startRunner(cfg),
  kill9: async (run, cfg) => {
    const r = run.startRunner(cfg);
    await run.waitProgress(0.4);
    const f = run.beginFault('kill -9');
    await r.signal('SIGKILL');
    run.startRunner(cfg);
    await run.endFault(f);
  },
  'join-leave': async (run, cfg) => {
    run.startRunner(cfg);
    await run.waitProgress(0.5);
    const join = run.beginFault('second member joins');
    const second = run.startRunner(cfg);
    await run.endFault(join);
    await run.waitProgress(0.8);
    const leave = run.beginFault('second member leaves (SIGTERM)');
    await second.signal('SIGTERM');
    await run.endFault(leave);
  },
  'clickhouse-down': async (run, cfg) => {
    run.startRunner(cfg);
    await run.waitProgress(0.4);
    const f = run.beginFault(`ClickHouse stopped ${run.deps.outageSecs} s`);
    await run.deps.ch.stop();
    await sleep(run.deps.outageSecs * 1000);
    await run.deps.ch.start();
    await run.endFault(f);
  },
  'broker-restart': async (run, cfg) => {
    run.startRunner(cfg);
    await run.waitProgress(0.4);
    const f = run.beginFault(`broker killed (SIGKILL), restarted after ${run.deps.outageSecs} s`);
    await run.deps.kafka.kill();
    await sleep(run.deps.outageSecs * 1000);
    const startSecs = await run.deps.kafka.start();
    run.notes.push(`broker start-up after the kill ${startSecs.toFixed(0)} s`);
    await run.endFault(f);
  },
};

export async function runCase(name: CaseName, deps: HarnessDeps): Promise<CaseResult> {
  const t0 = Date.now();
  mkdirSync(deps.outDir, { recursive: true });
  const run = new CaseRun(name, deps);
  const expectedIds = [...deps.expected.keys()];
  let drained = false;
  try {
    await run.produce();
    run.deadline = Date.now() + deps.timeoutSecs * 1000;
    const cfg = run.writeConfig();
    run.startPolling();
    await SCRIPTS[name](run, cfg);
    drained = await run.waitDrained();
    if (!drained) run.notes.push(`TIMEOUT after ${deps.timeoutSecs} s: ${pct(run.fraction)} of the input committed, lag ${run.lag ?? 'unknown'}`);
  } finally {
    await run.stopPolling();
    await Promise.all(run.runners.map((r) => r.signal('SIGTERM')));
  }
  const drainedSecs = (Date.now() - t0) / 1000;

  const kafka = chaosKafka(deps.kafka.brokers, `${run.prefix}.reader`);
  const topic = await run.admin.use((a) => readAlertTopic(kafka, a, run.topics.alerts, `${run.prefix}.reader`)).catch((err: Error) => {
    run.notes.push(`alert topic not readable: ${err.message}`);
    return undefined;
  });
  const chObs = await readClickHouse(deps.ch.url, run.database).catch((err: Error) => {
    run.notes.push(`ClickHouse not readable: ${err.message.split('\n')[0]}`);
    return undefined;
  });
  const deadLetters = await run.admin.use((a) => readDeadLetters(kafka, a, run.topics.dead_letter, `${run.prefix}.dead-letter-reader`)).catch(() => undefined);

  for (const f of run.faults) {
    const rec = f.recoveredAt !== undefined && f.endAt !== undefined ? `${((f.recoveredAt - f.endAt) / 1000).toFixed(1)} s` : 'never';
    run.notes.push(`${f.name} at ${pct(f.fraction)}: recovered in ${rec}`);
  }
  run.notes.push(`longest commit stall ${run.longestStallSecs.toFixed(0)} s`);
  if (chObs) run.notes.push(`token_events ${chObs.eventRows.toLocaleString('en-US')} rows / ${chObs.distinctEvents.toLocaleString('en-US')} distinct ids${chObs.eventRows > chObs.distinctEvents ? ` (${(chObs.eventRows - chObs.distinctEvents).toLocaleString('en-US')} duplicate rows)` : ''}`);
  if (deadLetters !== undefined && deadLetters.messages > 0) {
    const copies = deadLetters.messages - deadLetters.sources;
    run.notes.push(`dead letters ${deadLetters.messages.toLocaleString('en-US')} (committed messages) for ${deadLetters.sources.toLocaleString('en-US')} distinct input records${copies > 0 ? `: ${copies.toLocaleString('en-US')} written twice` : ''}`);
  }
  if (topic && topic.incidents > 0) run.notes.push(`${topic.incidents} incident messages on the alert topic`);
  if (topic && topic.unparsable > 0) run.notes.push(`${topic.unparsable} alert-topic messages that are neither alert nor incident`);
  if (topic) {
    const cmp = compareIds(expectedIds, topic.counts);
    const kinds = (ids: string[], labels: ReadonlyMap<string, string>): string => [...countIdsOf(ids.map((id) => labels.get(id) ?? '?'))].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ');
    if (cmp.lost.length > 0) run.notes.push(`lost on the topic: ${kinds(cmp.lost, deps.expectedLabels)}`);
    if (cmp.extra.length > 0) run.notes.push(`extra on the topic: ${kinds(cmp.extra, topic.labels)}`);
    const lostKeys = new Set(cmp.lost.map((id) => deps.expectedKeys.get(id)));
    const moved = cmp.extra.filter((id) => lostKeys.has(topic.keys.get(id))).length;
    if (moved > 0) run.notes.push(`${moved} of the extra ids have a lost id's detector, kind and dedup key (the same detection in another window)`);
    if (cmp.duplicatedIds.length > 0) run.notes.push(`duplicated on the topic: ${kinds(cmp.duplicatedIds, topic.labels)}`);
  }
  run.notes.push(...summarizeRunnerLogs(run.runners.map((r) => r.logPath)));
  const exits = run.runners.flatMap((r) => r.unexpectedExits);
  if (exits.length > 0) run.notes.push(`runner exited on its own ${exits.length}× (${exits.join(', ')}), restarted`);
  run.notes.push(`drained in ${drainedSecs.toFixed(0)} s`);

  if (!deps.keep) {
    await run.admin.use(async (a) => {
      const mine = (await a.listTopics()).filter((t) => t.startsWith(`${run.prefix}.`));
      await a.deleteTopics({ topics: mine });
      await a.deleteGroups([run.group, `${run.prefix}.reader`]).catch(() => undefined);
    }).catch(() => undefined);
    await dropDatabase(deps.ch.url, run.database).catch(() => undefined);
  }
  await run.admin.close();

  const recoveries = run.faults.map((f) => (f.recoveredAt !== undefined && f.endAt !== undefined ? (f.recoveredAt - f.endAt) / 1000 : Number.POSITIVE_INFINITY));
  return {
    name,
    expected: deps.expected.size,
    topic: topic && compareIds(expectedIds, topic.counts),
    clickhouse: chObs && compareIds(expectedIds, chObs.alerts),
    recoverySecs: recoveries.length > 0 ? Math.max(...recoveries) : undefined,
    notes: run.notes,
    secs: (Date.now() - t0) / 1000,
  };
}
