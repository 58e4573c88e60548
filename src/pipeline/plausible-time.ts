/**
 * The plausible event-time window, checked where decoded events enter the pipeline (the
 * embedded replay, the Kafka runtime's ingest stage), before anything can move a watermark.
 * Watermarks only ever move forward: one well-formed event dated 2100 would make every real
 * event after it late, one dated 1970 would be released at once into every detector. Such
 * events are dead-lettered as `implausible_time` instead.
 *
 * The reference is event time: the newest accepted event time of the partition (the stream a
 * guard watches: the replay, or one input partition). An event is implausible when it is
 *   - before `limits.min_event_time` (e.g. 1970 from a zeroed clock);
 *   - more than `limits.max_future_skew_seconds` ahead of both the reference and the clock;
 *   - more than `limits.max_event_age_days` behind the reference (0 disables this bound).
 * The future bound takes the later of the two: the reference alone cannot judge a partition's
 * first event (one dated 2100 would become the reference and make every real event late), and
 * would reject a real replay of a quiet account whose log has a gap of days. A log record is
 * never written in the future, so the clock only caps the window: an input of past logs is
 * judged by event time alone, the same on every run.
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { TokenwatchError } from '../core/errors.js';

export interface PlausibleTimeOptions {
  maxFutureSkewMs: number;
  /** 0: no bound on how far behind the reference an event may be. */
  maxAgeMs: number;
  minEventTime: number;
  /** Wall clock: caps the future bound only (tests inject it). */
  now?: () => number;
}

export interface PlausibleTimeLimits {
  max_future_skew_seconds: number;
  max_event_age_days: number;
  min_event_time: string;
}

export function plausibleTimeOptions(limits: PlausibleTimeLimits): PlausibleTimeOptions {
  return {
    maxFutureSkewMs: limits.max_future_skew_seconds * 1000,
    maxAgeMs: limits.max_event_age_days * 86_400_000,
    minEventTime: Date.parse(limits.min_event_time),
  };
}

const iso = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

/** One partition's window. */
export class PlausibleTimeGuard {
  /** Newest accepted event time (-Infinity: none yet). */
  private newest = -Infinity;
  rejected = 0;
  private readonly now: () => number;

  constructor(private readonly opts: PlausibleTimeOptions) {
    this.now = opts.now ?? Date.now;
  }

  get reference(): number {
    return this.newest;
  }

  /** undefined when the event is plausible (it then becomes the reference if newer), else why not. */
  check(ev: TokenEvent): TokenwatchError | undefined {
    const t = ev.time;
    const o = this.opts;
    let reason: string | undefined;
    if (!Number.isFinite(t) || t < o.minEventTime) {
      reason = `event time ${iso(t)} is before limits.min_event_time ${iso(o.minEventTime)}`;
    } else if (t > this.newest + o.maxFutureSkewMs && t > this.now() + o.maxFutureSkewMs) {
      // the clock is read only for an event already far ahead of the reference
      const ref = Number.isFinite(this.newest) ? `the partition's newest event time ${iso(this.newest)} and ` : '';
      reason = `event time ${iso(t)} is more than limits.max_future_skew_seconds (${o.maxFutureSkewMs / 1000}) ahead of ${ref}the clock`;
    } else if (o.maxAgeMs > 0 && t < this.newest - o.maxAgeMs) {
      reason = `event time ${iso(t)} is more than limits.max_event_age_days (${o.maxAgeMs / 86_400_000}) behind the partition's newest event time ${iso(this.newest)}`;
    }
    if (reason === undefined) {
      if (t > this.newest) this.newest = t;
      return undefined;
    }
    this.rejected++;
    return new TokenwatchError('implausible_time', `${reason} (${ev.source} event)`, [{ path: 'time', message: 'outside the plausible window' }]);
  }
}
