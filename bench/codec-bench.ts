/**
 * Repartition record codec benchmark (not a test): simulator token events encoded and decoded
 * with the binary codec (src/runtime/token-event-codec.ts) and with what it replaces
 * (JSON.stringify + Buffer.from on the way out, JSON.parse + TokenEvent.safeParse on the way in).
 * Prints the median of --reps runs of CPU µs/event, and bytes/event, all from this one run.
 *
 *   node dist/bench/codec-bench.js [--events 100000] [--reps 5]
 */
import { parseArgs } from 'node:util';
import { median } from 'simple-statistics';
import { TokenEvent } from '../schemas/token-event.js';
import { createFingerprinter } from '../src/core/fingerprint.js';
import { decodeValue } from '../src/pipeline/decode.js';
import { decodeRecord, encodeRecord, type RepartitionRecord } from '../src/runtime/token-event-codec.js';
import { ATTACK_NAMES, simulate } from '../src/simulate/index.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '5' },
  },
});
const N = Number(values.events);
const REPS = Number(values.reps);
const ctx = { fingerprint: createFingerprinter({ key: 'bench-key-0123456789abcdef0123' }) };

function simulatorEvents(): TokenEvent[] {
  // 48 h of the default estate is ~218k records at scale 1
  const scale = Math.max(0.1, Math.ceil((N / 200_000) * 10) / 10);
  const out: TokenEvent[] = [];
  for (const s of simulate({ seed: 42, start: Date.UTC(2026, 0, 5), hours: 48, scale, attacks: [...ATTACK_NAMES] }).events) {
    const r = decodeValue(s.record, ctx, s.format);
    if (r.ok) for (const e of r.events) if (out.push(e) >= N) return out;
  }
  if (out.length < N) throw new Error(`simulator produced only ${out.length} events`);
  return out;
}

const events = simulatorEvents();
const records: RepartitionRecord[] = events.map((event) => ({ kind: 'event', event, route: 'token', source: 'tw.in.cloudtrail', order: event.time }));
let sink = 0; // keeps results observable, so no loop is optimized away

/** CPU time (user + system, GC threads included) per event: the machine may be shared, wall time would count waiting. */
function timeIt(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / events.length;
}

const binary: Buffer[] = new Array<Buffer>(events.length);
const json: Buffer[] = new Array<Buffer>(events.length);
const encodeBinary = (): void => {
  for (let i = 0; i < records.length; i++) binary[i] = encodeRecord(records[i]!);
};
const decodeBinary = (): void => {
  for (let i = 0; i < binary.length; i++) {
    const r = decodeRecord(binary[i]!);
    if (r.kind === 'event') sink += r.event.time & 1;
  }
};
const encodeJson = (): void => {
  for (let i = 0; i < events.length; i++) json[i] = Buffer.from(JSON.stringify(events[i]));
};
const decodeJson = (): void => {
  for (let i = 0; i < json.length; i++) {
    const r = TokenEvent.safeParse(JSON.parse(json[i]!.toString('utf8')));
    if (r.success) sink += r.data.time & 1;
  }
};

const runs = { encodeBinary: [] as number[], decodeBinary: [] as number[], encodeJson: [] as number[], decodeJson: [] as number[] };
for (let rep = 0; rep < REPS; rep++) {
  runs.encodeBinary.push(timeIt(encodeBinary));
  runs.decodeBinary.push(timeIt(decodeBinary));
  runs.encodeJson.push(timeIt(encodeJson));
  runs.decodeJson.push(timeIt(decodeJson));
}

const bytes = (bufs: Buffer[]): number => bufs.reduce((n, b) => n + b.length, 0) / bufs.length;
const us = (xs: number[]): string => median(xs).toFixed(3);
const binBytes = bytes(binary);
const jsonBytes = bytes(json);
const ratio = (a: number[], b: number[]): string => (median(a) / median(b)).toFixed(3);

const row = (label: string, enc: string, dec: string, size: string): void => console.log(`${label.padEnd(31)}${enc.padStart(14)}${dec.padStart(14)}${size.padStart(13)}`);
console.log(`codec bench: ${events.length.toLocaleString('en-US')} simulator events, median of ${REPS} runs, CPU time (checksum ${sink})`);
row('', 'encode µs/ev', 'decode µs/ev', 'bytes/event');
row('binary (encode/decodeRecord)', us(runs.encodeBinary), us(runs.decodeBinary), binBytes.toFixed(1));
row('JSON (+ TokenEvent.safeParse)', us(runs.encodeJson), us(runs.decodeJson), jsonBytes.toFixed(1));
row('binary / JSON', ratio(runs.encodeBinary, runs.encodeJson), ratio(runs.decodeBinary, runs.decodeJson), (binBytes / jsonBytes).toFixed(3));
