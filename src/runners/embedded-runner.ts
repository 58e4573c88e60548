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
import { decodeText, decodeValue, parseJsonRecord, type DecodeLimits, type DecodeResult } from '../pipeline/decode.js';
import { DetectionEngine } from '../pipeline/detection-engine.js';
import { TokenInventory } from '../inventory/token-inventory.js';
import type { InventoryRecord } from '../inventory/inventory-record.js';
import { DEFAULT_FILE_SOURCE_OPTIONS, readRecords, type RawRecord } from '../sources/file-source.js';
import { mergeDecodedInputs } from '../sources/merged-source.js';
import { decodeOpened, type RecordLimits } from '../envelopes/index.js';
import { openRecords } from '../envelopes/open-records.js';
import { toDeadLetter, type DeadLetter } from '../sinks/dead-letter-file.js';
import { NdjsonAlertSink } from '../sinks/ndjson-sink.js';
import { enrichStageFor } from '../enrich/enrich-stage.js';
import { exceptionFilterFor } from '../exceptions/exception-file.js';
import type { ExceptionFilter } from '../exceptions/exception-filter.js';
import { IncidentBuilder } from '../incidents/incident-builder.js';
import { writeIncidentsNdjson } from '../incidents/incident-ndjson.js';
import type { Incident } from '../../schemas/incident.js';
import { PlausibleTimeGuard, plausibleTimeOptions } from '../pipeline/plausible-time.js';
import { SourceClock } from '../pipeline/source-clock.js';
import { WatermarkTracker } from '../pipeline/watermark-tracker.js';

/** Where alerts, inventory and events are stored (ClickHouse embedded or server). */
export interface ReplayStore {
  writeAlerts(alerts: readonly Alert[]): Promise<void>;
  writeInventory(records: readonly InventoryRecord[]): Promise<void>;
  writeEvents?(events: readonly TokenEvent[]): Promise<void>;
  writeIncidents?(incidents: readonly Incident[]): Promise<void>;
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
  /** Incidents (correlated alerts) as NDJSON, written as each closes. */
  incidentsOut?: Writable;
  /** Drops drafts before they become alerts; default: the exceptions of `config.exceptions.file`. */
  alertFilter?: ExceptionFilter;
  /** Run only these detector families (`policy check`: policy_violation; `policy suggest`: none). */
  onlyDetectors?: readonly string[];
  /** HTTP delivery sinks (SET, webhook, Splunk HEC): alerts are offered as they are raised (src/sinks/delivery-sinks.ts). */
  delivery?: { offerAlerts(alerts: readonly Alert[]): Promise<void> };
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
  incidents: number;
  duplicates: number;
  late_events: number;
  tokens_in_inventory: number;
  elapsed_ms: number;
  /** Valid records of a known format that carry no credential (the normalizer returned no event). */
  skipped_no_credential: number;
  /** CloudWatch Logs CONTROL_MESSAGE batches (hold no records). */
  skipped_control_messages: number;
  /** Records unwrapped from an envelope, by envelope chain. */
  records_by_envelope: Record<string, number>;
  /** Drafts dropped by an exception, per exception id (with an exceptions file). */
  excepted?: Record<string, number>;
  /** Drafts that matched only an expired exception and were raised, per exception id. */
  exceptions_expired_matches?: Record<string, number>;
}

export async function runReplay(opts: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const cfg = opts.config;
  const limits: DecodeLimits & RecordLimits = { maxEventBytes: cfg.limits.max_event_bytes, maxDepth: cfg.limits.max_depth, maxDecompressedBytes: cfg.limits.max_decompressed_bytes };
  const incidents = new IncidentBuilder();
  const inventory = new TokenInventory({ maxTokens: cfg.inventory.max_tokens, maxSetSize: cfg.inventory.max_set_size });
  const alertFilter = opts.alertFilter ?? exceptionFilterFor(cfg);
  const engine = new DetectionEngine({
    detectors: detectorSet(cfg).filter((d) => !opts.onlyDetectors || opts.onlyDetectors.includes(d.definition.meta.id)),
    alertFilter,
    // released by the sources' watermarks only (each trails its source by at most reorder_max_delay_seconds)
    reorder: { maxDelayMs: Infinity, maxBuffered: cfg.engine.reorder_max_buffered },
    suppressWindowMs: cfg.engine.suppress_window_minutes * 60_000,
    maxSuppressKeys: cfg.engine.max_suppress_keys,
    maxRecentEventIds: cfg.engine.max_recent_event_ids,
    advanceEveryMs: 60_000,
    inventory,
    observer: incidents,
  });
  const alertSink = new NdjsonAlertSink(opts.alertsOut);
  const ctx = { fingerprint: opts.fingerprint };
  const enrich = enrichStageFor(cfg.enrich); // IP → ASN/country/cloud, between normalize and the engine
  // implausible event times are dead-lettered before they can move the watermark
  const plausible = new PlausibleTimeGuard(plausibleTimeOptions(cfg.limits));
  // one clock per (input, format): the engine releases an event once every source has passed it
  const clocks = new Map<string, SourceClock>();
  const watermarks = new WatermarkTracker();
  const clockOptions = { minBoundMs: cfg.engine.source_min_disorder_seconds * 1000, maxBoundMs: cfg.engine.reorder_max_delay_seconds * 1000 };
  const s: ReplaySummary = {
    records: 0, events: 0, invalid: 0, invalid_by_code: {}, events_by_source: {}, records_by_source: {},
    alerts: 0, alerts_by_detector: {}, incidents: 0, duplicates: 0, late_events: 0, tokens_in_inventory: 0, elapsed_ms: 0,
    skipped_no_credential: 0, skipped_control_messages: 0, records_by_envelope: {},
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
    if (opts.delivery) await opts.delivery.offerAlerts(alerts); // waits only when a sink's queue is full
    if (opts.store) pendingAlerts.push(...alerts);
    incidents.observeAlerts(alerts);
    await writeClosedIncidents();
  };
  const writeClosedIncidents = async (): Promise<void> => {
    const closed = incidents.drain();
    if (closed.length === 0) return;
    s.incidents += closed.length;
    if (opts.incidentsOut) await writeIncidentsNdjson(opts.incidentsOut, closed);
    await opts.store?.writeIncidents?.(closed);
  };

  const reject = async (rec: RawRecord, error: TokenwatchError, format?: string): Promise<void> => {
    s.invalid++;
    s.invalid_by_code[error.code] = (s.invalid_by_code[error.code] ?? 0) + 1;
    const raw = rec.text ?? safeStringify(rec.value);
    // origin: file and index, plus envelope and envelope_index for a record unwrapped from an envelope
    await opts.deadLetters.write(toDeadLetter(raw, error, rec.origin as DeadLetter['origin'], format, cfg.dead_letter.payload));
  };

  let lastProgress = 0;
  const read = { bytes: 0 };
  // a record split out of a JSON document gets the same size and hostility checks as a text line
  const decodeRecord = (rec: RawRecord): DecodeResult => {
    // the file source decodes UTF-8 with replacement characters: one in a line means its bytes were not UTF-8
    if (rec.text !== undefined && rec.text.includes('\uFFFD')) return { ok: false, error: new TokenwatchError('invalid_utf8', 'record holds bytes that are not valid UTF-8 (or a literal U+FFFD replacement character)') };
    if (rec.opened) return decodeOpened(rec.opened, ctx, opts.format);
    if (rec.text !== undefined) return decodeText(rec.text, ctx, opts.format, limits);
    const checked = parseJsonRecord(safeStringify(rec.value), limits);
    return checked.ok ? decodeValue(checked.value, ctx, opts.format) : { ok: false, error: checked.error };
  };
  const opening = { control_messages: 0 };
  // every input is read and decoded in its own stream; the streams are merged by event time
  const inputs = opts.inputs.map((input) => ({
    name: input.name,
    // decompressed (gzip/zstd) and unwrapped from envelopes before format detection
    records: () => openRecords(readRecords(input.source, input.name, { ...DEFAULT_FILE_SOURCE_OPTIONS, progress: read, maxDecompressedBytes: cfg.limits.max_decompressed_file_bytes }), limits, opening),
  }));
  // an input that ended sends nothing more: its sources no longer hold the others back (a Kafka
  // input partition read to its end says the same with an idle marker)
  const inputEnded = (input: number): void => {
    for (const [id, clock] of clocks) if (id.startsWith(`${input}/`)) watermarks.update(id, clock.maxTime, true);
  };
  for await (const { input, item: { rec, result } } of mergeDecodedInputs(inputs, decodeRecord, undefined, inputEnded)) {
    s.records++;
    if (rec.origin.envelope !== undefined) s.records_by_envelope[rec.origin.envelope] = (s.records_by_envelope[rec.origin.envelope] ?? 0) + 1;
    if (!result.ok) {
      await reject(rec, result.error, result.format);
      continue;
    }
    s.records_by_source[result.format] = (s.records_by_source[result.format] ?? 0) + 1;
    if (result.events.length === 0) s.skipped_no_credential++;
    let implausible: TokenwatchError | undefined;
    const sourceId = `${input}/${result.format}`;
    let clock = clocks.get(sourceId);
    for (const ev of result.events) {
      const bad = plausible.check(ev);
      if (bad) {
        implausible ??= bad;
        continue;
      }
      enrich?.enrich(ev);
      s.events++;
      s.events_by_source[ev.source] = (s.events_by_source[ev.source] ?? 0) + 1;
      if (opts.store?.writeEvents && cfg.store.write_events) pendingEvents.push(ev);
      if (clock === undefined) {
        clocks.set(sourceId, (clock = new SourceClock(clockOptions)));
        watermarks.noteSource(sourceId);
      }
      await emit(engine.ingest(ev, clock.observe(ev.time), sourceId));
    }
    if (clock !== undefined) {
      watermarks.update(sourceId, clock.watermark, false);
      await emit(engine.releaseTo(watermarks.watermark));
    }
    // one dead letter per record, naming its first implausible event (its plausible events went on)
    if (implausible) await reject(rec, implausible, result.format);
    if (pendingEvents.length >= batch || pendingAlerts.length >= batch || inventory.dirtyCount >= batch) await flushStore(false);
    // let timers, signals and I/O callbacks run: readline + sync processing alone never yields a macrotask
    if (s.records % 2000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    if (opts.onProgress && s.records - lastProgress >= 10_000) {
      lastProgress = s.records;
      opts.onProgress({ records: s.records, events: s.events, alerts: s.alerts, bytes: read.bytes });
    }
  }
  await emit(engine.finish());
  incidents.finish();
  await writeClosedIncidents();
  await flushStore(true);
  const st = engine.stats();
  s.duplicates = st.duplicates;
  s.late_events = st.late;
  s.tokens_in_inventory = inventory.size;
  if (alertFilter) {
    s.excepted = alertFilter.countsByException();
    s.exceptions_expired_matches = alertFilter.expiredMatches();
  }
  s.skipped_control_messages = opening.control_messages;
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
