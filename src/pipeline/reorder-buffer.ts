/**
 * Bounded event-time reorder buffer. Events are held until the watermark passes their order time,
 * then released in (order time, event_id, source, arrival within the source) order — a total
 * order that does not depend on how the sources' records interleaved on the way in, so a replay
 * of yesterday's logs, a Kafka task fed by twelve input partitions and one fed by three give the
 * same order, hence the same alerts.
 *
 * The order time is the event's time, except for an event that arrived behind its own source's
 * watermark (late at the source, source-clock.ts): it is ordered just after that watermark, where
 * its source placed it, instead of wherever it happened to reach the task. Both are computed from
 * the source's own sequence, so every run of the same input orders it the same.
 *
 * Release: by the watermark the caller gives (releaseUpTo: the minimum over the sources, see
 * watermark-tracker.ts) and, when `maxDelayMs` is finite, by the newest order time seen minus that
 * delay (a single ordered stream without source watermarks: tests, benchmarks). When the buffer
 * is full the first event is released early (counted), never dropped. Events at or before what
 * was released are late: released at once, counted.
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { MinHeap } from '../core/min-heap.js';
import type { IngestedEvent } from './deferred-event.js';

export interface ReorderOptions {
  /** How far behind the newest order time the buffer releases on its own (event-time ms; Infinity: only by the caller's watermark). */
  maxDelayMs: number;
  /** Upper bound on buffered events. */
  maxBuffered: number;
  /** Called with each held entry as it is released (not for late events, which were never held, nor for dropped copies). */
  onRelease?: (held: HeldEvent) => void;
}

/** A held event with where it sorts. */
export interface HeldEvent {
  /** The event, or a deferred one (deferred-event.ts) decoded on its way out. */
  ev: IngestedEvent;
  /** Order time (event-time ms): the event's time, or just past its source's watermark when it was late there. */
  order: number;
  /** The source it came from ('' when the caller has one stream). */
  source: string;
  /** Arrival number: orders events of one source with equal order time and id as the source did. */
  seq: number;
  /** Released, or replaced by a preferred copy of the same event id (then left in the heap, skipped on release). */
  dropped: boolean;
  /**
   * The engine's changelog bookkeeping (detection-engine.ts, once it tracks changes): `dirty` — to
   * be written at the next drain; `written` — its event id's key is on the changelog (this copy's
   * or a copy it replaced), so its release writes a tombstone.
   */
  dirty: boolean;
  written: boolean;
}

/** A new held entry: every field set at creation, so all entries share one shape (the heap's comparator stays monomorphic). */
const heldEntry = (ev: IngestedEvent, order: number, source: string, seq: number): HeldEvent => ({ ev, order, source, seq, dropped: false, dirty: false, written: false });

const before = (a: HeldEvent, b: HeldEvent): boolean => {
  if (a.order !== b.order) return a.order < b.order;
  if (a.ev.event_id !== b.ev.event_id) return a.ev.event_id < b.ev.event_id;
  if (a.source !== b.source) return a.source < b.source;
  return a.seq < b.seq;
};

export class ReorderBuffer {
  private readonly heap = new MinHeap<HeldEvent>(before);
  private maxSeen = -Infinity;
  /** Everything at or before this order time has been released. */
  private released = -Infinity;
  private seq = 0;
  private live = 0;
  late = 0;
  forced = 0;

  constructor(private readonly opts: ReorderOptions) {}

  /** Events held (not counting replaced copies). */
  get size(): number {
    return this.live;
  }

  /** The current watermark: no event at or before it is still held. */
  get watermark(): number {
    return this.released;
  }

  /**
   * Add an event; returns events now ready, in order. A late event (order time at or before the
   * released watermark) comes back at once; otherwise the returned held entry can be dropped
   * later (drop()) when a preferred copy of it arrives.
   */
  push(ev: TokenEvent, out: TokenEvent[] = [], order = ev.time, source = ''): TokenEvent[] {
    this.add(ev, order, source, out);
    return out;
  }

  /** push() that also returns the held entry (undefined: the event was late and is in `out`). */
  add(ev: IngestedEvent, order: number, source: string, out: IngestedEvent[]): HeldEvent | undefined {
    if (order <= this.released) {
      this.late++;
      out.push(ev);
      return undefined;
    }
    const held = heldEntry(ev, order, source, this.seq++);
    this.heap.push(held);
    this.live++;
    if (order > this.maxSeen) this.maxSeen = order;
    if (Number.isFinite(this.opts.maxDelayMs)) this.releaseUpTo(this.maxSeen - this.opts.maxDelayMs, out);
    while (this.live > this.opts.maxBuffered) {
      const e = this.pop()!;
      this.forced++;
      if (e.order > this.released) this.released = e.order;
      out.push(e.ev);
    }
    return held.dropped ? undefined : held;
  }

  /** Take a held entry out (a preferred copy of the same event replaces it). */
  drop(held: HeldEvent): void {
    if (held.dropped) return;
    held.dropped = true;
    this.live--;
  }

  private pop(): HeldEvent | undefined {
    for (;;) {
      const e = this.heap.pop();
      if (e === undefined) return undefined;
      if (!e.dropped) {
        e.dropped = true;
        this.live--;
        this.opts.onRelease?.(e);
        return e;
      }
    }
  }

  private peekLive(): HeldEvent | undefined {
    for (;;) {
      const e = this.heap.peek();
      if (e === undefined || !e.dropped) return e;
      this.heap.pop();
    }
  }

  /** Release everything up to `wm` (inclusive). */
  releaseUpTo(wm: number, out: IngestedEvent[] = []): IngestedEvent[] {
    for (let e = this.peekLive(); e !== undefined && e.order <= wm; e = this.peekLive()) out.push(this.pop()!.ev);
    if (wm > this.released) this.released = wm;
    return out;
  }

  /** Events still held (any order). */
  held(): HeldEvent[] {
    return this.heap.items.filter((e) => !e.dropped);
  }

  /** Where the buffer stood, for a changelog. */
  clock(): { released: number; maxSeen: number } {
    return { released: this.released, maxSeen: this.maxSeen };
  }

  /** Resume from clock() and the held events (a task restored from its changelog). */
  restore(clock: { released: number; maxSeen: number }, held: readonly { ev: TokenEvent; order: number; source: string }[]): HeldEvent[] {
    this.released = clock.released;
    this.maxSeen = clock.maxSeen;
    // their arrival order is lost: the source order of equal (order time, id) copies is by source name
    return held.map((h) => {
      const e = heldEntry(h.ev, h.order, h.source, this.seq++);
      this.heap.push(e);
      this.live++;
      if (h.order > this.maxSeen) this.maxSeen = h.order;
      return e;
    });
  }

  /** End of input: release everything. */
  drain(out: IngestedEvent[] = []): IngestedEvent[] {
    for (let e = this.pop(); e !== undefined; e = this.pop()) out.push(e.ev);
    if (this.maxSeen > this.released) this.released = this.maxSeen;
    return out;
  }
}
