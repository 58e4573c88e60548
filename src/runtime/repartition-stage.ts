/**
 * Stage 1 of the Kafka runtime (input topics → repartition topics): each record of an input
 * batch is opened at the edge (src/sources/kafka-source.ts), decoded, validated and normalized;
 * its token events are checked against the plausible event-time window of their input partition,
 * enriched, and keyed for the repartition topics — `by_token` by token fingerprint (a mint with a
 * parent_fp also by the parent, header tw_route=parent), `by_issuer` by issuer. Records that fail,
 * and records with implausible event times, become dead letters. Producing is the runner's job.
 */
import type { KafkaMessage, Message } from 'kafkajs';
import type { SourceFormat } from '../../schemas/token-event.js';
import type { TokenwatchError } from '../core/errors.js';
import type { EnrichStage } from '../enrich/enrich-stage.js';
import { decodeOpened, reasonInEnvelope, type RecordLimits } from '../envelopes/index.js';
import type { NormalizeContext } from '../normalize/types.js';
import { PlausibleTimeGuard, type PlausibleTimeOptions } from '../pipeline/plausible-time.js';
import type { DeadLetter } from '../sinks/kafka-dead-letter-sink.js';
import { openKafkaValue } from '../sources/kafka-source.js';
import type { RuntimeMetrics } from './metrics.js';

/** Header on repartitioned events: `token` for the event's own key, `parent` for a mint's copy keyed by parent_fp. */
export const ROUTE_HEADER = 'tw_route';

/** The runner's counters this stage adds to. */
export interface RepartitionCounters {
  records_in: number;
  records_invalid: number;
  records_skipped: number;
  events_implausible: number;
}

export interface RepartitionOutput {
  byToken: Message[];
  byIssuer: Message[];
  dead: DeadLetter[];
}

export interface RepartitionStageOptions {
  ctx: NormalizeContext;
  limits: RecordLimits;
  enrich: EnrichStage | null;
  plausible: PlausibleTimeOptions;
  /** Configured format per input topic (`auto`: detect per record). */
  formats: ReadonlyMap<string, SourceFormat | 'auto'>;
  metrics: RuntimeMetrics;
  counters: RepartitionCounters;
}

export class RepartitionStage {
  /** Plausible event-time window per input partition (`topic/partition`). */
  private readonly guards = new Map<string, PlausibleTimeGuard>();

  constructor(private readonly opts: RepartitionStageOptions) {}

  /** Forget the windows of input partitions this instance no longer owns (ids `topic/partition`). */
  keepOnly(owned: ReadonlySet<string>): void {
    for (const id of this.guards.keys()) if (!owned.has(id)) this.guards.delete(id);
  }

  process(source: string, partition: number, messages: readonly KafkaMessage[]): RepartitionOutput {
    const { ctx, limits, enrich, metrics, counters } = this.opts;
    const hint = this.opts.formats.get(source);
    const format = hint === 'auto' ? undefined : hint;
    const out: RepartitionOutput = { byToken: [], byIssuer: [], dead: [] };
    const guardId = `${source}/${partition}`;
    let plausible = this.guards.get(guardId);
    if (!plausible) this.guards.set(guardId, (plausible = new PlausibleTimeGuard(this.opts.plausible)));
    for (const m of messages) {
      counters.records_in++;
      metrics.countEventIn(source);
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
          const value = JSON.stringify(ev);
          out.byToken.push({ key: ev.token.fp, value, headers: { [ROUTE_HEADER]: 'token' } });
          if (ev.parent_fp !== undefined && ev.parent_fp !== ev.token.fp) out.byToken.push({ key: ev.parent_fp, value, headers: { [ROUTE_HEADER]: 'parent' } });
          if (ev.issuer !== undefined) out.byIssuer.push({ key: ev.issuer, value });
        }
        if (implausible) {
          counters.records_invalid++;
          metrics.countInvalid(source, implausible.code);
          out.dead.push({ value: m.value, key: m.key, topic: source, partition, offset: m.offset, format: r.format, error: reasonInEnvelope(o, implausible), envelope: o.envelope, envelope_index: o.envelope_index });
        }
      }
    }
    return out;
  }
}
