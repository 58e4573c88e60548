/**
 * K-way merge of actors by event time with a binary min-heap. Actors are started lazily (an
 * actor's generator is created when its start time comes up), so a long simulation holds only
 * the live actors, and ties break by actor order, which keeps the output deterministic.
 */
import type { ActorSpec, SimEvent } from './types.js';

interface Entry {
  time: number;
  ord: number;
  spec: ActorSpec;
  it?: Iterator<SimEvent>;
  ev?: SimEvent;
}

const less = (a: Entry, b: Entry): boolean => a.time < b.time || (a.time === b.time && a.ord < b.ord);

class MinHeap {
  private readonly a: Entry[] = [];
  get size(): number {
    return this.a.length;
  }
  push(e: Entry): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Entry | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Events of all actors in non-decreasing time order, stopping before `end`. */
export function* mergeActors(actors: readonly ActorSpec[], end: number): Generator<SimEvent> {
  const heap = new MinHeap();
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
    if (n.value.time < (e.ev?.time ?? e.spec.start)) throw new Error(`simulator actor ${e.ord} went back in time`);
    e.ev = n.value;
    e.time = n.value.time;
    heap.push(e);
  }
}
