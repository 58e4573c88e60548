/**
 * The replay runner's store: ClickHouse (embedded chDB by default, a server when
 * store.url is set), migrated on open, written through the batching ClickHouseSink.
 */
import type { Logger } from '../core/logger.js';
import type { TokenwatchConfig } from '../config/config-schema.js';
import { createStoreClientFromConfig } from '../store/clickhouse-client.js';
import { migrate } from '../store/migrations.js';
import { timePrecisionFor } from '../store/rows.js';
import { ClickHouseSink, type SinkKind, type SinkRowTypes } from '../sinks/clickhouse-sink.js';
import type { ReplayStore } from './embedded-runner.js';
import { writeIncidents } from '../incidents/incident-store.js';
import { runHygieneReport, type HygieneReport } from '../hygiene/hygiene-report.js';

export interface OpenReplayStore extends ReplayStore {
  close(): Promise<void>;
  describe(): string;
  /** Token hygiene findings and revocation latency as of the newest stored event (src/hygiene/). */
  hygieneReport(): Promise<HygieneReport>;
}

/** Writes in flight at once; beyond this the runner waits (the sink itself bounds its queue too). */
const MAX_INFLIGHT_WRITES = 4;

export async function openReplayStore(cfg: TokenwatchConfig, log: Logger): Promise<OpenReplayStore> {
  const s = cfg.store;
  const store = await createStoreClientFromConfig(s);
  const m = await migrate(store.client, { database: s.database });
  log.debug({ server_version: m.serverVersion, applied: m.applied }, 'store migrated');
  const sink = new ClickHouseSink({
    client: store.client,
    database: s.database,
    time_precision: timePrecisionFor(m.features),
    insert_deduplication: m.features.insertDeduplication,
    config: { max_batch_rows: s.max_batch_rows, flush_interval_ms: s.flush_interval_ms, max_queue_rows: s.max_queue_rows, max_retries: s.max_retries, base_delay_ms: s.base_delay_ms },
  });
  const inflight: Promise<void>[] = [];
  const write = async <K extends SinkKind>(kind: K, rows: readonly SinkRowTypes[K][]): Promise<void> => {
    inflight.push(sink.write(kind, rows));
    while (inflight.length > MAX_INFLIGHT_WRITES) await inflight.shift();
  };
  const where = s.url ? `ClickHouse ${m.serverVersion} at ${new URL(s.url).host}, database ${s.database}` : `embedded chDB ${m.serverVersion} at ${s.path}, database ${s.database}`;
  return {
    writeAlerts: (rows) => write('alerts', rows),
    writeInventory: (rows) => write('inventory', rows),
    writeEvents: cfg.store.write_events ? (rows) => write('events', rows) : undefined,
    writeIncidents: (rows) => writeIncidents(store.client, s.database, timePrecisionFor(m.features), rows),
    flush: async () => {
      await Promise.all(inflight.splice(0));
      await sink.flush();
    },
    close: async () => {
      try {
        await Promise.all(inflight.splice(0));
        await sink.close();
      } finally {
        await store.close();
      }
    },
    describe: () => where,
    hygieneReport: () => runHygieneReport(store.client, s.database),
  };
}
