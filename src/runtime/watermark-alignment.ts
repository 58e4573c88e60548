/**
 * Watermark alignment across the input partitions this instance reads (Flink's alignment): an
 * input partition whose event time runs more than `maxAheadMs` ahead of the slowest active one is
 * paused until the others catch up. During a backlog, kafkajs fetches partitions at different
 * paces: one can be hours of event time ahead of another, and a task would have to hold its
 * events (reorder_max_delay_seconds caps that, and whatever the cap releases early makes the
 * later partition's events late — different alerts than a replay). Aligned, every partition
 * advances together and tasks release events in the same order a replay does.
 */
export class WatermarkAlignment {
  private readonly marks = new Map<string, { watermark: number; idle: boolean }>();
  private readonly paused = new Set<string>();

  constructor(private readonly maxAheadMs: number) {}

  /** An input partition's event time (the lowest watermark of its sources) moved. */
  update(input: string, watermark: number): void {
    const m = this.marks.get(input);
    if (m === undefined) this.marks.set(input, { watermark, idle: false });
    else {
      if (watermark > m.watermark) m.watermark = watermark;
      m.idle = false;
    }
  }

  /** The partition had no records for a while (or was revoked): it no longer holds the others back. */
  idle(input: string): void {
    const m = this.marks.get(input);
    if (m) m.idle = true;
  }

  /** Forget every input partition not in `owned` (revoked: another member reads it now). */
  keepOnly(owned: ReadonlySet<string>): string[] {
    const resumed: string[] = [];
    for (const id of [...this.marks.keys()]) {
      if (owned.has(id)) continue;
      if (this.paused.has(id)) resumed.push(id);
      this.forget(id);
    }
    return resumed;
  }

  forget(input: string): void {
    this.marks.delete(input);
    this.paused.delete(input);
  }

  /** Partitions to pause now and to resume now (ids as given to update). */
  decide(): { pause: string[]; resume: string[] } {
    let min = Infinity;
    for (const m of this.marks.values()) if (!m.idle && Number.isFinite(m.watermark) && m.watermark < min) min = m.watermark;
    const pause: string[] = [];
    const resume: string[] = [];
    for (const [id, m] of this.marks) {
      const ahead = min !== Infinity && m.watermark > min + this.maxAheadMs;
      if (ahead && !this.paused.has(id)) {
        this.paused.add(id);
        pause.push(id);
      } else if (!ahead && this.paused.has(id) && (min === Infinity || m.watermark <= min + this.maxAheadMs / 2)) {
        this.paused.delete(id);
        resume.push(id);
      }
    }
    return { pause, resume };
  }

  isPaused(input: string): boolean {
    return this.paused.has(input);
  }

  pausedIds(): string[] {
    return [...this.paused];
  }
}
