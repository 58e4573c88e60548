import { describe, expect, it } from 'vitest';
import { WatermarkTracker } from '../../src/pipeline/watermark-tracker.js';

describe('WatermarkTracker', () => {
  it('holds everything until every known source has sent a watermark', () => {
    const w = new WatermarkTracker();
    expect(w.watermark).toBe(-Infinity);
    w.noteSource('a');
    w.noteSource('b');
    w.update('a', 100, false);
    expect(w.watermark).toBe(-Infinity);
    w.update('b', 50, false);
    expect(w.watermark).toBe(50);
  });

  it('is the minimum over active sources; an idle source stops holding back, and speaks up again with its next event', () => {
    const w = new WatermarkTracker();
    w.update('fast', 1000, false);
    w.update('slow', 200, false);
    expect(w.watermark).toBe(200);
    w.update('slow', 300, true);
    expect(w.watermark).toBe(1000);
    w.noteSource('slow');
    expect(w.watermark).toBe(300);
  });

  it('uses the largest idle watermark when every source is idle, and never moves a source back', () => {
    const w = new WatermarkTracker();
    w.update('a', 500, true);
    w.update('b', 800, true);
    expect(w.watermark).toBe(800);
    w.update('b', 100, false); // an older record from a restarted reader
    w.update('a', 900, false);
    expect(w.watermark).toBe(800);
  });

  it('round-trips through a snapshot', () => {
    const w = new WatermarkTracker();
    w.update('a', 500, false);
    w.update('b', 700, true);
    w.noteSource('c');
    const r = new WatermarkTracker();
    r.restore(JSON.parse(JSON.stringify(w.snapshot())));
    expect(r.watermark).toBe(w.watermark);
    expect(r.size).toBe(3);
  });
});

describe('WatermarkTracker with expected inputs', () => {
  it('releases nothing until every expected input partition has been heard from (an event, a watermark, or idle)', () => {
    const w = new WatermarkTracker();
    w.expect('in/0');
    w.expect('in/1');
    w.update('in/0/cloudtrail', 500, false);
    expect(w.watermark).toBe(-Infinity); // in/1 has not spoken: its first events may be older
    w.update('in/1/-', -Infinity, true); // an empty partition says it is idle
    expect(w.watermark).toBe(500);
    const restored = new WatermarkTracker();
    restored.restore(w.snapshot());
    restored.expect('in/0');
    restored.expect('in/1');
    expect(restored.watermark).toBe(500); // already heard from both
  });
});
