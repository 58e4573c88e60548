/**
 * K-way merge of actors by event time with a binary min-heap. Actors are started lazily (an
 * actor's generator is created when its start time comes up), so a long simulation holds only
 * the live actors, and ties break by actor order, which keeps the output deterministic.
 */
import { MinHeap } from '../core/min-heap.js';
import type { ActorSpec, SimEvent } from './types.js';

interface Entry {
  time: number;
  ord: number;
  spec: ActorSpec;
  it?: Iterator<SimEvent>;
  ev?: SimEvent;
}

const less = (a: Entry, b: Entry): boolean => a.time < b.time || (a.time === b.time && a.ord < b.ord);

/** Events of all actors in non-decreasing time order (`at ?? time`), stopping before `end`. */
export function* mergeActors(actors: readonly ActorSpec[], end: number): Generator<SimEvent> {
  const heap = new MinHeap<Entry>(less);
  actors.forEach((spec, ord) => heap.push({ time: spec.start, ord, spec }));
  while (heap.size > 0) {
    const e = heap.pop()!;
    if (e.time >= end) return; // everything left is later still
    if (e.ev) {
      yield e.ev;
    } else {
      e.it = e.spec.make();
    }
    const n = e.it!.next();
    if (n.done) continue;
    const at = n.value.at ?? n.value.time;
    if (at < (e.ev ? (e.ev.at ?? e.ev.time) : e.spec.start)) throw new Error(`simulator actor ${e.ord} went back in time`);
    e.ev = n.value;
    e.time = at;
    heap.push(e);
  }
}
