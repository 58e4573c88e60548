/**
 * The key-level state contract (changedKeys/getKey/putKey) for every detector: a run whose state
 * is moved key by key into a fresh instance (the way the Kafka runtime restores a task from its
 * compacted changelog) gives the same alerts as the uninterrupted run; evicted keys are reported
 * and then hold nothing (tombstones); a processed event changes only the few keys it touches.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DETECTORS } from '../../detectors/index.js';
import { SHARED_STATE_KEY, type AlertDraft, type DetectorDefinition, type DetectorInstance } from '../../detectors/types.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { feedDetector } from './feed-detector.js';
import { realisticEvents } from './realistic-events.js';

const DAY = 86_400_000;
/** Keys one processed event may change (credential_context: issuer, holder, token, a suspect token). */
const MAX_KEYS_PER_EVENT = 4;

interface MigratingRun {
  alerts: AlertDraft[];
  /** The changelog: key → JSON of its last getKey (tombstoned keys removed). */
  log: Map<string, string>;
  /** Most keys one process() call reported. */
  maxPerEvent: number;
  det: DetectorInstance;
  /** The changelog's state before each checkpoint index. */
  checkpoints: ReturnType<typeof normalize>[];
}

/** Live keys an instance holds besides the shared key's entries (size() counts scope_drift's rollout entries too). */
function sharedEntries(det: DetectorInstance, id: string): number {
  if (id !== 'scope_drift') return 0;
  const s = det.getKey(SHARED_STATE_KEY) as { gains: unknown[]; pending: unknown[] } | undefined;
  return s === undefined ? 0 : s.gains.length + s.pending.length;
}

/** A fresh instance given every logged key, in reverse log order (a changelog's order is not the LRU order). */
function restoreFromLog(def: DetectorDefinition, config: unknown, log: Map<string, string>): DetectorInstance {
  const det = def.create(config);
  for (const [k, json] of [...log].reverse()) det.putKey(k, JSON.parse(json));
  expect(det.changedKeys()).toEqual([]);
  return det;
}

/**
 * Feed `events` as feedDetector does, writing changed keys to a changelog every `flushEvery`
 * events and moving the state into a fresh instance before each index in `splits`.
 */
function runMigrating(
  def: DetectorDefinition,
  config: unknown,
  events: readonly TokenEvent[],
  splits: readonly number[],
  flushEvery: number,
  closeAfterMs: number,
  checkpointsAt: readonly number[] = [],
): MigratingRun {
  const id = def.meta.id;
  const at = new Set(splits);
  const check = new Set(checkpointsAt);
  const checkpoints: ReturnType<typeof normalize>[] = [];
  const log = new Map<string, string>();
  const pending = new Set<string>();
  const alerts: AlertDraft[] = [];
  let det = def.create(config);
  expect(det.changedKeys()).toEqual([]);
  let maxPerEvent = 0;
  const flush = (): void => {
    for (const k of pending) {
      const s = det.getKey(k);
      if (s === undefined) log.delete(k);
      else log.set(k, JSON.stringify(s));
    }
    pending.clear();
    // the changelog holds exactly the live keys: every eviction was reported
    let live = 0;
    for (const k of log.keys()) if (k !== SHARED_STATE_KEY) live++;
    const held = det.size() - sharedEntries(det, id);
    if (live !== held) expect(live, `${id}: live keys in the changelog`).toBe(held);
  };
  for (let i = 0; i < events.length; i++) {
    if (check.has(i)) {
      flush();
      checkpoints.push(logState(log));
    }
    if (at.has(i)) {
      flush();
      det = restoreFromLog(def, config, log);
    }
    const e = events[i]!;
    alerts.push(...det.process(e));
    const touched = det.changedKeys();
    if (new Set(touched).size !== touched.length) expect(touched, 'each key once').toEqual([...new Set(touched)]);
    if (touched.length > maxPerEvent) maxPerEvent = touched.length;
    for (const k of touched) pending.add(k);
    alerts.push(...det.advance(e.time));
    for (const k of det.changedKeys()) pending.add(k);
    if ((i + 1) % flushEvery === 0) flush();
  }
  const last = events[events.length - 1];
  if (last) alerts.push(...det.advance(last.time + closeAfterMs));
  for (const k of det.changedKeys()) pending.add(k);
  flush();
  return { alerts, log, maxPerEvent, det, checkpoints };
}

/**
 * Key → state as JSON would carry it, without the LRU sequence numbers (a restored instance
 * continues from the highest one it was given), plus each key group's keys in LRU order.
 */
function normalize(entries: Iterable<[string, unknown]>): { states: Record<string, unknown>; lru: Record<string, string[]> } {
  const states: Record<string, unknown> = {};
  const ranked: Record<string, [number, string][]> = {};
  for (const [k, raw] of entries) {
    const st = JSON.parse(JSON.stringify(raw)) as { v?: unknown; t?: number; s?: number };
    if (k !== SHARED_STATE_KEY && typeof st.s === 'number') {
      const group = k.length > 1 && k[1] === ':' ? k.slice(0, 2) : '';
      (ranked[group] ??= []).push([st.s, k]);
      delete st.s;
    }
    states[k] = st;
  }
  const lru: Record<string, string[]> = {};
  for (const [g, xs] of Object.entries(ranked)) lru[g] = xs.sort((a, b) => a[0] - b[0]).map(([, k]) => k);
  return { states, lru };
}

/** Every live key of an instance that never tracked changes (its first changedKeys() reports all). */
function liveState(det: DetectorInstance): ReturnType<typeof normalize> {
  const keys = new Set([...det.changedKeys(), SHARED_STATE_KEY]);
  const out: [string, unknown][] = [];
  for (const k of keys) {
    const st = det.getKey(k);
    if (st !== undefined) out.push([k, st]);
  }
  return normalize(out);
}

const logState = (log: Map<string, string>): ReturnType<typeof normalize> => normalize([...log].map(([k, json]) => [k, JSON.parse(json)]));

/** The uninterrupted run: its alerts and its final state. */
function reference(def: DetectorDefinition, config: unknown, events: readonly TokenEvent[]): { alerts: AlertDraft[]; state: ReturnType<typeof normalize> } {
  const det = def.create(config);
  const alerts = feedDetector(det, events, DAY);
  return { alerts, state: liveState(det) };
}

const essentials = (alerts: readonly AlertDraft[]) => alerts.map((a) => ({ kind: a.kind, dedup_key: a.dedup_key, token_fp: a.token_fp, score: a.score }));
/** The whole drafts as JSON would carry them. */
const asJson = (alerts: readonly AlertDraft[]): unknown => JSON.parse(JSON.stringify(alerts));

/** Every split point of a short case; some spread over a long one (mint_rate_spike cases run for weeks). */
function splitPoints(n: number): number[] {
  if (n <= 40) return Array.from({ length: n - 1 }, (_, i) => i + 1);
  if (n > 2000) return [0.1, 0.5, 0.9, 0.995].map((f) => Math.floor(f * n));
  return [0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.97, 0.995].map((f) => Math.max(1, Math.floor(f * n)));
}

describe('key-level state: detector cases, split at every event (long cases: at several)', () => {
  for (const def of DETECTORS) {
    const cases = [...def.cases.positive, ...def.cases.negative];
    it(`${def.meta.id}: ${cases.length} cases`, () => {
      for (const c of cases) {
        const config = def.config.parse({ ...(c.config ?? {}) });
        const ref = reference(def, config, c.events);
        const flushEvery = c.events.length <= 100 ? 1 : 97;
        for (const split of splitPoints(c.events.length)) {
          const run = runMigrating(def, config, c.events, [split], flushEvery, DAY);
          expect(essentials(run.alerts), `${c.name}, split before event ${split}`).toEqual(essentials(ref.alerts));
          expect(asJson(run.alerts), `${c.name}, split before event ${split}`).toEqual(asJson(ref.alerts));
          expect(logState(run.log), `${c.name}, split before event ${split}: final state`).toEqual(ref.state);
          expect(run.maxPerEvent).toBeLessThanOrEqual(MAX_KEYS_PER_EVENT);
        }
        // several moves in one run, changelog written every 3 events
        const splits = [1, 2, 3, 5, 8, 13, 21, 34].filter((s) => s < c.events.length);
        const run = runMigrating(def, config, c.events, splits, 3, DAY);
        expect(asJson(run.alerts), `${c.name}, splits ${splits.join(',')}`).toEqual(asJson(ref.alerts));
        expect(logState(run.log), `${c.name}, splits ${splits.join(',')}: final state`).toEqual(ref.state);
      }
    }, 300_000);
  }
});

describe('key-level state: the realistic profile', () => {
  let events: TokenEvent[] = [];
  beforeAll(() => {
    events = realisticEvents();
  }, 120_000);

  /** Small bounds so least-recently-used eviction happens all the time. */
  const TIGHT: Record<string, Record<string, number>> = {
    token_replay: { max_tokens: 40 },
    cross_service_reuse: { max_tokens: 40 },
    credential_context: { max_tokens: 40, max_workloads: 12, max_issuers: 6 },
    scope_drift: { max_issuers: 4 },
    mint_rate_spike: { max_issuers: 4 },
  };

  for (const def of DETECTORS) {
    it(`${def.meta.id}: moved at several points, same alerts; evictions tombstoned`, () => {
      const config = def.config.parse({});
      const ref = reference(def, config, events);
      const n = events.length;
      const splits = [0.13, 0.41, 0.77].map((f) => Math.floor(f * n));
      const checkpointsAt = splits.map((i) => i + 1001);
      const run = runMigrating(def, config, events, splits, 50, DAY, checkpointsAt);
      expect(run.checkpoints).toEqual(runMigrating(def, config, events, [], 50, DAY, checkpointsAt).checkpoints);
      process.stdout.write(`${def.meta.id}: ${ref.alerts.length} alerts over ${n} events; at most ${run.maxPerEvent} keys changed per processed event\n`);
      expect(essentials(run.alerts)).toEqual(essentials(ref.alerts));
      expect(asJson(run.alerts)).toEqual(asJson(ref.alerts));
      expect(logState(run.log)).toEqual(ref.state);
      expect(run.maxPerEvent).toBeLessThanOrEqual(MAX_KEYS_PER_EVENT);

      // idle long enough for everything keyed to go: every key is reported, and holds nothing
      const live = [...run.log.keys()].filter((k) => k !== SHARED_STATE_KEY);
      run.det.advance(events[n - 1]!.time + 1000 * DAY);
      const reported = new Set(run.det.changedKeys());
      for (const k of live) {
        expect(reported.has(k), `${k} reported`).toBe(true);
        expect(run.det.getKey(k)).toBeUndefined();
      }
      expect(run.det.size() - sharedEntries(run.det, def.meta.id)).toBe(0);
    }, 120_000);

    const tight = TIGHT[def.meta.id];
    if (tight !== undefined) {
      it(`${def.meta.id}: with tight key bounds (LRU eviction), moved at several points, same alerts`, () => {
        const config = def.config.parse(tight);
        const ref = reference(def, config, events);
        const n = events.length;
        const splits = [0.29, 0.53, 0.61].map((f) => Math.floor(f * n));
        // the state shortly after each move, against an uninterrupted run's changelog at the same points
        const checkpointsAt = splits.map((i) => i + 301);
        const run = runMigrating(def, config, events, splits, 7, DAY, checkpointsAt);
        const uninterrupted = runMigrating(def, config, events, [], 7, DAY, checkpointsAt);
        expect(asJson(run.alerts)).toEqual(asJson(ref.alerts));
        expect(asJson(uninterrupted.alerts)).toEqual(asJson(ref.alerts));
        expect(run.checkpoints).toEqual(uninterrupted.checkpoints);
        expect(logState(run.log)).toEqual(ref.state);
        // + one key evicted to make room in each store the event touched (credential_context has 3)
        expect(run.maxPerEvent).toBeLessThanOrEqual(MAX_KEYS_PER_EVENT + 3);
      }, 120_000);
    }
  }

  it('the first changedKeys() of an instance that never tracked reports every live key', () => {
    for (const def of DETECTORS) {
      const det = def.create(def.config.parse({}));
      for (const e of events.slice(0, 2000)) {
        det.process(e);
        det.advance(e.time);
      }
      const keys = det.changedKeys().filter((k) => k !== SHARED_STATE_KEY);
      expect(keys.length, def.meta.id).toBe(det.size() - sharedEntries(det, def.meta.id));
      expect(keys.every((k) => det.getKey(k) !== undefined)).toBe(true);
      expect(det.changedKeys()).toEqual([]);
    }
  });

  it('reports getKey JSON bytes per key (figures for the memory work)', () => {
    const lines: string[] = [];
    for (const def of DETECTORS) {
      const det = def.create(def.config.parse({}));
      expect(det.changedKeys()).toEqual([]);
      const log = new Map<string, number>();
      const n = Math.floor(events.length * 0.6);
      for (let i = 0; i < n; i++) {
        det.process(events[i]!);
        det.advance(events[i]!.time);
        if (i % 500 === 499 || i === n - 1) {
          for (const k of det.changedKeys()) {
            const s = det.getKey(k);
            if (s === undefined) log.delete(k);
            else log.set(k, Buffer.byteLength(JSON.stringify(s)));
          }
        }
      }
      const byPrefix = new Map<string, number[]>();
      for (const [k, bytes] of log) {
        const group = k === SHARED_STATE_KEY ? SHARED_STATE_KEY : def.meta.id === 'credential_context' ? k.slice(0, 2) : 'key';
        byPrefix.set(group, [...(byPrefix.get(group) ?? []), bytes]);
      }
      for (const [group, xs] of byPrefix) {
        xs.sort((a, b) => a - b);
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const q = (p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
        lines.push(`${def.meta.id.padEnd(20)} ${def.meta.key_by.padEnd(6)} ${group.padEnd(8)} keys ${String(xs.length).padStart(6)}  mean ${mean.toFixed(0).padStart(6)} B  p50 ${q(0.5)}  p95 ${q(0.95)}  max ${q(1)}`);
      }
    }
    process.stdout.write(`getKey JSON bytes per key, live keys at 60% of the realistic stream (${events.length} events):\n${lines.join('\n')}\n`);
  });
});
