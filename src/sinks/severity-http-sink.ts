/**
 * The shared half of the HTTP delivery sinks (webhook, Splunk HEC): alerts at or above a severity
 * go to an HttpBatcher, which batches, retries with backoff and applies backpressure; a subclass
 * only says how one batch is posted.
 */
import type { Alert, Severity } from '../../schemas/alert.js';
import { SEVERITIES } from '../../schemas/alert.js';
import type { HygieneAlert } from '../hygiene/hygiene-alert.js';
import { HttpBatcher, type HttpDeliveryConfig } from './http-batcher.js';

export type DeliveryRecord = Alert | HygieneAlert;

export interface HttpSinkTiming {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export abstract class SeverityFilteredHttpSink {
  protected readonly batcher: HttpBatcher<DeliveryRecord>;
  private readonly minRank: number;

  protected constructor(name: string, minSeverity: Severity, delivery: Partial<HttpDeliveryConfig> | undefined, timing: HttpSinkTiming) {
    this.minRank = SEVERITIES.indexOf(minSeverity);
    this.batcher = new HttpBatcher<DeliveryRecord>({
      name,
      send: (batch) => this.post(batch),
      config: delivery,
      ...(timing.sleep && { sleep: timing.sleep }),
      ...(timing.random && { random: timing.random }),
    });
  }

  /** POST one batch; a throw is retried by the batcher as its error says. */
  protected abstract post(batch: DeliveryRecord[]): Promise<void>;

  get stats() {
    return this.batcher.stats;
  }

  get queueDepth(): number {
    return this.batcher.queueDepth;
  }

  write(records: readonly DeliveryRecord[]): Promise<void> {
    return this.batcher.write(this.select(records));
  }

  offer(records: readonly DeliveryRecord[]): Promise<void> {
    return this.batcher.offer(this.select(records));
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  close(): Promise<void> {
    return this.batcher.close();
  }

  private select(records: readonly DeliveryRecord[]): DeliveryRecord[] {
    return records.filter((r) => SEVERITIES.indexOf(r.severity) >= this.minRank);
  }
}
