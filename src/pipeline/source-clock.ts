/**
 * One source's event-time clock: the watermark of a single, roughly ordered stream (a Kafka
 * input partition's records of one format, one replay file's records of one format).
 *
 * Every source is a little out of order (batching agents, gateway nodes with skewed clocks, a
 * CloudTrail digest written after the API call). The clock learns how much: the bound is the
 * disorder (newest time seen − an event's time) that covers 99% of the source's events in the
 * current and previous hour of its event time (log2 histogram), at least `minBoundMs`, at most
 * `maxBoundMs`. A quantile, not the maximum: one record delivered minutes late (a retried batch,
 * a backdated revocation) is let through as late — delivered at once, counted — instead of
 * teaching the source to hold every later event back by minutes. Its watermark is
 * `newest − bound − 1`: no later event of this source is expected at or before it.
 *
 * Per source, not per task: a source whose logs arrive 10 minutes after the fact (CloudTrail)
 * but in order has a small bound and only holds back what it must, instead of every event
 * waiting a fixed delay. Everything is computed from the source's own sequence of event times,
 * never the wall clock, so a replay judges lateness exactly as live traffic did.
 */

/** Width of the learning buckets: a disorder is remembered for one to two hours of event time. */
const BUCKET_MS = 60 * 60_000;
/** Share of a source's events its bound covers; the rest arrive late. */
const COVERED = 0.99;
/** Histogram slots: 0 for in order, k for a disorder in (2^(k-2), 2^(k-1)] ms, up to ~37 hours. */
const SLOTS = 28;

const slotOf = (disorder: number): number => (disorder <= 0 ? 0 : Math.min(SLOTS - 1, Math.ceil(Math.log2(disorder)) + 1));
const upperOf = (slot: number): number => (slot === 0 ? 0 : 2 ** (slot - 1));

export interface SourceClockOptions {
  /** Disorder assumed before any is observed (event-time ms). */
  minBoundMs: number;
  /** Largest disorder waited for: events further behind are late (delivered, counted). */
  maxBoundMs: number;
}

export class SourceClock {
  private newest = -Infinity;
  private wm = -Infinity;
  private bucket = -Infinity;
  private current = new Uint32Array(SLOTS);
  private previous = new Uint32Array(SLOTS);
  private learned = 0;
  /** Events at or behind this clock's watermark when they arrived. */
  late = 0;

  constructor(private readonly opts: SourceClockOptions) {}

  /** Newest event time seen (-Infinity: none yet). */
  get maxTime(): number {
    return this.newest;
  }

  /** No later event of this source is expected at or before this time. */
  get watermark(): number {
    return this.wm;
  }

  /** The learned out-of-orderness of the source (ms). */
  get bound(): number {
    return Math.min(this.opts.maxBoundMs, Math.max(this.opts.minBoundMs, this.learned));
  }

  /**
   * Account for one event; returns its order time (reorder-buffer.ts): its time, or, when it
   * arrived at or behind the watermark (late), just past the watermark — where this source's
   * sequence put it, which every run of the same input reproduces.
   */
  observe(time: number): number {
    const late = time <= this.wm;
    const order = late ? this.wm + 1 : time;
    if (late) this.late++;
    const b = Math.floor(time / BUCKET_MS);
    if (b > this.bucket) {
      const keep = b === this.bucket + 1 ? this.current : undefined;
      this.previous = keep ?? new Uint32Array(SLOTS);
      this.current = new Uint32Array(SLOTS);
      this.bucket = b;
    }
    const slot = time < this.newest ? slotOf(this.newest - time) : 0;
    this.current[slot]!++;
    if (time > this.newest) this.newest = time;
    this.learned = this.coveredDisorder(); // 28 slots: cheaper than tracking when the quantile moves
    const next = this.newest - this.bound - 1;
    if (next > this.wm) this.wm = next;
    return order;
  }

  private coveredDisorder(): number {
    let total = 0;
    for (let i = 0; i < SLOTS; i++) total += this.current[i]! + this.previous[i]!;
    const need = total * COVERED;
    let seen = 0;
    for (let i = 0; i < SLOTS; i++) {
      seen += this.current[i]! + this.previous[i]!;
      if (seen >= need) return upperOf(i);
    }
    return upperOf(SLOTS - 1);
  }
}
