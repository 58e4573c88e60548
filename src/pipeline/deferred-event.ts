/**
 * An event the engine may hold before it is decoded. The Kafka runtime's detection tasks receive
 * token events as binary records (runtime/token-event-codec.ts); in a backlog most of them wait in
 * the reorder buffer for the slowest input source, long enough to outlive two young-generation
 * collections. Held as decoded objects they were copied twice and promoted (~1.2 KB per input
 * record on the main thread: the bulk of its garbage-collection work). Held as a deferred event —
 * an id, a time and where its bytes are — only a small object survives, and the decoded event is
 * made when the detectors' turn for it comes (one at a time, not a whole release at once), used
 * and dropped young.
 *
 * The engine needs an event's id (duplicates) and time (its default order) before its release,
 * and the whole event at its release or when its held copy is written to the changelog.
 */
import type { TokenEvent } from '../../schemas/token-event.js';

export interface DeferredEvent {
  readonly event_id: string;
  readonly time: number;
  /** The event itself: a new object on every call (nothing cached on the held entry). */
  decode(): TokenEvent;
}

/** What the engine ingests: a decoded event, or one decoded when it is released. */
export type IngestedEvent = TokenEvent | DeferredEvent;

export const isDeferred = (e: IngestedEvent): e is DeferredEvent => typeof (e as Partial<DeferredEvent>).decode === 'function';

/** The decoded event. */
export const materialize = (e: IngestedEvent): TokenEvent => (isDeferred(e) ? e.decode() : e);
