/**
 * Stage 1 of the Kafka runtime (input topics → repartition topics): each record of an input
 * batch is opened at the edge (src/sources/kafka-source.ts), decoded, validated and normalized;
 * its token events are checked against the plausible event-time window of their input partition,
 * enriched, and keyed for the repartition topics — `by_token` by token fingerprint (a mint with a
 * parent_fp also by the parent), `by_issuer` by issuer. Records that fail, and records with
 * implausible event times, become dead letters. Producing is the runner's job.
 *
 * Each input source (partition × format) has its event-time clock (source-clock.ts). After a
 * batch, every source that moved sends its watermark to every partition of both repartition
 * topics, after the events it covers; a source without records for `source_idle_seconds` says it
 * is idle. Each detection task takes the minimum over the sources it heard of.
 *
 * `source_idle_seconds` 0 is Kafka Streams' `max.task.idle.ms` 0: a batch that read its partition
 * to the end says, in its own frame, that the partition's sources are idle — a caught-up
 * partition never holds the tasks for its next record, and no timer or extra transaction is
 * involved. A partition with unread records (a backlog, a replay) is never idle.
 */
import type { KafkaMessage, Message } from 'kafkajs';
import type { SourceFormat } from '../../schemas/token-event.js';
import type { TokenwatchError } from '../core/errors.js';
import type { EnrichStage } from '../enrich/enrich-stage.js';
import { decodeOpened, reasonInEnvelope, type RecordLimits } from '../envelopes/index.js';
import type { NormalizeContext } from '../normalize/types.js';
import { PlausibleTimeGuard, plausibleTimeOptions, type PlausibleTimeOptions } from '../pipeline/plausible-time.js';
import type { TokenwatchConfig } from '../config/config-schema.js';
import { enrichStageFor } from '../enrich/enrich-stage.js';
import { SourceClock, type SourceClockOptions } from '../pipeline/source-clock.js';
import type { DeadLetter } from '../sinks/kafka-dead-letter-sink.js';
import { openKafkaValue } from '../sources/kafka-source.js';
import type { RuntimeMetrics } from './metrics.js';
import { encodeRecord } from './token-event-codec.js';
import { PartitionFrames } from './repartition-frame.js';

/** The runner's counters this stage adds to. */
export interface RepartitionCounters {
  records_in: number;
  records_invalid: number;
  records_skipped: number;
  events_implausible: number;
}

export interface RepartitionOutput {
  /** Frames of records (repartition-frame.ts), one or more per partition that got any. */
  byToken: Message[];
  byIssuer: Message[];
  dead: DeadLetter[];
  /** Event records among byToken + byIssuer (the rest are watermark records). */
  events: number;
  /** The batch read its partition to the end and, idle when caught up, marked the partition's sources idle. */
  caughtUp?: boolean;
  /** Idle markers (`idleMarkers`): the sources they mark idle — `notIdle` them again when the markers could not be sent. */
  idled?: string[];
}

/** The metrics stage 1 counts into (a worker thread tallies them for the main thread: ingest-tally.ts). */
export type IngestMetrics = Pick<RuntimeMetrics, 'countEventIn' | 'countSkipped' | 'countInvalid'>;

export interface RepartitionStageOptions {
  ctx: NormalizeContext;
  limits: RecordLimits;
  enrich: EnrichStage | null;
  plausible: PlausibleTimeOptions;
  /** Configured format per input topic (`auto`: detect per record). */
  formats: ReadonlyMap<string, SourceFormat | 'auto'>;
  metrics: IngestMetrics;
  counters: RepartitionCounters;
  clock: SourceClockOptions;
  /** Partition counts of the repartition topics: watermark records go to every partition. */
  partitions: { byToken: number; byIssuer: number };
  /** `engine.source_idle_seconds` in ms; 0: a source is idle as soon as its partition is read to the end. */
  idleMs: number;
}

/** Stage 1's options from the config (all but the repartition topics' partition counts, known once they exist). */
export function repartitionOptionsFor(
  cfg: TokenwatchConfig,
  o: { ctx: NormalizeContext; formats: ReadonlyMap<string, SourceFormat | 'auto'>; metrics: IngestMetrics; counters: RepartitionCounters },
): Omit<RepartitionStageOptions, 'partitions'> {
  const l = cfg.limits;
  return {
    ...o,
    limits: { maxEventBytes: l.max_event_bytes, maxDepth: l.max_depth, maxDecompressedBytes: l.max_decompressed_bytes },
    enrich: enrichStageFor(cfg.enrich), // IP → ASN/country/cloud before repartitioning, so every task sees enriched events
    plausible: plausibleTimeOptions(l),
    clock: { minBoundMs: cfg.engine.source_min_disorder_seconds * 1000, maxBoundMs: cfg.engine.reorder_max_delay_seconds * 1000 },
    idleMs: cfg.engine.source_idle_seconds * 1000,
  };
}

interface SourceState {
  clock: SourceClock;
  /** Watermark last sent to the repartition topics. */
  sent: number;
  /** Wall time of the source's last record (idleness is a wall-clock notion: live only). */
  lastRecordAt: number;
  idle: boolean;
}

/** How far an input partition's reading stands: unread records there mean none of its sources is idle. */
interface InputProgress {
  /** Records after the last batch read (kafkajs' offsetLag of that batch). */
  lag: number;
}

export class RepartitionStage {
  /** Plausible event-time window per input partition (`topic/partition`). */
  private readonly guards = new Map<string, PlausibleTimeGuard>();
  /** Event-time clock per input source `topic/partition/format`. */
  private readonly sources = new Map<string, SourceState>();
  /** Per input partition `topic/partition`: the lag its last batch left. */
  private readonly progress = new Map<string, InputProgress>();

  constructor(private readonly opts: RepartitionStageOptions) {}

  /**
   * Input partitions now owned (ids `topic/partition`): one that never yields a record still says
   * it is idle after `source_idle_seconds` (a placeholder source `<input>/-`), so tasks waiting to
   * hear from every input partition are not held forever.
   */
  owned(inputs: readonly string[], now: number): void {
    for (const input of inputs) {
      let known = false;
      for (const id of this.sources.keys()) if (id.startsWith(`${input}/`)) known = true;
      if (!known) this.sourceFor(`${input}/-`, now);
    }
  }

  /** Forget the windows of input partitions this instance no longer owns (ids `topic/partition`). */
  keepOnly(owned: ReadonlySet<string>): void {
    for (const id of this.guards.keys()) if (!owned.has(id)) this.guards.delete(id);
    for (const id of this.progress.keys()) if (!owned.has(id)) this.progress.delete(id);
    for (const id of this.sources.keys()) if (!owned.has(id.slice(0, id.lastIndexOf('/')))) this.sources.delete(id);
  }

  /**
   * Forget an input partition's clocks and window (`topic/partition`): its processing ran ahead of
   * what committed and it is read again from the committed offset (commit-pipeline.ts).
   */
  resetInput(input: string, now: number): void {
    this.guards.delete(input);
    this.progress.delete(input);
    for (const id of [...this.sources.keys()]) if (id.slice(0, id.lastIndexOf('/')) === input) this.sources.delete(id);
    this.owned([input], now);
  }

  /**
   * Watermark records for sources that have had no records for `idleMs` of wall time, per input
   * partition (`topic/partition`): they stop holding the tasks back (their idle watermark is their
   * newest event time) until they speak again.
   *
   * Only where the partition has been read to its end: a partition with unread records is behind,
   * not idle — reading a backlog, a partition fetched late must still hold the tasks, or its
   * events would be late there and the alerts would depend on the order partitions were fetched in.
   */
  idleMarkers(now: number, idleMs: number, paused: (input: string) => boolean = () => false): Map<string, RepartitionOutput> {
    const out = new Map<string, RepartitionOutput>();
    for (const [id, st] of this.sources) {
      if (st.idle || now - st.lastRecordAt < idleMs) continue;
      const input = id.slice(0, id.lastIndexOf('/'));
      if (paused(input)) continue; // held back on purpose (watermark-alignment.ts): it still has records to give
      if ((this.progress.get(input)?.lag ?? 0) > 0) continue; // unread records: behind, not idle
      st.idle = true;
      let o = out.get(input);
      if (!o) out.set(input, (o = { byToken: [], byIssuer: [], dead: [], events: 0, idled: [] }));
      o.idled!.push(id);
      const frames = this.newFrames();
      this.pushMarkers(frames, o, id, st.clock.maxTime, true);
      this.flushFrames(frames, o);
    }
    return out;
  }

  /** Idle markers for these sources were not sent (the partition could not take them): the next sweep says it again. */
  notIdle(sources: readonly string[]): void {
    for (const id of sources) {
      const st = this.sources.get(id);
      if (st) st.idle = false;
    }
  }

  /** An input partition's event time: the lowest watermark of its active sources (-Infinity: none yet). */
  inputWatermark(input: string): number {
    let min = Infinity;
    for (const [id, st] of this.sources) {
      if (st.idle || !isSourceOf(id, input)) continue;
      if (st.clock.watermark < min) min = st.clock.watermark;
    }
    return min === Infinity ? -Infinity : min;
  }

  private newFrames(): { byToken: PartitionFrames; byIssuer: PartitionFrames } {
    return { byToken: new PartitionFrames(this.opts.partitions.byToken), byIssuer: new PartitionFrames(this.opts.partitions.byIssuer) };
  }

  private flushFrames(frames: { byToken: PartitionFrames; byIssuer: PartitionFrames }, out: RepartitionOutput): void {
    frames.byToken.flush(out.byToken as { partition: number; key: null; value: Buffer }[]);
    frames.byIssuer.flush(out.byIssuer as { partition: number; key: null; value: Buffer }[]);
  }

  private pushMarkers(frames: { byToken: PartitionFrames; byIssuer: PartitionFrames }, out: RepartitionOutput, source: string, watermark: number, idle: boolean): void {
    const value = encodeRecord({ kind: 'watermark', source, watermark, idle });
    frames.byToken.addToAll(value, out.byToken as { partition: number; key: null; value: Buffer }[]);
    frames.byIssuer.addToAll(value, out.byIssuer as { partition: number; key: null; value: Buffer }[]);
  }

  /** Issuers are few and repeat: their partition is computed once. */
  private readonly issuerPartitions = new Map<string, number>();

  private issuerPartition(issuer: string, n: number): number {
    let p = this.issuerPartitions.get(issuer);
    if (p === undefined) {
      if (this.issuerPartitions.size >= 100_000) this.issuerPartitions.clear();
      this.issuerPartitions.set(issuer, (p = stringPartition(issuer, n)));
    }
    return p;
  }

  private sourceFor(id: string, now: number): SourceState {
    let st = this.sources.get(id);
    if (st === undefined) this.sources.set(id, (st = { clock: new SourceClock(this.opts.clock), sent: -Infinity, lastRecordAt: now, idle: false }));
    return st;
  }

  /** `lag`: records of the partition after this batch (kafkajs batch.offsetLag()); 0: read to its end. */
  process(source: string, partition: number, messages: readonly KafkaMessage[], lag: number): RepartitionOutput {
    const { ctx, limits, enrich, metrics, counters } = this.opts;
    const hint = this.opts.formats.get(source);
    const format = hint === 'auto' ? undefined : hint;
    const out: RepartitionOutput = { byToken: [], byIssuer: [], dead: [], events: 0 };
    const guardId = `${source}/${partition}`;
    this.progress.set(guardId, { lag });
    let plausible = this.guards.get(guardId);
    if (!plausible) this.guards.set(guardId, (plausible = new PlausibleTimeGuard(this.opts.plausible)));
    const now = Date.now();
    const touched = new Set<string>();
    const frames = this.newFrames();
    const tokenOut = out.byToken as { partition: number; key: null; value: Buffer }[];
    const issuerOut = out.byIssuer as { partition: number; key: null; value: Buffer }[];
    counters.records_in += messages.length;
    metrics.countEventIn(source, messages.length); // once per batch: a labelled counter costs a label lookup per call
    for (const m of messages) {
      for (const o of openKafkaValue(m.value, limits)) {
        if (o.skipped) {
          counters.records_skipped++;
          metrics.countSkipped(source, 'control_message');
          continue;
        }
        const r = decodeOpened(o, ctx, format);
        if (!r.ok) {
          counters.records_invalid++;
          metrics.countInvalid(source, r.error.code);
          // the dead letter is the whole message; the reason names the failing record inside an envelope
          out.dead.push({ value: m.value, key: m.key, topic: source, partition, offset: m.offset, format: r.format ?? hint ?? 'auto', error: reasonInEnvelope(o, r.error), envelope: o.envelope, envelope_index: o.envelope_index });
          continue;
        }
        if (r.events.length === 0) {
          counters.records_skipped++;
          metrics.countSkipped(source, 'no_credential');
        }
        let implausible: TokenwatchError | undefined;
        for (const ev of r.events) {
          // outside the plausible window: dead-lettered, never repartitioned, so no task watermark moves
          const bad = plausible.check(ev);
          if (bad) {
            implausible ??= bad;
            counters.events_implausible++;
            continue;
          }
          enrich?.enrich(ev);
          const sourceId = `${guardId}/${r.format}`;
          const st = this.sourceFor(sourceId, now);
          st.lastRecordAt = now;
          st.idle = false;
          touched.add(sourceId);
          const order = st.clock.observe(ev.time);
          const value = encodeRecord({ kind: 'event', event: ev, route: 'token', source: sourceId, order });
          const { byToken, byIssuer } = this.opts.partitions;
          frames.byToken.add(fingerprintPartition(ev.token.fp, byToken), value, tokenOut);
          if (ev.parent_fp !== undefined && ev.parent_fp !== ev.token.fp) frames.byToken.add(fingerprintPartition(ev.parent_fp, byToken), encodeRecord({ kind: 'event', event: ev, route: 'parent', source: sourceId, order }), tokenOut);
          if (ev.issuer !== undefined) frames.byIssuer.add(this.issuerPartition(ev.issuer, byIssuer), value, issuerOut);
          out.events += 1 + (ev.parent_fp !== undefined && ev.parent_fp !== ev.token.fp ? 1 : 0) + (ev.issuer !== undefined ? 1 : 0);
        }
        if (implausible) {
          counters.records_invalid++;
          metrics.countInvalid(source, implausible.code);
          out.dead.push({ value: m.value, key: m.key, topic: source, partition, offset: m.offset, format: r.format, error: reasonInEnvelope(o, implausible), envelope: o.envelope, envelope_index: o.envelope_index });
        }
      }
    }
    // after the events they cover: each task sees a source's events before its watermark passes them
    if (this.opts.idleMs === 0 && lag <= 0) {
      this.markCaughtUp(guardId, frames, out);
      out.caughtUp = true;
    } else {
      for (const id of touched) {
        const st = this.sources.get(id)!;
        const wm = st.clock.watermark;
        if (wm > st.sent) {
          st.sent = wm;
          this.pushMarkers(frames, out, id, wm, false);
        }
      }
    }
    this.flushFrames(frames, out);
    return out;
  }

  /** Every source of a partition read to its end says it is idle (idle watermark: its newest event time). */
  private markCaughtUp(input: string, frames: { byToken: PartitionFrames; byIssuer: PartitionFrames }, out: RepartitionOutput): void {
    for (const [id, st] of this.sources) {
      if (st.idle || !isSourceOf(id, input)) continue;
      st.idle = true;
      this.pushMarkers(frames, out, id, st.clock.maxTime, true);
    }
  }
}

/** Whether source `topic/partition/format` belongs to input partition `topic/partition`. */
function isSourceOf(source: string, input: string): boolean {
  return source.startsWith(input) && source.charCodeAt(input.length) === 47 /* / */ && source.indexOf('/', input.length + 1) === -1;
}

/**
 * Partition of a fingerprint key (`tw1:` + 32 hex of an HMAC): its first 32 bits are uniform, so
 * they pick the partition directly — no murmur2 per record. The repartition topics are ours: only
 * this stage writes them and only tasks read them, so the scheme need not be Kafka's default.
 */
export function fingerprintPartition(fp: string, partitions: number): number {
  const v = Number.parseInt(fp.slice(4, 12), 16);
  return Number.isNaN(v) ? stringPartition(fp, partitions) : v % partitions;
}

/** FNV-1a (32 bit) of the UTF-16 code units, modulo the partition count. */
export function stringPartition(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}
