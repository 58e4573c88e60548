/**
 * Incidents in the Kafka runtime: one IncidentBuilder per runner instance, fed by the engine
 * hooks of every task (mint chains, suppressed repeats) and by the alerts the tasks emit; each
 * incident that closes goes to the alert topic (header `type: incident`) and to the store.
 *
 * Best effort, unlike alerts: incident state is not in the task checkpoints, an instance sees
 * only the alerts of its own partitions (run one instance, or read incidents as per-instance
 * groupings), incidents still open at shutdown are not published, and a failed publish is
 * logged, not retried. Alerts themselves keep their at-least-once guarantees.
 */
import type { Producer } from 'kafkajs';
import type { Alert } from '../../schemas/alert.js';
import type { Incident } from '../../schemas/incident.js';
import type { Logger } from '../core/logger.js';
import type { StoreClient } from '../store/clickhouse-client.js';
import { detectServer } from '../store/migrations.js';
import { timePrecisionFor, type TimePrecision } from '../store/rows.js';
import { incidentMessage } from '../sinks/kafka-alert-sink.js';
import { IncidentBuilder, type IncidentBuilderOptions } from './incident-builder.js';
import { writeIncidents } from './incident-store.js';

export interface IncidentPublisherOptions {
  producer: Producer;
  topic: string;
  store?: StoreClient;
  database: string;
  log: Logger;
  builder?: Partial<IncidentBuilderOptions>;
}

export class IncidentPublisher {
  readonly builder: IncidentBuilder;
  published = 0;
  failed = 0;
  private precision?: Promise<TimePrecision>;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: IncidentPublisherOptions) {
    this.builder = new IncidentBuilder(opts.builder);
  }

  /** Feed alerts a task emitted; incidents they close are published in the background, in order. */
  observe(alerts: readonly Alert[]): void {
    this.builder.observeAlerts(alerts);
    const closed = this.builder.drain();
    if (closed.length > 0) this.chain = this.chain.then(() => this.publish(closed));
  }

  /** Wait for publishes in flight (tests, shutdown). */
  async settled(): Promise<void> {
    await this.chain;
  }

  private async publish(incidents: Incident[]): Promise<void> {
    try {
      await this.opts.producer.send({ topic: this.opts.topic, acks: -1, messages: incidents.map(incidentMessage) });
      const store = this.opts.store;
      if (store) {
        this.precision ??= detectServer(store.client).then((s) => timePrecisionFor(s.features));
        await writeIncidents(store.client, this.opts.database, await this.precision, incidents);
      }
      this.published += incidents.length;
    } catch (err) {
      this.failed += incidents.length;
      this.opts.log.error({ err: { message: (err as Error).message }, incidents: incidents.length }, 'publishing incidents failed');
    }
  }
}
