/**
 * Delivery order: a source that arrives late (CloudTrail delivers minutes after the call)
 * interleaves its records with the others' out of event-time order. Records carrying `delay`
 * are held back and released once the stream's true time passes `at + delay`; the rest pass
 * through. Output order is deterministic (ties keep input order).
 */
import { MinHeap } from '../core/min-heap.js';
import type { SimEvent } from './types.js';

interface Held {
  due: number;
  seq: number;
  ev: SimEvent;
}

const less = (a: Held, b: Held): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq);

/** Events in arrival order; `events` must be ordered by `at ?? time` (what mergeActors yields). */
export function* inArrivalOrder(events: Iterable<SimEvent>): Generator<SimEvent> {
  const heap = new MinHeap<Held>(less);
  let seq = 0;
  for (const ev of events) {
    const at = ev.at ?? ev.time;
    while (heap.size > 0 && heap.peek()!.due <= at) yield heap.pop()!.ev;
    if (ev.delay !== undefined && ev.delay > 0) heap.push({ due: at + ev.delay, seq: seq++, ev });
    else if (heap.size === 0) yield ev;
    else heap.push({ due: at, seq: seq++, ev });
  }
  while (heap.size > 0) yield heap.pop()!.ev;
}
