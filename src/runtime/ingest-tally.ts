/**
 * Stage 1's counters and metrics as counted on an ingest thread (ingest-thread.ts): the thread has
 * no metrics registry of its own — it tallies what one request counted and hands the totals to
 * the main thread with the reply, which adds them to the runner's counters and Prometheus series.
 */
import type { ErrorCode } from '../core/errors.js';
import type { SkipReason } from './metrics.js';
import type { IngestMetrics, RepartitionCounters } from './repartition-stage.js';

/** What one request counted: plain data, cloned into the reply. */
export interface IngestTallySnapshot {
  counters: RepartitionCounters;
  /** `[source, n]` */
  eventsIn: [string, number][];
  /** `[source, reason, n]` */
  skipped: [string, SkipReason, number][];
  /** `[source, code, n]` */
  invalid: [string, ErrorCode, number][];
}

const zeroCounters = (): RepartitionCounters => ({ records_in: 0, records_invalid: 0, records_skipped: 0, events_implausible: 0 });

/** Counts like RuntimeMetrics (the stage cannot tell the difference) until `take()`. */
export class IngestTally implements IngestMetrics {
  /** Given to the stage as its counters object: it adds to these fields. */
  readonly counters: RepartitionCounters = zeroCounters();
  private readonly eventsIn = new Map<string, number>();
  private readonly skipped = new Map<string, [string, SkipReason, number]>();
  private readonly invalid = new Map<string, [string, ErrorCode, number]>();

  countEventIn(source: string, n = 1): void {
    this.eventsIn.set(source, (this.eventsIn.get(source) ?? 0) + n);
  }

  countSkipped(source: string, reason: SkipReason, n = 1): void {
    const k = `${reason}\u0000${source}`;
    const e = this.skipped.get(k);
    if (e) e[2] += n;
    else this.skipped.set(k, [source, reason, n]);
  }

  countInvalid(source: string, code: ErrorCode, n = 1): void {
    const k = `${code}\u0000${source}`;
    const e = this.invalid.get(k);
    if (e) e[2] += n;
    else this.invalid.set(k, [source, code, n]);
  }

  /** What was counted since the last take, and the tally emptied. */
  take(): IngestTallySnapshot {
    const snap: IngestTallySnapshot = { counters: { ...this.counters }, eventsIn: [...this.eventsIn], skipped: [...this.skipped.values()], invalid: [...this.invalid.values()] };
    Object.assign(this.counters, zeroCounters());
    this.eventsIn.clear();
    this.skipped.clear();
    this.invalid.clear();
    return snap;
  }
}

/** Add a thread's tally to the main thread's counters and metrics. */
export function applyTally(t: IngestTallySnapshot, metrics: IngestMetrics, counters: RepartitionCounters): void {
  counters.records_in += t.counters.records_in;
  counters.records_invalid += t.counters.records_invalid;
  counters.records_skipped += t.counters.records_skipped;
  counters.events_implausible += t.counters.events_implausible;
  for (const [source, n] of t.eventsIn) metrics.countEventIn(source, n);
  for (const [source, reason, n] of t.skipped) metrics.countSkipped(source, reason, n);
  for (const [source, code, n] of t.invalid) metrics.countInvalid(source, code, n);
}
