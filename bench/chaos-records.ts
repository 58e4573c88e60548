/**
 * Input of the chaos harness: simulated vendor records (src/simulate, all attacks injected, a
 * fixed seed, so every case and the embedded replay see exactly the same records) and, for the
 * `malformed` case, hostile records interleaved: bad JSON, invalid UTF-8, wrong-typed fields,
 * and well-formed copies dated 1970 and 2100. Everything is deterministic: no randomness beyond
 * the simulator's seeded PRNG.
 */
import { simulate, ATTACK_NAMES, DEFAULT_START } from '../src/simulate/index.js';
import type { SourceFormat } from '../schemas/token-event.js';

/** Records from `simulate({ hours: 48, scale: 1 })`: the scale is derived from the wanted count. */
const RECORDS_AT_SCALE_1 = 219_955;
const SIM_HOURS = 48;

export const MALFORMED_KINDS = ['bad_json', 'invalid_utf8', 'wrong_types', 'date_1970', 'date_2100'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface ChaosRecord {
  format: SourceFormat;
  value: Buffer;
  /** Set on the hostile records of the `malformed` case. */
  malformed?: MalformedKind;
}

/** Where each format keeps its event time and event id (the fields the hostile copies change). */
const FIELDS: Record<string, { time: string[]; id: string[]; wrongType: string[] }> = {
  cloudtrail: { time: ['eventTime'], id: ['eventID'], wrongType: ['sourceIPAddress'] },
  okta: { time: ['published'], id: ['uuid'], wrongType: ['client'] },
  kong: { time: ['started_at'], id: ['request', 'id'], wrongType: ['client_ip'] },
};

function getPath(o: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = o;
  for (const k of path) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

function setPath(o: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = o;
  for (const k of path.slice(0, -1)) {
    const next = cur[k];
    if (!next || typeof next !== 'object') return;
    cur = next as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

/** A time value in the shape the original field had (epoch ms, ISO with or without ms). */
function timeLike(original: unknown, ms: number): unknown {
  if (typeof original === 'number') return ms;
  const iso = new Date(ms).toISOString();
  return typeof original === 'string' && !original.includes('.') ? iso.replace(/\.\d{3}Z$/, 'Z') : iso;
}

/**
 * The `n`-th hostile record, derived from a real one (`record`, not modified): kinds cycle so
 * each is a fifth of the hostile records. Copies get a fresh event id so an id-based duplicate
 * filter does not hide them.
 */
export function malformedRecord(format: SourceFormat, record: Record<string, unknown>, n: number): ChaosRecord {
  const kind = MALFORMED_KINDS[n % MALFORMED_KINDS.length]!;
  const fields = FIELDS[format] ?? { time: [], id: [], wrongType: [] };
  const copy = structuredClone(record);
  const json = JSON.stringify(record);
  const freshId = `chaos-${kind}-${n}`;
  switch (kind) {
    case 'bad_json':
      // truncated mid-record, or not JSON at all
      return { format, malformed: kind, value: Buffer.from(n % 2 === 0 ? json.slice(0, Math.max(1, json.length >> 1)) : `not json ${n} {`) };
    case 'invalid_utf8': {
      // bytes that are not UTF-8 inside the event id string (0xff never occurs in UTF-8; 0xc3 0x28 is a broken pair)
      setPath(copy, fields.id, `${freshId}-XX`);
      const text = JSON.stringify(copy);
      const at = text.indexOf('-XX') + 1;
      return { format, malformed: kind, value: Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(text.slice(at + 2))]) };
    }
    case 'wrong_types':
      setPath(copy, fields.id, 40_000_000 + n);
      setPath(copy, fields.wrongType, n % 2 === 0 ? 12345 : ['not', 'an', 'object']);
      return { format, malformed: kind, value: Buffer.from(JSON.stringify(copy)) };
    case 'date_1970':
    case 'date_2100': {
      const base = kind === 'date_1970' ? Date.UTC(1970, 0, 1) : Date.UTC(2100, 0, 1);
      setPath(copy, fields.time, timeLike(getPath(record, fields.time), base + n * 1000));
      setPath(copy, fields.id, freshId);
      return { format, malformed: kind, value: Buffer.from(JSON.stringify(copy)) };
    }
  }
}

/**
 * Where the `malformed` hostile records go among `records` simulated ones: one after every
 * `records / malformed` simulated records (evenly spread, the first after the first gap).
 */
export function malformedSlots(records: number, malformed: number): (i: number) => number {
  if (malformed <= 0) return () => 0;
  // how many hostile records follow simulated record i: floor((i+1)·m/r) − floor(i·m/r)
  return (i) => Math.floor(((i + 1) * malformed) / records) - Math.floor((i * malformed) / records);
}

export interface SimulationPlan {
  hours: number;
  scale: number;
  /** Records the simulation yields with these settings (all of them are used). */
  records: number;
}

const simulated = (seed: number, hours: number, scale: number) =>
  simulate({ seed, start: DEFAULT_START, hours, attacks: [...ATTACK_NAMES], scale }).events;

function countRecords(seed: number, hours: number, scale: number): number {
  let n = 0;
  for (const _ of simulated(seed, hours, scale)) n++;
  return n;
}

/**
 * Simulation settings giving about `wanted` records with every attack inside them: the estate
 * scales with `scale` down to a floor (about 136k records in 48 h), so small runs simulate fewer
 * hours (at least 8, which attacks need) instead of cutting the stream, which would cut attacks.
 */
export function planSimulation(wanted: number, seed = 1): SimulationPlan {
  const scale = Math.min(1000, Math.max(0.01, wanted / RECORDS_AT_SCALE_1));
  const full = countRecords(seed, SIM_HOURS, scale);
  if (full <= wanted * 1.1) return { hours: SIM_HOURS, scale, records: full };
  const hours = Math.max(8, Math.round((SIM_HOURS * wanted) / full));
  return { hours, scale, records: countRecords(seed, hours, scale) };
}

/** The case's input, generated lazily (1M records do not fit comfortably in memory twice). */
/** Partitions of each input topic. */
export const CHAOS_PARTITIONS = 4;

/**
 * chaosRecords() with the input partition each goes to: round robin per format, decided here, not
 * by the producer's partitioner (kafkajs starts its round robin at a random partition). Each
 * partition's sequence is then the same on every run, and the reference replay reads one file per
 * partition: the same sources, so the same event-time clocks, as the runners.
 */
export function* partitionedChaosRecords(plan: SimulationPlan, malformed: number, seed = 1): Generator<ChaosRecord & { partition: number }> {
  // valid records only advance the round robin; a hostile one goes where the valid record it was
  // made from went, so the valid records' partitions (hence every source's sequence) are the same
  // with and without hostile records
  const next = new Map<string, number>();
  for (const r of chaosRecords(plan, malformed, seed)) {
    const n = next.get(r.format) ?? 0;
    if (r.malformed) {
      yield { ...r, partition: (n + CHAOS_PARTITIONS - 1) % CHAOS_PARTITIONS };
      continue;
    }
    next.set(r.format, n + 1);
    yield { ...r, partition: n % CHAOS_PARTITIONS };
  }
}

export function* chaosRecords(plan: SimulationPlan, malformed: number, seed = 1): Generator<ChaosRecord> {
  const slots = malformedSlots(plan.records, malformed);
  let i = 0;
  let bad = 0;
  for (const e of simulated(seed, plan.hours, plan.scale)) {
    yield { format: e.format, value: Buffer.from(JSON.stringify(e.record)) };
    for (let k = slots(i); k > 0; k--) yield malformedRecord(e.format, e.record, bad++);
    i++;
  }
}
