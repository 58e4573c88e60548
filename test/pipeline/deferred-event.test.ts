/**
 * Deferred events in the engine (deferred-event.ts): the same input, ingested decoded or deferred,
 * gives the same alerts (ids included), the detectors see the same events in the same order, a
 * held deferred event is not decoded before its release and decoded once at it, and a held one
 * written to the changelog is written as the decoded event (a restore from it gives the same
 * alerts again).
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { detectorSet, parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeValue } from '../../src/pipeline/decode.js';
import type { DeferredEvent } from '../../src/pipeline/deferred-event.js';
import { DetectionEngine, type StateEntry } from '../../src/pipeline/detection-engine.js';
import { ATTACK_NAMES, simulate } from '../../src/simulate/index.js';

const ctx = { fingerprint: createFingerprinter({ key: 'deferred-test-key-0123456789abcdef' }) };
const cfg = parseConfig({});

function events(): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (const s of simulate({ seed: 11, start: Date.UTC(2026, 0, 5), hours: 30, scale: 0.3, attacks: [...ATTACK_NAMES] }).events) {
    const r = decodeValue(s.record, ctx, s.format);
    if (r.ok) out.push(...r.events);
  }
  return out;
}

/** A deferred copy that counts its decodes (each a structured clone: a new object every time). */
class CountingDeferred implements DeferredEvent {
  decodes = 0;
  readonly event_id: string;
  readonly time: number;
  constructor(private readonly ev: TokenEvent) {
    this.event_id = ev.event_id;
    this.time = ev.time;
  }
  decode(): TokenEvent {
    this.decodes++;
    return structuredClone(this.ev);
  }
}

function engine(keyBy: 'token' | 'issuer', seen: string[]): DetectionEngine {
  return new DetectionEngine({
    detectors: detectorSet(cfg),
    keyBy: [keyBy],
    reorder: { maxDelayMs: Infinity, maxBuffered: 1_000_000 },
    suppressWindowMs: 60 * 60_000,
    maxSuppressKeys: 100_000,
    maxRecentEventIds: 200_000,
    advanceEveryMs: 60_000,
    observer: { observeEvent: (e) => seen.push(e.event_id), observeSuppressed: () => {} },
  });
}

/** Ingest in arrival batches of `batch`, each followed by a release one hour of event time behind the newest event. */
function run(e: DetectionEngine, input: readonly (TokenEvent | DeferredEvent)[], batch: number, onBatch?: (i: number) => void): Alert[] {
  const alerts: Alert[] = [];
  let newest = -Infinity;
  for (let i = 0; i < input.length; i++) {
    const ev = input[i]!;
    newest = Math.max(newest, ev.time);
    alerts.push(...e.ingest(ev, ev.time, 'src'));
    if ((i + 1) % batch === 0) {
      alerts.push(...e.releaseTo(newest - 3_600_000));
      onBatch?.(i + 1);
    }
  }
  alerts.push(...e.finish());
  return alerts;
}

const ids = (alerts: readonly Alert[]): string[] => alerts.map((a) => a.alert_id);

describe('deferred events in the engine', () => {
  const evs = events();

  it('give the same alerts and the same event order as decoded events, each decoded once at its release', () => {
    expect(evs.length).toBeGreaterThan(5_000);
    for (const keyBy of ['token', 'issuer'] as const) {
      const seenDecoded: string[] = [];
      const seenDeferred: string[] = [];
      const want = run(engine(keyBy, seenDecoded), evs, 500);
      const deferred = evs.map((ev) => new CountingDeferred(ev));
      let heldUndecoded = 0;
      const got = run(engine(keyBy, seenDeferred), deferred, 500, (n) => {
        // after each release, this batch's events still held: not decoded yet
        for (let i = n - 500; i < n; i++) if (deferred[i]!.decodes === 0) heldUndecoded++;
      });
      expect(want.length).toBeGreaterThan(0);
      expect(ids(got)).toEqual(ids(want));
      expect(got).toStrictEqual(want);
      expect(seenDeferred).toEqual(seenDecoded);
      expect(heldUndecoded).toBeGreaterThan(0);
      // duplicates (dropped unseen) are never decoded; every released event exactly once
      const released = new Set(seenDeferred);
      for (const d of deferred) expect(d.decodes).toBeLessThanOrEqual(1);
      expect(deferred.filter((d) => d.decodes === 1).length).toBe(seenDeferred.length);
      expect(released.size).toBe(seenDeferred.length);
    }
  }, 60_000);

  it('writes held deferred events to the changelog decoded, and a restore from it gives the same alerts', () => {
    const half = Math.floor(evs.length / 2);
    const straight = run(engine('token', []), evs, 500);

    const first = engine('token', []);
    const state = new Map<string, unknown>();
    const keep = (entries: StateEntry[]): void => {
      for (const { key, value } of entries) if (value === undefined) state.delete(key);
      else state.set(key, value);
    };
    first.drainStateChanges(); // tracking on from here
    const before: Alert[] = [];
    let newest = -Infinity;
    for (let i = 0; i < half; i++) {
      newest = Math.max(newest, evs[i]!.time);
      before.push(...first.ingest(new CountingDeferred(evs[i]!), evs[i]!.time, 'src'));
      if ((i + 1) % 500 === 0) before.push(...first.releaseTo(newest - 3_600_000));
    }
    keep(first.drainStateChanges());
    const heldValues = [...state].filter(([k]) => k.startsWith('p/')).map(([, v]) => (v as { e: TokenEvent }).e);
    expect(heldValues.length).toBeGreaterThan(0);
    const byId = new Map(evs.map((e) => [e.event_id, e]));
    for (const e of heldValues) {
      expect(e).not.toBeInstanceOf(CountingDeferred);
      expect(e).toStrictEqual(byId.get(e.event_id));
    }

    const restored = engine('token', []);
    restored.restoreState(structuredClone([...state]));
    const after = run(restored, evs.slice(half).map((ev) => new CountingDeferred(ev)), 500);
    expect(ids([...before, ...after])).toEqual(ids(straight));
  }, 60_000);
});
