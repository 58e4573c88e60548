/**
 * Bounded event-time reorder buffer. Events are held until the watermark
 * (max event time seen − max_delay) passes them, then released in (time, event_id) order,
 * so a replay of yesterday's logs gives the same order, hence the same alerts, as live
 * traffic did. When the buffer is full the oldest event is released early (counted), never
 * dropped. Events older than the released watermark are late: released at once, counted.
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { MinHeap } from '../core/min-heap.js';

export interface ReorderOptions {
  /** How far behind the newest event the watermark trails (event-time ms). */
  maxDelayMs: number;
  /** Upper bound on buffered events. */
  maxBuffered: number;
}

const before = (a: TokenEvent, b: TokenEvent): boolean =>
  a.time < b.time || (a.time === b.time && a.event_id < b.event_id);

export class ReorderBuffer {
  private readonly heap = new MinHeap<TokenEvent>(before);
  private maxSeen = -Infinity;
  /** Everything at or before this time has been released. */
  private released = -Infinity;
  late = 0;
  forced = 0;

  constructor(private readonly opts: ReorderOptions) {}

  get size(): number {
    return this.heap.size;
  }

  /** The current watermark: no event at or before it is still held. */
  get watermark(): number {
    return this.released;
  }

  /** Add an event; returns events now ready, in order. */
  push(ev: TokenEvent, out: TokenEvent[] = []): TokenEvent[] {
    if (ev.time <= this.released) {
      this.late++;
      out.push(ev);
      return out;
    }
    this.heap.push(ev);
    if (ev.time > this.maxSeen) this.maxSeen = ev.time;
    this.releaseUpTo(this.maxSeen - this.opts.maxDelayMs, out);
    while (this.heap.size > this.opts.maxBuffered) {
      const e = this.heap.pop()!;
      this.forced++;
      if (e.time > this.released) this.released = e.time;
      out.push(e);
    }
    return out;
  }

  /** Release everything up to `wm` (inclusive). */
  releaseUpTo(wm: number, out: TokenEvent[] = []): TokenEvent[] {
    while (this.heap.size > 0 && this.heap.peek()!.time <= wm) out.push(this.heap.pop()!);
    if (wm > this.released) this.released = wm;
    return out;
  }

  /** Events still held (any order). */
  held(): readonly TokenEvent[] {
    return this.heap.items;
  }

  /** Where the buffer stood, for a changelog. */
  clock(): { released: number; maxSeen: number } {
    return { released: this.released, maxSeen: this.maxSeen };
  }

  /** Resume from clock() and the held events (a task restored from its changelog). */
  restore(clock: { released: number; maxSeen: number }, held: readonly TokenEvent[]): void {
    this.released = clock.released;
    this.maxSeen = clock.maxSeen;
    for (const ev of held) {
      this.heap.push(ev);
      if (ev.time > this.maxSeen) this.maxSeen = ev.time;
    }
  }

  /** End of input: release everything. */
  drain(out: TokenEvent[] = []): TokenEvent[] {
    while (this.heap.size > 0) out.push(this.heap.pop()!);
    if (this.maxSeen > this.released) this.released = this.maxSeen;
    return out;
  }
}
