import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '../../src/pipeline/reorder-buffer.js';
import { ev } from '../../detectors/case-helpers.js';

const e = (t: number, id: string) => ev({ time: t, token: 'x', event_id: id });

describe('ReorderBuffer', () => {
  it('releases events in event-time order once the watermark passes them', () => {
    const b = new ReorderBuffer({ maxDelayMs: 100, maxBuffered: 1000 });
    const out: string[] = [];
    for (const x of [e(1000, 'a'), e(950, 'b'), e(1020, 'c'), e(1200, 'd')]) out.push(...b.push(x).map((y) => y.event_id));
    expect(out).toEqual(['b', 'a', 'c']); // watermark 1100 after d
    expect(b.drain().map((y) => y.event_id)).toEqual(['d']);
  });

  it('breaks time ties by event id so replays are deterministic', () => {
    const b = new ReorderBuffer({ maxDelayMs: 10, maxBuffered: 1000 });
    b.push(e(500, 'z'));
    b.push(e(500, 'a'));
    expect(b.drain().map((y) => y.event_id)).toEqual(['a', 'z']);
  });

  it('passes late events through at once and counts them', () => {
    const b = new ReorderBuffer({ maxDelayMs: 0, maxBuffered: 1000 });
    b.push(e(1000, 'a'));
    const late = b.push(e(10, 'late'));
    expect(late.map((y) => y.event_id)).toEqual(['late']);
    expect(b.late).toBe(1);
  });

  it('never holds more than maxBuffered events (oldest released early, counted)', () => {
    const b = new ReorderBuffer({ maxDelayMs: 1e9, maxBuffered: 3 });
    const released = [];
    for (let i = 0; i < 10; i++) released.push(...b.push(e(i * 10, `e${i}`)));
    expect(b.size).toBe(3);
    expect(b.forced).toBe(7);
    expect(released.map((y) => y.event_id)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
  });
});
