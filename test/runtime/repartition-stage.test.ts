import { describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { createMetrics } from '../../src/runtime/metrics.js';
import { RepartitionStage, repartitionOptionsFor } from '../../src/runtime/repartition-stage.js';
import { unframe } from '../../src/runtime/repartition-frame.js';
import { decodeRecord, type RepartitionRecord } from '../../src/runtime/token-event-codec.js';
import { simulate, DEFAULT_START, type SimEvent } from '../../src/simulate/index.js';

const TOPIC = 'in.kong';

function stageWith(idleSeconds: number): RepartitionStage {
  const cfg = parseConfig({ engine: { source_idle_seconds: idleSeconds }, kafka: { brokers: ['127.0.0.1:1'], group_id: 'g', inputs: [{ topic: TOPIC, format: 'kong' }] } });
  const counters = { records_in: 0, records_invalid: 0, records_skipped: 0, events_implausible: 0 };
  const opts = repartitionOptionsFor(cfg, { ctx: { fingerprint: createFingerprinter({ key: 'k'.repeat(32) }) }, formats: new Map([[TOPIC, 'kong' as const]]), metrics: createMetrics(), counters });
  return new RepartitionStage({ ...opts, enrich: null, partitions: { byToken: 2, byIssuer: 2 } });
}

const kongRecords: SimEvent[] = [];
for (const e of simulate({ seed: 3, start: DEFAULT_START, hours: 1, attacks: [] }).events) {
  if (e.format === 'kong') kongRecords.push(e);
  if (kongRecords.length === 6) break;
}

const messages = (from: number, n: number): KafkaMessage[] =>
  kongRecords.slice(from, from + n).map((e, i) => ({ key: null, value: Buffer.from(JSON.stringify(e.record)), offset: String(from + i), timestamp: '0', attributes: 0, headers: {} }) as KafkaMessage);

/** The watermark records of a batch's output (every partition of both topics gets each). */
function watermarks(out: { byToken: { value: Buffer | string | null }[]; byIssuer: { value: Buffer | string | null }[] }): Extract<RepartitionRecord, { kind: 'watermark' }>[] {
  return out.byToken
    .flatMap((m) => unframe(m.value as Buffer).map(decodeRecord))
    .filter((r): r is Extract<RepartitionRecord, { kind: 'watermark' }> => r.kind === 'watermark');
}

describe('RepartitionStage: idle sources', () => {
  it('source_idle_seconds 0: a batch that reads its partition to the end marks its sources idle in its own frame', () => {
    const stage = stageWith(0);
    const out = stage.process(TOPIC, 0, messages(0, 3), 0);
    expect(out.events).toBeGreaterThan(0);
    expect(out.caughtUp).toBe(true);
    const marks = watermarks(out);
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.every((w) => w.idle)).toBe(true);
    // the idle watermark is the source's newest event time: nothing it has sent is held back
    expect(marks.find((w) => w.source === `${TOPIC}/0/kong`)?.watermark).toBe(Math.max(...kongRecords.slice(0, 3).map((e) => e.time)));
    // already idle and nothing new: no second marker from the timer sweep
    expect(stage.idleMarkers(Date.now() + 10_000, 0).size).toBe(0);
  });

  it('source_idle_seconds 0: a batch with unread records after it (a backlog) keeps its sources active', () => {
    const stage = stageWith(0);
    const out = stage.process(TOPIC, 0, messages(0, 3), 3);
    expect(out.caughtUp).toBeUndefined();
    const marks = watermarks(out);
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.every((w) => !w.idle)).toBe(true);
    expect(stage.inputWatermark(`${TOPIC}/0`)).toBeGreaterThan(-Infinity);
  });

  it('a timed idleness (> 0) never marks a caught-up batch idle: only the sweep does, once quiet that long', () => {
    const stage = stageWith(1);
    const out = stage.process(TOPIC, 0, messages(0, 3), 0);
    expect(out.caughtUp).toBeUndefined();
    expect(watermarks(out).every((w) => !w.idle)).toBe(true);
    expect(stage.idleMarkers(Date.now(), 1000).size).toBe(0);
    const later = stage.idleMarkers(Date.now() + 1500, 1000);
    expect([...later.keys()]).toEqual([`${TOPIC}/0`]);
    expect(watermarks(later.get(`${TOPIC}/0`)!).every((w) => w.idle)).toBe(true);
  });

  it('an idle source that speaks again sends its events, then its idle marker at its new newest time, in each frame', () => {
    const stage = stageWith(0);
    stage.process(TOPIC, 0, messages(0, 3), 0);
    const out = stage.process(TOPIC, 0, messages(3, 3), 0);
    expect(out.caughtUp).toBe(true);
    let events = 0;
    for (const m of out.byToken) {
      const recs = unframe(m.value as Buffer).map(decodeRecord);
      events += recs.filter((r) => r.kind === 'event').length;
      const mark = recs.findIndex((r) => r.kind === 'watermark');
      expect(mark).toBeGreaterThanOrEqual(0); // every partition hears the marker
      expect(recs.slice(mark).every((r) => r.kind === 'watermark')).toBe(true); // after the events it covers
    }
    expect(events).toBeGreaterThan(0);
    const mark = watermarks(out).find((w) => w.source === `${TOPIC}/0/kong`);
    expect(mark).toEqual({ kind: 'watermark', source: `${TOPIC}/0/kong`, idle: true, watermark: Math.max(...kongRecords.map((e) => e.time)) });
  });
});
