/**
 * The engine's key-level state (detection-engine.ts drainStateChanges/restoreState): a task whose
 * changed keys are written to a changelog after every batch, and that is rebuilt from that
 * changelog at arbitrary points (a crash, a rebalance), raises exactly the alerts of a task that
 * never stopped — including events still held for ordering and suppression windows.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../schemas/alert.js';
import { parseConfig, detectorSet } from '../../src/config/load-config.js';
import { DetectionEngine } from '../../src/pipeline/detection-engine.js';
import { realisticEvents } from '../detectors/realistic-events.js';

const cfg = parseConfig({});
const newEngine = (): DetectionEngine =>
  new DetectionEngine({
    detectors: detectorSet(cfg),
    reorder: { maxDelayMs: 300_000, maxBuffered: 100_000 },
    suppressWindowMs: 60 * 60_000,
    maxSuppressKeys: 100_000,
    maxRecentEventIds: 200_000,
    advanceEveryMs: 60_000,
  });

const events = realisticEvents({ days: 5, scale: 0.02 });
const ids = (alerts: readonly Alert[]): string[] => alerts.map((a) => a.alert_id).sort();

describe('engine key-level state', () => {
  it('a task rebuilt from its changelog at any batch boundary raises the alerts of one that never stopped', () => {
    expect(events.length).toBeGreaterThan(2000);
    const reference = newEngine();
    const expected: Alert[] = [];
    for (const ev of events) expected.push(...reference.ingest(ev));
    expected.push(...reference.finish());
    expect(expected.length).toBeGreaterThan(3);

    const BATCH = 400;
    const splits = new Set([1, 5, 20, 60, 61, 100].map((b) => Math.floor((events.length / BATCH) * (b / 110))));
    const changelog = new Map<string, string>();
    let engine = newEngine();
    const got: Alert[] = [];
    let restores = 0;
    let heldRestored = 0;
    for (let b = 0; b * BATCH < events.length; b++) {
      if (splits.has(b)) {
        engine = newEngine();
        const entries = [...changelog].map(([k, v]) => [k, JSON.parse(v)] as const);
        heldRestored += entries.filter(([k]) => k.startsWith('p/')).length;
        engine.restoreState(entries);
        restores++;
      }
      for (const ev of events.slice(b * BATCH, (b + 1) * BATCH)) got.push(...engine.ingest(ev));
      for (const { key, value } of engine.drainStateChanges()) {
        if (value === undefined) changelog.delete(key);
        else changelog.set(key, JSON.stringify(value));
      }
    }
    got.push(...engine.finish());
    expect(restores).toBeGreaterThanOrEqual(5);
    expect(heldRestored).toBeGreaterThan(0); // events held for ordering crossed a restore
    expect(ids(got)).toEqual(ids(expected));
  });

  it('writes tombstones for released held events and evicted suppression windows, so the changelog stays bounded', () => {
    const engine = newEngine();
    const live = new Map<string, unknown>();
    let maxLive = 0;
    for (let i = 0; i < events.length; i += 50) {
      for (const ev of events.slice(i, i + 50)) engine.ingest(ev);
      for (const { key, value } of engine.drainStateChanges()) {
        if (value === undefined) live.delete(key);
        else live.set(key, value);
      }
      maxLive = Math.max(maxLive, [...live.keys()].filter((k) => k.startsWith('p/')).length);
    }
    engine.finish();
    for (const { key, value } of engine.drainStateChanges()) {
      if (value === undefined) live.delete(key);
      else live.set(key, value);
    }
    expect(maxLive).toBeGreaterThan(0);
    expect([...live.keys()].filter((k) => k.startsWith('p/'))).toEqual([]); // everything released
    const suppress = [...live.keys()].filter((k) => k.startsWith('s/')).length;
    expect(suppress).toBeLessThanOrEqual(engine.stats().alerts ? Object.values(engine.stats().alerts).reduce((a, b) => a + b, 0) : 0);
    // the changelog holds no more detector keys than the detectors hold live keys
    const detectorKeys = [...live.keys()].filter((k) => k.startsWith('d/')).length;
    const liveKeys = Object.values(engine.stats().state_keys).reduce((a, b) => a + b, 0);
    expect(detectorKeys).toBeLessThanOrEqual(liveKeys + Object.keys(engine.stats().state_keys).length);
  });

  it('a held copy replaced by a preferred one leaves no held key behind once released, before or after the next drain', () => {
    const MIN = 60_000;
    const base = events[0]!;
    const copy = (time: number) => ({ ...base, event_id: 'evt-twin-1', time });
    const apply = (engine: DetectionEngine, live: Map<string, unknown>): { key: string; value: unknown }[] => {
      const changes = engine.drainStateChanges();
      for (const { key, value } of changes) {
        if (value === undefined) live.delete(key);
        else live.set(key, value);
      }
      return changes;
    };
    const t0 = Math.ceil(base.time / MIN) * MIN;

    // the preferred copy (earlier) is held and released before any drain: the replaced copy's key is removed
    const held = newEngine();
    const live1 = new Map<string, unknown>();
    held.ingest(copy(t0 + 10 * MIN));
    apply(held, live1);
    expect(live1.has('p/evt-twin-1')).toBe(true);
    held.ingest(copy(t0 + 9 * MIN)); // not late: held, replaces the first copy
    held.advanceTo(t0 + 20 * MIN);
    const changes = apply(held, live1);
    expect(changes.filter((c) => c.key === 'p/evt-twin-1')).toEqual([{ key: 'p/evt-twin-1', value: undefined }]);
    expect([...live1.keys()].filter((k) => k.startsWith('p/'))).toEqual([]);
    expect(held.stats().duplicates).toBe(1);

    // held again and drained in between: written once more, then removed on release
    const drained = newEngine();
    const live2 = new Map<string, unknown>();
    drained.ingest(copy(t0 + 10 * MIN));
    apply(drained, live2);
    drained.ingest(copy(t0 + 9 * MIN));
    apply(drained, live2);
    expect((live2.get('p/evt-twin-1') as { e: { time: number } }).e.time).toBe(t0 + 9 * MIN);
    drained.advanceTo(t0 + 20 * MIN);
    apply(drained, live2);
    expect([...live2.keys()].filter((k) => k.startsWith('p/'))).toEqual([]);

    // the preferred copy arrives late (released at once): the held copy it replaced is removed too
    const late = newEngine();
    const live3 = new Map<string, unknown>();
    late.ingest(copy(t0 + 10 * MIN));
    apply(late, live3);
    late.advanceTo(t0 + 5 * MIN); // released up to 5 min: the copy at 10 stays held
    late.ingest(copy(t0 + 4 * MIN)); // late, and preferred (earlier)
    apply(late, live3);
    expect([...live3.keys()].filter((k) => k.startsWith('p/'))).toEqual([]);
    late.advanceTo(t0 + 20 * MIN);
    expect(apply(late, live3).filter((c) => c.key.startsWith('p/'))).toEqual([]); // the dropped copy is never released
  });
});
