/**
 * A detection task's watermark from the watermarks of the sources feeding it (Flink's model):
 * the minimum over sources that are not idle. A task releases an event to its detectors once
 * every active source has promised nothing earlier is coming, so with live traffic an alert
 * follows its event by milliseconds, and a source that is legitimately behind (its logs arrive
 * minutes late) holds the others back only as far as it is behind.
 *
 * A source is known from its first event or watermark record; until its first watermark it holds
 * everything (its watermark is -Infinity). An idle source (no records for a while, judged where
 * it is read) is left out of the minimum; its idle watermark is its newest event time, which
 * counts when every source is idle. The engine's reorder cap (newest event − max delay) still
 * bounds how far one slow source can hold the rest back.
 */

interface SourceMark {
  watermark: number;
  idle: boolean;
}

export class WatermarkTracker {
  private readonly sources = new Map<string, SourceMark>();
  /**
   * Inputs known to exist (Kafka: every input partition, from topic metadata) that have not been
   * heard from yet: until each has sent an event or a watermark, nothing is released — otherwise
   * the first input to start would run the task ahead and the others' first events would be late.
   */
  private readonly awaited = new Set<string>();

  /** Expect a source whose id starts with `prefix` + '/' (an input partition; its formats are sources). */
  expect(prefix: string): void {
    for (const id of this.sources.keys()) if (id.startsWith(`${prefix}/`)) return;
    this.awaited.add(prefix);
  }

  private heard(source: string): void {
    if (this.awaited.size === 0) return;
    const i = source.lastIndexOf('/');
    if (i > 0) this.awaited.delete(source.slice(0, i));
  }

  /** Sources this task has heard of. */
  get size(): number {
    return this.sources.size;
  }

  /** A source's event arrived: it now takes part in the minimum (and is active again). */
  noteSource(source: string): void {
    this.heard(source);
    const s = this.sources.get(source);
    if (s === undefined) this.sources.set(source, { watermark: -Infinity, idle: false });
    else if (s.idle) s.idle = false;
  }

  /** A source's watermark (never moves back) and whether it is idle. */
  update(source: string, watermark: number, idle: boolean): void {
    this.heard(source);
    const s = this.sources.get(source);
    if (s === undefined) this.sources.set(source, { watermark, idle });
    else {
      if (watermark > s.watermark) s.watermark = watermark;
      s.idle = idle;
    }
  }

  /** Forget a source (it will not send again, e.g. a replay input that ended). */
  remove(source: string): void {
    this.sources.delete(source);
  }

  /** min over active sources; max over all when every source is idle; -Infinity with none. */
  get watermark(): number {
    if (this.awaited.size > 0) return -Infinity;
    let min = Infinity;
    let max = -Infinity;
    for (const s of this.sources.values()) {
      if (s.watermark > max) max = s.watermark;
      if (!s.idle && s.watermark < min) min = s.watermark;
    }
    return min === Infinity ? max : min;
  }

  /** For checkpoints: the sources' marks. */
  snapshot(): Record<string, SourceMark> {
    return Object.fromEntries([...this.sources].map(([k, v]) => [k, { watermark: Number.isFinite(v.watermark) ? v.watermark : -1, idle: v.idle }]));
  }

  restore(marks: Record<string, SourceMark>): void {
    for (const [k, v] of Object.entries(marks)) this.update(k, v.watermark < 0 ? -Infinity : v.watermark, v.idle);
  }
}
