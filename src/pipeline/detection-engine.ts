/**
 * route by key → detect → alert, in event time. The same engine runs in the embedded runner
 * (one task for everything) and in the Kafka runner (one task per repartition partition).
 *
 * Per event: dedupe on event_id (vendors such as Entra write several rows per request),
 * reorder within a bounded buffer, hand released events to every detector, advance
 * detectors on the watermark, suppress repeats per (detector, dedup key) within a window.
 */
import type { Alert, DetectorId } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { AlertDraft, DetectorDefinition, DetectorInstance, KeyBy } from '../../detectors/types.js';
import { buildAlert } from './alert-builder.js';
import { ReorderBuffer, type HeldEvent, type ReorderOptions } from './reorder-buffer.js';
import { materialize, type IngestedEvent } from './deferred-event.js';
import { KeyedStore } from '../core/keyed-store.js';
import { RecentIdSet } from '../core/recent-id-set.js';
import type { TokenInventory } from '../inventory/token-inventory.js';

export interface EngineOptions {
  detectors: readonly { definition: DetectorDefinition; config: unknown }[];
  /** Only run detectors routed by these keys (Kafka: a token task or an issuer task). */
  keyBy?: readonly KeyBy[];
  reorder: ReorderOptions;
  /** Repeats of one (detector, dedup key) inside this event-time window fold into the first alert. */
  suppressWindowMs: number;
  maxSuppressKeys: number;
  /** Recent event ids remembered for duplicate suppression. */
  maxRecentEventIds: number;
  /** Detectors are advanced when the watermark moves by at least this much. */
  advanceEveryMs: number;
  inventory?: TokenInventory;
  /** Drops drafts before they become alerts (operator exceptions, src/exceptions/); sees the trigger event's time. */
  alertFilter?: AlertFilter;
  /** Sees every released event and every suppressed repeat (the incident builder: chains and repeat counts). */
  observer?: EngineObserver;
}

export interface EngineObserver {
  observeEvent(ev: TokenEvent): void;
  /** A repeat of the alert `alertId` was suppressed at event time `time`. */
  observeSuppressed(alertId: string, time: number): void;
}

/** Decides, before suppression, whether a detector's draft is dropped; returns the id of the rule that dropped it. */
export interface AlertFilter {
  drop(detector: DetectorId, draft: AlertDraft, time: number): string | undefined;
}

export const DEFAULT_ENGINE_OPTIONS: Omit<EngineOptions, 'detectors'> = {
  reorder: { maxDelayMs: 5 * 60_000, maxBuffered: 100_000 },
  suppressWindowMs: 60 * 60_000,
  maxSuppressKeys: 100_000,
  maxRecentEventIds: 200_000,
  advanceEveryMs: 60_000,
};

/**
 * One entry of a task's key-level state (Kafka Streams' key-value store as its changelog sees it):
 * `value` undefined is a deletion (a tombstone on the changelog). Keys:
 *   d/<detector>/<key>  a detector's state for one of its keys (DetectorInstance.getKey)
 *   s/<detector>:<dedup key>  a suppression window (the first alert's time and id)
 *   p/<event id>  an event consumed but still held for ordering (not yet seen by detectors):
 *                 { e: event, o: order time, s: source }
 *   c  the engine's clock: released watermark, newest event, last detector advance
 */
export interface StateEntry {
  key: string;
  value: unknown;
}

/** A held event as its state key stores it. */
interface HeldValue {
  e: TokenEvent;
  o: number;
  s: string;
}

const SUPPRESS = 's/';
const HELD = 'p/';
const CLOCK = 'c';
const DETECTOR = 'd/';

export interface EngineStats {
  events_in: number;
  duplicates: number;
  late: number;
  forced_releases: number;
  buffered: number;
  alerts: Record<string, number>;
  suppressed: number;
  watermark: number;
  state_keys: Record<string, number>;
}

interface Task {
  definition: DetectorDefinition;
  instance: DetectorInstance;
}

export class DetectionEngine {
  private readonly tasks: Task[];
  private readonly buffer: ReorderBuffer;
  /** Ids of released events, for duplicate suppression (hashes in a fixed table: recent-id-set.ts). */
  private readonly recentIds: RecentIdSet;
  /** Per (detector, dedup key): event time of the last alert emitted, forgotten once its window passed. */
  private readonly lastAlertAt: KeyedStore<{ at: number; alertId: string }>;
  private lastAdvance = -Infinity;
  private readonly counters = { events_in: 0, duplicates: 0, suppressed: 0 };
  private readonly alertsPerDetector: Record<string, number> = {};
  /** Change tracking for drainStateChanges(), from its first call on (the embedded runner never pays for it). */
  private tracking = false;
  /** Events held for ordering, by id: a second copy of one is kept or dropped deterministically. */
  private readonly heldById = new Map<string, HeldEvent>();
  /**
   * Held events to write at the next drain (flagged `dirty`, kept in arrival order); ids written as
   * held and released since (their tombstones). Whether a held event's key is on the changelog is
   * its `written` flag — flags, not id maps: two Map operations fewer per event on the hot path.
   */
  private heldDirty: HeldEvent[] = [];
  private releasedWritten: string[] = [];
  private clockWritten = '';

  constructor(private readonly opts: EngineOptions) {
    this.lastAlertAt = new KeyedStore(opts.maxSuppressKeys, opts.suppressWindowMs);
    this.recentIds = new RecentIdSet(opts.maxRecentEventIds);
    this.tasks = opts.detectors
      .filter((d) => !opts.keyBy || opts.keyBy.includes(d.definition.meta.key_by))
      .map((d) => ({ definition: d.definition, instance: d.definition.create(d.config) }));
    this.buffer = new ReorderBuffer({ ...opts.reorder, onRelease: (held) => this.released(held) });
  }

  /**
   * Ingest one normalized event (or a deferred one, decoded when released: deferred-event.ts);
   * returns alerts that became ready. `order` is where it sorts
   * (reorder-buffer.ts: its time, or just past its source's watermark when it was late there) and
   * `source` the source it came from: both default to a single in-order stream.
   *
   * Duplicate event ids (Entra writes several rows per request; a record read twice): one copy is
   * kept, chosen by (order time, source) rather than by which arrived first, so which copy the
   * detectors see does not depend on how the sources interleaved.
   */
  ingest(ev: IngestedEvent, order = ev.time, source = ''): Alert[] {
    this.counters.events_in++;
    const id = ev.event_id;
    if (this.recentIds.has(id)) {
      this.counters.duplicates++;
      return [];
    }
    const twin = this.heldById.get(id);
    if (twin !== undefined) {
      this.counters.duplicates++;
      if (!(order < twin.order || (order === twin.order && source < twin.source))) return [];
      this.buffer.drop(twin);
      this.heldById.delete(id);
    }
    const ready: IngestedEvent[] = [];
    const held = this.buffer.add(ev, order, source, ready);
    if (held !== undefined) {
      this.heldById.set(id, held);
      if (this.tracking) {
        held.dirty = true;
        // released entries stay in the queue until the next drain: compact it so that it never holds
        // more than twice what is held (a checkpoint every 30 s would otherwise keep every event of them)
        if (this.heldDirty.length >= 2 * this.buffer.size + 1024) this.heldDirty = this.heldDirty.filter((h) => h.dirty && !h.dropped);
        this.heldDirty.push(held);
        if (twin?.written) held.written = true; // the key holds the replaced copy: this one's release removes it
      }
    } else if (this.tracking && twin?.written) {
      this.releasedWritten.push(id); // the preferred copy was late (released now): the replaced copy's key goes
    }
    return this.process(ready);
  }

  /**
   * Move the watermark without an event (idle partitions, end of a bounded replay).
   * Releases buffered events up to `wm` and closes detector windows.
   */
  advanceTo(wm: number): Alert[] {
    const alerts = this.process(this.buffer.releaseUpTo(wm));
    this.advanceDetectors(wm, alerts, true);
    return alerts;
  }

  /**
   * The task's sources moved the watermark (watermark-tracker.ts): release buffered events up to
   * `wm` in event-time order. Detector windows close on the usual cadence (advanceEveryMs), so
   * calling this after every batch costs nothing when nothing is released.
   */
  releaseTo(wm: number): Alert[] {
    if (!(wm > this.buffer.watermark)) return [];
    return this.process(this.buffer.releaseUpTo(wm));
  }

  /** End of a bounded input: release everything and close all windows `horizonMs` past the last event. */
  finish(horizonMs = 24 * 60 * 60_000): Alert[] {
    const alerts = this.process(this.buffer.drain());
    this.advanceDetectors(this.buffer.watermark + horizonMs, alerts, true);
    return alerts;
  }

  get watermark(): number {
    return this.buffer.watermark;
  }

  /**
   * Detectors advance at fixed points of event time (multiples of advanceEveryMs), each just
   * before the first event after it — never wherever a batch happened to end. A replay that
   * releases one record at a time and a Kafka task that releases a batch at once then show every
   * detector the same events before the same advance: the same alerts, the same ids.
   */
  private process(ready: readonly IngestedEvent[]): Alert[] {
    const alerts: Alert[] = [];
    const step = this.opts.advanceEveryMs;
    for (const item of ready) {
      // decoded at its turn, not the whole release at once: a backlog's release is thousands of
      // events, and decoded together they would all outlive a young collection
      const ev = materialize(item);
      if (ev.time > this.lastAdvance + step) {
        const boundary = Math.floor((ev.time - 1) / step) * step;
        if (boundary > this.lastAdvance) this.advanceDetectors(boundary, alerts, true);
      }
      this.recentIds.add(ev.event_id);
      this.opts.inventory?.observe(ev);
      this.opts.observer?.observeEvent(ev);
      for (const t of this.tasks) {
        for (const d of t.instance.process(ev)) this.emit(t, d, ev.time, alerts);
      }
    }
    const wm = this.buffer.watermark;
    if (Number.isFinite(wm)) {
      const boundary = Math.floor(wm / step) * step;
      if (boundary > this.lastAdvance) this.advanceDetectors(boundary, alerts, true);
    }
    return alerts;
  }

  /**
   * The buffer released a held entry (detectors see it next, in process()): it is no longer held
   * by id — the only live copy of its id, so the map's entry is this one, or none while add() is
   * still placing it — and its changelog key, if written, goes.
   */
  private released(held: HeldEvent): void {
    this.heldById.delete(held.ev.event_id);
    held.dirty = false;
    if (held.written) this.releasedWritten.push(held.ev.event_id);
  }

  private advanceDetectors(wm: number, alerts: Alert[], force: boolean): void {
    if (!Number.isFinite(wm)) return;
    if (!force && wm < this.lastAdvance + this.opts.advanceEveryMs) return;
    if (wm <= this.lastAdvance) return;
    this.lastAdvance = wm;
    for (const t of this.tasks) {
      for (const d of t.instance.advance(wm)) {
        const last = d.events[d.events.length - 1];
        this.emit(t, d, last?.time ?? wm, alerts);
      }
    }
    this.lastAlertAt.evictIdle(wm); // suppression windows that have passed
  }

  private emit(t: Task, draft: Parameters<typeof buildAlert>[1], time: number, out: Alert[]): void {
    if (this.opts.alertFilter?.drop(t.definition.meta.id, draft, time) !== undefined) return; // excepted: counted by the filter
    const key = `${t.definition.meta.id}:${draft.dedup_key}`;
    const prev = this.lastAlertAt.get(key);
    if (prev !== undefined && time - prev.at < this.opts.suppressWindowMs) {
      this.counters.suppressed++;
      this.opts.observer?.observeSuppressed(prev.alertId, time);
      return;
    }
    this.lastAlertAt.delete(key); // re-touch with this alert's time as the start of a new window
    const alert = buildAlert(t.definition.meta, draft);
    this.lastAlertAt.touch(key, time, () => ({ at: time, alertId: alert.alert_id }));
    const id = t.definition.meta.id;
    this.alertsPerDetector[id] = (this.alertsPerDetector[id] ?? 0) + 1;
    out.push(alert);
  }

  stats(): EngineStats {
    const state_keys: Record<string, number> = {};
    for (const t of this.tasks) state_keys[t.definition.meta.id] = t.instance.size();
    return {
      ...this.counters,
      late: this.buffer.late,
      forced_releases: this.buffer.forced,
      buffered: this.buffer.size,
      alerts: { ...this.alertsPerDetector },
      watermark: this.buffer.watermark,
      state_keys,
    };
  }

  /**
   * Key-level state changed since the last call (the first call returns all of it), for the
   * task's changelog: only what a batch touched is written, in the same transaction as the
   * offsets that caused it.
   */
  drainStateChanges(): StateEntry[] {
    const out: StateEntry[] = [];
    if (!this.tracking) {
      this.tracking = true;
      for (const h of this.buffer.held()) {
        h.dirty = true;
        this.heldDirty.push(h);
      }
    }
    for (const t of this.tasks) {
      const id = t.definition.meta.id;
      for (const key of t.instance.changedKeys()) out.push({ key: `${DETECTOR}${id}/${key}`, value: t.instance.getKey(key) });
    }
    // the store tracks touched and evicted windows itself (its first drain: all of them)
    for (const key of this.lastAlertAt.drainChanged()) out.push({ key: SUPPRESS + key, value: this.lastAlertAt.get(key) });
    for (const h of this.heldDirty) {
      // released, or replaced by a preferred copy, since it was queued: nothing to write for it
      if (!h.dirty || h.dropped) continue;
      h.dirty = false;
      h.written = true;
      out.push({ key: HELD + h.ev.event_id, value: { e: materialize(h.ev), o: h.order, s: h.source } satisfies HeldValue });
    }
    this.heldDirty = [];
    for (const id of this.releasedWritten) out.push({ key: HELD + id, value: undefined });
    this.releasedWritten = [];
    const { released, maxSeen } = this.buffer.clock();
    const clock = { released: finiteOrNull(released), max_seen: finiteOrNull(maxSeen), last_advance: finiteOrNull(this.lastAdvance) };
    const text = JSON.stringify(clock);
    if (text !== this.clockWritten) {
      this.clockWritten = text;
      out.push({ key: CLOCK, value: clock });
    }
    return out;
  }

  /**
   * Resume from the latest value of every state key (a changelog read from its beginning), before
   * any event: detector keys, suppression windows, held events, the clock.
   */
  restoreState(entries: Iterable<readonly [string, unknown]>): void {
    const byId = new Map(this.tasks.map((t) => [t.definition.meta.id as string, t]));
    const held: { ev: TokenEvent; order: number; source: string }[] = [];
    let clock: { released: number | null; max_seen: number | null; last_advance: number | null } | undefined;
    for (const [key, value] of entries) {
      if (key.startsWith(DETECTOR)) {
        const rest = key.slice(DETECTOR.length);
        const slash = rest.indexOf('/');
        byId.get(rest.slice(0, slash))?.instance.putKey(rest.slice(slash + 1), value);
      } else if (key.startsWith(SUPPRESS)) {
        const v = value as { at: number; alertId: string };
        this.lastAlertAt.touch(key.slice(SUPPRESS.length), v.at, () => ({ at: v.at, alertId: v.alertId }));
      } else if (key.startsWith(HELD)) {
        const v = value as HeldValue | TokenEvent;
        held.push('e' in v ? { ev: v.e, order: v.o, source: v.s } : { ev: v, order: v.time, source: '' }); // bare event: written before order times
      } else if (key === CLOCK) {
        clock = value as typeof clock;
      }
    }
    const num = (v: number | null | undefined): number => (typeof v === 'number' ? v : -Infinity);
    for (const h of this.buffer.restore({ released: num(clock?.released), maxSeen: num(clock?.max_seen) }, held)) {
      h.written = true; // read from the changelog: its release writes a tombstone
      this.heldById.set(h.ev.event_id, h);
    }
    this.lastAdvance = num(clock?.last_advance);
    this.tracking = true;
    this.clockWritten = JSON.stringify(clock ?? null);
  }

  /** Detector state, for checkpoints (JSON-serializable). */
  snapshot(): Record<string, unknown> {
    return Object.fromEntries(this.tasks.map((t) => [t.definition.meta.id, t.instance.snapshot()]));
  }

  /** Resume detector state from a snapshot() (detectors missing from it start empty). */
  restore(snapshot: Record<string, unknown>): void {
    for (const t of this.tasks) {
      const s = snapshot[t.definition.meta.id];
      if (s !== undefined) t.instance.restore(s);
    }
  }
}

const finiteOrNull = (n: number): number | null => (Number.isFinite(n) ? n : null);
