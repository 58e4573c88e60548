/**
 * CPU cost of the Kafka runtime's two stages without Kafka (not a test): simulator records go
 * through stage 1 (repartition-stage.ts: open, decode, validate, normalize, enrich, encode, frame)
 * as the runner's input batches would, and the frames through stage 2 (detection tasks as the
 * runner builds them: unframe, decode, reorder, detect, inventory). No broker, no network: the
 * figures are the processing share of `run`'s CPU, steadier than a Kafka run on a shared machine,
 * so a change to either stage can be judged by them. Prints the median over --reps of CPU µs per
 * input record (user + system, GC threads included) and the GC pause time per record, next to
 * what the bare loop of `bench:kafka` does per record (toString + JSON.parse).
 *
 *   node dist/bench/stage-cost.js [--records 200000] [--reps 3] [--batch 500] [--partitions 6] [--alloc-prof FILE]
 *
 * --alloc-prof writes a V8 sampling heap profile of one more pass that keeps objects the young
 * and old collections freed (where the GC work comes from), for chrome://inspect or a script.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { KafkaMessage, Message } from 'kafkajs';
import type { SourceFormat } from '../schemas/token-event.js';
import { parseConfig } from '../src/config/load-config.js';
import { createFingerprinter } from '../src/core/fingerprint.js';
import { newDetectionTask } from '../src/runtime/detection-stage.js';
import { emptyOutput } from '../src/runtime/detection-task.js';
import { createMetrics } from '../src/runtime/metrics.js';
import { RepartitionStage, repartitionOptionsFor } from '../src/runtime/repartition-stage.js';
import { ATTACK_NAMES, DEFAULT_START, simulate } from '../src/simulate/index.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    reps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '500' },
    partitions: { type: 'string', default: '6' },
    'alloc-prof': { type: 'string' },
  },
});
const N = Number(values.records);
const BATCH = Number(values.batch);
const P = Number(values.partitions);

// the records bench:kafka produces (same seed and simulation), spread over P partitions per input topic
const inputs = new Map<string, KafkaMessage[]>();
let n = 0;
for (const e of simulate({ seed: 1, start: DEFAULT_START, hours: 48, attacks: [...ATTACK_NAMES], scale: 1 }).events) {
  if (n >= N) break;
  const id = `in.${e.format}/${n % P}`;
  let list = inputs.get(id);
  if (!list) inputs.set(id, (list = []));
  list.push({ key: null, value: Buffer.from(JSON.stringify(e.record)), offset: String(list.length), timestamp: '0', attributes: 0, headers: {} } as KafkaMessage);
  n++;
}
const inputIds = [...inputs.keys()].sort();
const cfg = parseConfig({ kafka: { brokers: ['127.0.0.1:1'], inputs: [...new Set(inputIds.map((i) => i.split('/')[0]!))].map((topic) => ({ topic, format: topic.slice(3) })) } });
const formats = new Map<string, SourceFormat | 'auto'>(cfg.kafka!.inputs.map((i) => [i.topic, i.format]));
const ctx = { fingerprint: createFingerprinter({ key: 'bench-key-0123456789abcdef0123' }) };

// GC entries arrive after the synchronous pass: kept with their start time, summed per stage afterwards
const gcEntries: { start: number; ms: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcEntries.push({ start: e.startTime, ms: e.duration });
}).observe({ entryTypes: ['gc'] });
const gcBetween = async (from: number, to: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return gcEntries.filter((g) => g.start >= from && g.start < to).reduce((s, g) => s + g.ms, 0);
};

const cpu = (t0: NodeJS.CpuUsage): number => {
  const t = process.cpuUsage(t0);
  return t.user + t.system;
};

interface Pass {
  stage1Us: number;
  stage2Us: number;
  /** performance.now() at the start of stage 1, of stage 2, and at the end. */
  marks: [number, number, number];
  events: number;
  frames: number;
  frameBytes: number;
  alerts: number;
  detected: number;
}

function pass(): Pass {
  const counters = { records_in: 0, records_invalid: 0, records_skipped: 0, events_implausible: 0 };
  const metrics = createMetrics();
  const options = repartitionOptionsFor(cfg, { ctx, formats, metrics, counters });
  options.enrich?.load();
  const stage1 = new RepartitionStage({ ...options, partitions: { byToken: P, byIssuer: P } });
  const frames = new Map<string, Message[]>();
  const keep = (role: string, msgs: Message[]): void => {
    for (const m of msgs) {
      const id = `${role}/${m.partition!}`;
      let list = frames.get(id);
      if (!list) frames.set(id, (list = []));
      list.push(m);
    }
  };
  // stage 1: round robin over the input partitions, one batch each, as fetches interleave them
  let events = 0;
  const at = new Map(inputIds.map((id) => [id, 0]));
  const m0 = performance.now();
  let t0 = process.cpuUsage();
  for (let more = true; more; ) {
    more = false;
    for (const id of inputIds) {
      const list = inputs.get(id)!;
      const from = at.get(id)!;
      if (from >= list.length) continue;
      more = true;
      const batch = list.slice(from, from + BATCH);
      at.set(id, from + batch.length);
      const [topic, partition] = id.split('/') as [string, string];
      const out = stage1.process(topic, Number(partition), batch, list.length - from - batch.length);
      events += out.events;
      keep('by_token', out.byToken);
      keep('by_issuer', out.byIssuer);
    }
  }
  const stage1Us = cpu(t0);
  let frameCount = 0;
  let frameBytes = 0;
  for (const list of frames.values()) {
    frameCount += list.length;
    for (const m of list) frameBytes += (m.value as Buffer).length;
  }
  // stage 2: each task applies its partition's frames in offset order, a fetch's worth at a time
  const asMessages = [...frames].map(([id, list]) => [id, list.map((m, i) => ({ key: null, value: m.value as Buffer, offset: String(i), timestamp: '0', attributes: 0, headers: {} }) as KafkaMessage)] as const);
  let alerts = 0;
  let detected = 0;
  const m1 = performance.now();
  t0 = process.cpuUsage();
  for (const [id, list] of asMessages) {
    const [role, partition] = id.split('/') as ['by_token' | 'by_issuer', string];
    const task = newDetectionTask(cfg, role, Number(partition), role, { storeEvents: false, inputPartitions: inputIds });
    for (let i = 0; i < list.length; i += 20) {
      const out = emptyOutput();
      task.apply(list.slice(i, i + 20), out);
      alerts += out.alerts.length;
      detected += out.detected;
    }
  }
  const stage2Us = cpu(t0);
  return { stage1Us, stage2Us, marks: [m0, m1, performance.now()], events, frames: frameCount, frameBytes, alerts, detected };
}

/** The bare loop's own work per record (bench:kafka's consumer: value.toString + JSON.parse). */
function bareUs(): number {
  let keys = 0;
  const t0 = process.cpuUsage();
  for (const list of inputs.values()) for (const m of list) keys += Object.keys(JSON.parse((m.value as Buffer).toString()) as object).length;
  if (keys === 0) throw new Error('no records');
  return cpu(t0);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const per = (us: number): string => (us / n).toFixed(1);

const passes: Pass[] = [];
const gc: { s1: number; s2: number }[] = [];
const bare: number[] = [];
for (let r = 0; r < Number(values.reps); r++) {
  bare.push(bareUs());
  passes.push(pass());
  const p = passes[passes.length - 1]!;
  const g = { s1: await gcBetween(p.marks[0], p.marks[1]), s2: await gcBetween(p.marks[1], p.marks[2]) };
  gc.push(g);
  console.log(`  rep ${r + 1}: stage 1 ${per(p.stage1Us)} µs/record (GC pauses ${per(g.s1 * 1000)}), stage 2 ${per(p.stage2Us)} (GC ${per(g.s2 * 1000)}), bare ${per(bare[r]!)}; ${p.events} repartitioned events in ${p.frames} frames (${(p.frameBytes / p.events).toFixed(0)} B/event), ${p.detected} detected, ${p.alerts} alerts`);
}
const m = (f: (p: Pass) => number): number => median(passes.map(f));
const total = m((p) => p.stage1Us + p.stage2Us);
console.log(`\n| CPU per input record (${n.toLocaleString('en-US')} records, ${P} partitions per input topic, batches of ${BATCH}; median of ${passes.length}) | µs |`);
console.log('|---|---|');
console.log(`| stage 1: open, decode, validate, normalize, enrich, encode, frame | ${per(m((p) => p.stage1Us))} |`);
console.log(`| stage 2: unframe, decode, reorder, detect, inventory (by_token and by_issuer tasks) | ${per(m((p) => p.stage2Us))} |`);
console.log(`| both stages | **${per(total)}** |`);
console.log(`| GC pauses inside them | ${per(median(gc.map((g) => (g.s1 + g.s2) * 1000)))} |`);
console.log(`| the bare loop's toString + JSON.parse | ${per(median(bare))} |`);

const file = values['alloc-prof'];
if (file) {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  pass();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  writeFileSync(file, JSON.stringify(profile));
  console.log(`allocation profile of one more pass: ${file}`);
}
