/**
 * When to stop fetching because the ClickHouse sink is behind. Two signals, either pauses:
 *   - queue length: rows accepted and not stored reach 80 % of store.max_queue_rows;
 *   - time to store: the oldest unstored row has waited store.max_time_to_store_ms. During an
 *     outage the queue stays short (each batch waits for its own rows before the next is
 *     fetched), so only the age shows that nothing is being stored.
 * Resume needs both to have recovered: the queue at half its limit and the oldest row younger
 * than half the age limit (hysteresis, so a flapping sink does not flap the consumer).
 */
export interface SinkBacklog {
  /** Rows accepted and not yet stored. */
  depth: number;
  /** Age (ms) of the oldest row not yet stored; 0 when none. */
  oldestAgeMs: number;
}

export interface BackpressureLimits {
  maxQueueRows: number;
  maxTimeToStoreMs: number;
}

export type BackpressureDecision = 'pause' | 'resume' | undefined;

export class BackpressureController {
  paused = false;
  pauses = 0;
  /** What triggered the current pause (for the log line). */
  reason: 'queue' | 'time_to_store' | undefined;

  constructor(private readonly limits: BackpressureLimits) {}

  /** The change to make now, if any. */
  decide(b: SinkBacklog): BackpressureDecision {
    const { maxQueueRows, maxTimeToStoreMs } = this.limits;
    if (!this.paused) {
      const queueFull = b.depth >= maxQueueRows * 0.8;
      const tooOld = b.oldestAgeMs >= maxTimeToStoreMs;
      if (!queueFull && !tooOld) return undefined;
      this.paused = true;
      this.pauses++;
      this.reason = queueFull ? 'queue' : 'time_to_store';
      return 'pause';
    }
    if (b.depth <= maxQueueRows * 0.5 && b.oldestAgeMs < maxTimeToStoreMs / 2) {
      this.paused = false;
      this.reason = undefined;
      return 'resume';
    }
    return undefined;
  }
}
