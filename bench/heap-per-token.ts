/**
 * Heap per live token (not a test; issue 8 item 5): retained heap (V8 heap + ArrayBuffer backing
 * stores) after a forced GC, against an empty baseline, for the token inventory alone, each
 * detector alone (default config) and the Kafka runtime's two task engines (by_token: inventory
 * + token-keyed detectors, as newTask in src/runtime/kafka-runner.ts builds it, without the
 * runner-wide incident observer; by_issuer: the issuer-keyed detectors).
 *
 *   npm run build && node --expose-gc dist/bench/heap-per-token.js [--tokens 200000] [--days 5] [--scale 0.5]
 *       [--only inventory,token_replay,...] [--breakdown]
 *
 * Events: the realistic simulator profile, decoded and enriched once, kept as NDJSON in a Buffer
 * (outside the V8 heap). To reach N live tokens without simulating N tokens' worth of estate, the
 * stream is replicated: each event is emitted once per replica, in time order, with its token and
 * parent fingerprints and its event id rewritten per replica in the text, then JSON.parse'd — as the
 * by_token task gets its events from the repartition topic, every string is fresh per event and
 * nothing is shared with the baseline. Replicas of one token share its values (issuer, scopes,
 * IPs, user agent): interning gains more here than in an estate of N unrelated tokens; run with
 * a small --tokens (≤ 2 replicas) for the low-sharing figure.
 *
 * Columns: live keys = the component's own key count (detectors hold at most max_tokens = 100k by
 * default, and forget tokens idle for 24 h); bytes/key = retained / live keys; bytes/token =
 * retained / live tokens of the stream (the inventory's count, N): issue 8's ≤ 400 bytes target.
 * --breakdown: where the bytes go, by property path (bench/heap-breakdown.ts; heavy: use a small --tokens).
 */
import { parseArgs } from 'node:util';
import { createFingerprinter } from '../src/core/fingerprint.js';
import { detectorSet, parseConfig } from '../src/config/load-config.js';
import { enrichStageFor } from '../src/enrich/enrich-stage.js';
import { exceptionFilterFor } from '../src/exceptions/exception-file.js';
import { decodeValue } from '../src/pipeline/decode.js';
import { DetectionEngine } from '../src/pipeline/detection-engine.js';
import { TokenInventory } from '../src/inventory/token-inventory.js';
import { DEFAULT_START, REALISTIC_ATTACK_NAMES, simulate } from '../src/simulate/index.js';
import { DETECTORS } from '../detectors/index.js';
import type { TokenEvent } from '../schemas/token-event.js';
import { breakdown, formatBreakdown, snapshotMark } from './heap-breakdown.js';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '200000' },
    days: { type: 'string', default: '5' },
    scale: { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '3' },
    only: { type: 'string' },
    breakdown: { type: 'boolean', default: false },
  },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const N = Number(values.tokens);
const only = values.only?.split(',').map((s) => s.trim());
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

// ---- the base stream: realistic profile, decoded + enriched, in event-time order ----
const fingerprint = createFingerprinter({ key: 'bench-key-0123456789abcdef0123' });
const cfg0 = parseConfig({});
const stage = enrichStageFor(cfg0.enrich);
const sim = simulate({ seed: Number(values.seed), start: DEFAULT_START, hours: Number(values.days) * 24, scale: Number(values.scale), profile: 'realistic', attacks: [...REALISTIC_ATTACK_NAMES] });
let base: TokenEvent[] = [];
for (const s of sim.events) {
  const d = decodeValue(s.record, { fingerprint });
  if (!d.ok) continue;
  for (const ev of d.events) {
    stage?.enrich(ev);
    base.push(ev);
  }
}
base.sort((a, b) => a.time - b.time);
const baseTokens = new Set(base.map((e) => e.token.fp)).size;
const replicas = Math.max(1, Math.ceil(N / baseTokens));
const lines = base.map((e) => JSON.stringify(e));
const eventCount = lines.length;
const text = Buffer.from(lines.join('\n'));
const offsets = new Float64Array(eventCount + 1);
for (let i = 0, at = 0; i < eventCount; i++) {
  offsets[i] = at;
  at += Buffer.byteLength(lines[i]!) + 1;
  offsets[i + 1] = at;
}
const lastTime = base[base.length - 1]!.time;
base = [];
lines.length = 0;

const FP = /tw1:([0-9a-f]{24})[0-9a-f]{8}/g;
let streamTokens = 0;
/**
 * Replica r of every event, in time order (r = 0: the base stream unchanged). The j-th token to
 * appear gets ⌊(j+1)·N/T⌋ − ⌊j·N/T⌋ replicas (T base tokens): N tokens in all, spread evenly over
 * the stream's time span, so the last day (what detectors with a 24 h idle TTL hold) is as dense as the first.
 */
function* stream(): Generator<TokenEvent> {
  const repsOf = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < eventCount; i++) {
    const line = text.toString('utf8', offsets[i]!, offsets[i + 1]! - 1);
    const fpAt = line.indexOf('"fp":"') + 6;
    const fp = line.slice(fpAt, fpAt + 36);
    let n = repsOf.get(fp);
    if (n === undefined) {
      const j = repsOf.size;
      n = Math.floor(((j + 1) * N) / baseTokens) - Math.floor((j * N) / baseTokens);
      total += n;
      repsOf.set(fp, n);
    }
    for (let r = 0; r < n; r++) {
      const t = r === 0 ? line : line.replace(FP, (_m, head: string) => `tw1:${head}${r.toString(16).padStart(8, '0')}`).replace('"event_id":"', `"event_id":"r${r}:`);
      yield JSON.parse(t) as TokenEvent;
    }
  }
  streamTokens = total;
}

// ---- components ----
interface Component {
  name: string;
  ingest(e: TokenEvent): void;
  /** Event time moved by ≥ 60 s (the runtime's advance cadence) or the stream ended. */
  advance(t: number): void;
  keys(): number;
  /** The live object, for --breakdown. */
  subject(): unknown;
}

const invMax = Math.max(cfg0.inventory.max_tokens, N);
const cfg = parseConfig({ inventory: { max_tokens: invMax, max_set_size: cfg0.inventory.max_set_size } });

function inventoryComponent(): Component {
  const inv = new TokenInventory({ maxTokens: invMax, maxSetSize: cfg.inventory.max_set_size });
  let n = 0;
  return {
    name: 'inventory',
    ingest: (e) => {
      inv.observe(e);
      if (++n % 1000 === 0) inv.drainDirty(); // the runner drains every batch into the store outbox
    },
    advance: () => void inv.drainDirty(),
    keys: () => inv.size,
    subject: () => inv,
  };
}

function detectorComponent(def: (typeof DETECTORS)[number]): Component {
  const det = def.create(def.config.parse({}));
  return {
    name: `${def.meta.id} (${def.meta.key_by})`,
    ingest: (e) => void det.process(e),
    advance: (t) => void det.advance(t),
    keys: () => det.size(),
    subject: () => det,
  };
}

function engineComponent(role: 'by_token' | 'by_issuer'): Component {
  const e = cfg.engine;
  const inventory = role === 'by_token' ? new TokenInventory({ maxTokens: cfg.inventory.max_tokens, maxSetSize: cfg.inventory.max_set_size }) : undefined;
  const filter = exceptionFilterFor(cfg);
  const engine = new DetectionEngine({
    detectors: detectorSet(cfg),
    keyBy: [role === 'by_token' ? 'token' : 'issuer'],
    reorder: { maxDelayMs: e.reorder_max_delay_seconds * 1000, maxBuffered: e.reorder_max_buffered },
    suppressWindowMs: e.suppress_window_minutes * 60_000,
    maxSuppressKeys: e.max_suppress_keys,
    maxRecentEventIds: e.max_recent_event_ids,
    advanceEveryMs: 60_000,
    ...(inventory && { inventory }),
    ...(filter && { alertFilter: filter }),
  });
  let n = 0;
  return {
    name: `engine ${role}${role === 'by_token' ? ' (+inventory)' : ''}`,
    ingest: (ev) => {
      engine.ingest(ev);
      if (++n % 1000 === 0) inventory?.drainDirty();
    },
    advance: (t) => {
      if (t >= lastTime) engine.advanceTo(t); // end of input: release the reorder buffer
      inventory?.drainDirty();
    },
    keys: () => Object.values(engine.stats().state_keys).reduce((a, b) => a + b, 0) + (inventory?.size ?? 0),
    subject: () => engine,
  };
}

const factories: [string, () => Component][] = [
  ['inventory', inventoryComponent],
  ...DETECTORS.map((d): [string, () => Component] => [d.meta.id, () => detectorComponent(d)]),
  ['engine_by_token', () => engineComponent('by_token')],
  ['engine_by_issuer', () => engineComponent('by_issuer')],
];

/** V8 heap plus ArrayBuffer backing stores (typed-array columns live outside the V8 heap proper). */
function heapUsed(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

process.stdout.write(
  `heap per live token: realistic profile, ${values.days} days at scale ${values.scale} (seed ${values.seed}): ${fmt(eventCount)} events, ${fmt(baseTokens)} tokens; ` +
    `replicated to ${fmt(N)} tokens (≤ ${replicas} per base token); node ${process.version}\n\n`,
);
const rows: { name: string; keys: number; bytes: number; secs: number }[] = [];
let streamEvents = 0;
for (const [id, make] of factories) {
  if (only && !only.includes(id)) continue;
  let c: Component | undefined = make();
  const mark = values.breakdown ? await snapshotMark() : new Set<number>();
  (globalThis as Record<string, unknown>).__heapBreakdownRoot = c.subject();
  const before = heapUsed();
  const t0 = performance.now();
  let last = -Infinity;
  let events = 0;
  for (const e of stream()) {
    c.ingest(e);
    events++;
    if (e.time - last >= 60_000) {
      c.advance(e.time);
      last = e.time;
    }
  }
  streamEvents = events;
  c.advance(lastTime);
  const secs = (performance.now() - t0) / 1000;
  const after = heapUsed();
  rows.push({ name: c.name, keys: c.keys(), bytes: after - before, secs });
  process.stdout.write(`  ${c.name}: ${fmt(c.keys())} keys, ${fmt((after - before) / 1024 / 1024)} MiB retained (${secs.toFixed(0)} s)\n`);
  if (values.breakdown) process.stdout.write(formatBreakdown(await breakdown('__heapBreakdownRoot', mark), c.keys()));
  delete (globalThis as Record<string, unknown>).__heapBreakdownRoot;
  c = undefined;
}

const line = (cells: string[]): string => `| ${cells.join(' | ')} |\n`;
process.stdout.write(`\nstream: ${fmt(streamEvents)} events, ${fmt(streamTokens)} distinct tokens (bytes/token = retained / ${fmt(streamTokens)})\n\n`);
process.stdout.write(line(['component', 'live keys', 'retained MiB', 'bytes/key', 'bytes/token']));
process.stdout.write(line(['---', '---:', '---:', '---:', '---:']));
for (const r of rows) {
  process.stdout.write(line([r.name, fmt(r.keys), (r.bytes / 1024 / 1024).toFixed(1), r.keys > 0 ? fmt(r.bytes / r.keys) : '—', fmt(r.bytes / streamTokens)]));
}
const engines = rows.filter((r) => r.name.startsWith('engine '));
if (engines.length === 2) {
  const total = engines[0]!.bytes + engines[1]!.bytes;
  process.stdout.write(line(['**both task engines (inventory + all detectors)**', '', (total / 1024 / 1024).toFixed(1), '', `**${fmt(total / streamTokens)}**`]));
}
// What an engine holds beyond its components measured alone (recent event ids, suppression windows,
// reorder buffer): an estimate, low where components share objects in the engine (one event's id
// string kept by two detectors counts once there).
for (const e of engines) {
  const keyBy = e.name.includes('by_token') ? 'token' : 'issuer';
  const parts = rows.filter((r) => (keyBy === 'token' && r.name === 'inventory') || r.name.endsWith(`(${keyBy})`));
  if (parts.length !== (keyBy === 'token' ? 1 : 0) + DETECTORS.filter((d) => d.meta.key_by === keyBy).length) continue;
  const own = e.bytes - parts.reduce((a, r) => a + r.bytes, 0);
  process.stdout.write(`${e.name}: ${fmt(own / streamTokens)} bytes/token beyond its components measured alone (${parts.map((r) => r.name.replace(/ \(.*\)$/, '')).join(', ')})\n`);
}
