/**
 * The embedded runner (zero setup): file/stdin source → decode/validate → normalize →
 * event-time engine → alerts (NDJSON) + dead letters (NDJSON) + optional ClickHouse store
 * (embedded chDB by default). Same engine and detectors as the Kafka runner, one task.
 */
import type { Readable, Writable } from 'node:stream';
import type { Alert } from '../../schemas/alert.js';
import type { SourceFormat, TokenEvent } from '../../schemas/token-event.js';
import { TokenwatchError } from '../core/errors.js';
import type { Fingerprinter } from '../core/fingerprint.js';
import { detectorSet } from '../config/load-config.js';
import type { TokenwatchConfig } from '../config/config-schema.js';
import { decodeText, decodeValue, parseJsonRecord, type DecodeLimits } from '../pipeline/decode.js';
import { DetectionEngine } from '../pipeline/detection-engine.js';
import { TokenInventory } from '../inventory/token-inventory.js';
import type { InventoryRecord } from '../inventory/inventory-record.js';
import { DEFAULT_FILE_SOURCE_OPTIONS, readRecords, type RawRecord } from '../sources/file-source.js';
import { toDeadLetter, type DeadLetter } from '../sinks/dead-letter-file.js';
import { NdjsonAlertSink } from '../sinks/ndjson-sink.js';

/** Where alerts, inventory and events are stored (ClickHouse embedded or server). */
export interface ReplayStore {
  writeAlerts(alerts: readonly Alert[]): Promise<void>;
  writeInventory(records: readonly InventoryRecord[]): Promise<void>;
  writeEvents?(events: readonly TokenEvent[]): Promise<void>;
  flush(): Promise<void>;
}

export interface ReplayInput {
  name: string;
  /** A file path or an already-open stream (stdin). */
  source: string | Readable;
}

export interface ReplayOptions {
  config: TokenwatchConfig;
  inputs: readonly ReplayInput[];
  fingerprint: Fingerprinter;
  format?: SourceFormat;
  alertsOut: Writable;
  deadLetters: { write(dl: DeadLetter): Promise<void> };
  store?: ReplayStore;
  /** Store batch size (events/alerts/inventory rows buffered before a write). */
  storeBatch?: number;
  /** Called every 10k records; `bytes` is how much of the inputs has been read. */
  onProgress?: (p: { records: number; events: number; alerts: number; bytes: number }) => void;
}

export interface ReplaySummary {
  records: number;
  events: number;
  invalid: number;
  invalid_by_code: Record<string, number>;
  events_by_source: Record<string, number>;
  records_by_source: Record<string, number>;
  alerts: number;
  alerts_by_detector: Record<string, number>;
  duplicates: number;
  late_events: number;
  tokens_in_inventory: number;
  elapsed_ms: number;
}

export async function runReplay(opts: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const cfg = opts.config;
  const limits: DecodeLimits = { maxEventBytes: cfg.limits.max_event_bytes, maxDepth: cfg.limits.max_depth };
  const inventory = new TokenInventory({ maxTokens: cfg.inventory.max_tokens, maxSetSize: cfg.inventory.max_set_size });
  const engine = new DetectionEngine({
    detectors: detectorSet(cfg),
    reorder: { maxDelayMs: cfg.engine.reorder_max_delay_seconds * 1000, maxBuffered: cfg.engine.reorder_max_buffered },
    suppressWindowMs: cfg.engine.suppress_window_minutes * 60_000,
    maxSuppressKeys: cfg.engine.max_suppress_keys,
    maxRecentEventIds: cfg.engine.max_recent_event_ids,
    advanceEveryMs: 60_000,
    inventory,
  });
  const alertSink = new NdjsonAlertSink(opts.alertsOut);
  const ctx = { fingerprint: opts.fingerprint };
  const s: ReplaySummary = {
    records: 0, events: 0, invalid: 0, invalid_by_code: {}, events_by_source: {}, records_by_source: {},
    alerts: 0, alerts_by_detector: {}, duplicates: 0, late_events: 0, tokens_in_inventory: 0, elapsed_ms: 0,
  };
  const batch = opts.storeBatch ?? 5000;
  let pendingAlerts: Alert[] = [];
  let pendingEvents: TokenEvent[] = [];

  const flushStore = async (final: boolean): Promise<void> => {
    if (!opts.store) return;
    if (pendingAlerts.length > 0) {
      await opts.store.writeAlerts(pendingAlerts);
      pendingAlerts = [];
    }
    if (pendingEvents.length > 0 && opts.store.writeEvents) {
      await opts.store.writeEvents(pendingEvents);
      pendingEvents = [];
    }
    if (final || inventory.dirtyCount >= batch) {
      const dirty = inventory.drainDirty();
      if (dirty.length > 0) await opts.store.writeInventory(dirty);
    }
    if (final) await opts.store.flush();
  };

  const emit = async (alerts: Alert[]): Promise<void> => {
    if (alerts.length === 0) return;
    s.alerts += alerts.length;
    for (const a of alerts) s.alerts_by_detector[a.detector] = (s.alerts_by_detector[a.detector] ?? 0) + 1;
    await alertSink.write(alerts);
    if (opts.store) pendingAlerts.push(...alerts);
  };

  const reject = async (rec: RawRecord, error: TokenwatchError, format?: string): Promise<void> => {
    s.invalid++;
    s.invalid_by_code[error.code] = (s.invalid_by_code[error.code] ?? 0) + 1;
    const raw = rec.text ?? safeStringify(rec.value);
    await opts.deadLetters.write(toDeadLetter(raw, error, { file: rec.origin.file, index: rec.origin.index }, format));
  };

  let lastProgress = 0;
  const read = { bytes: 0 };
  for (const input of opts.inputs) {
    let records: AsyncGenerator<RawRecord>;
    try {
      records = readRecords(input.source, input.name, { ...DEFAULT_FILE_SOURCE_OPTIONS, progress: read });
    } catch (cause) {
      throw new TokenwatchError('source_failed', `cannot read ${input.name}: ${(cause as Error).message}`, undefined, { cause });
    }
    for await (const rec of records) {
      s.records++;
      let result;
      if (rec.text !== undefined) {
        result = decodeText(rec.text, ctx, opts.format, limits);
      } else {
        // records split out of a JSON document: apply the same size and hostility checks
        const text = safeStringify(rec.value);
        const checked = parseJsonRecord(text, limits);
        result = checked.ok ? decodeValue(checked.value, ctx, opts.format) : { ok: false as const, error: checked.error };
      }
      if (!result.ok) {
        await reject(rec, result.error, result.format);
        continue;
      }
      s.records_by_source[result.format] = (s.records_by_source[result.format] ?? 0) + 1;
      for (const ev of result.events) {
        s.events++;
        s.events_by_source[ev.source] = (s.events_by_source[ev.source] ?? 0) + 1;
        if (opts.store?.writeEvents && cfg.store.write_events) pendingEvents.push(ev);
        await emit(engine.ingest(ev));
      }
      if (pendingEvents.length >= batch || pendingAlerts.length >= batch || inventory.dirtyCount >= batch) await flushStore(false);
      // let timers, signals and I/O callbacks run: readline + sync processing alone never yields a macrotask
      if (s.records % 2000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (opts.onProgress && s.records - lastProgress >= 10_000) {
        lastProgress = s.records;
        opts.onProgress({ records: s.records, events: s.events, alerts: s.alerts, bytes: read.bytes });
      }
    }
  }
  await emit(engine.finish());
  await flushStore(true);
  const st = engine.stats();
  s.duplicates = st.duplicates;
  s.late_events = st.late;
  s.tokens_in_inventory = inventory.size;
  s.elapsed_ms = Math.round(performance.now() - started);
  return s;
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'undefined';
  } catch {
    return String(v);
  }
}
