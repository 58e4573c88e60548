import { describe, expect, it } from 'vitest';
import { SourceClock } from '../../src/pipeline/source-clock.js';

const HOUR = 3_600_000;
const opts = { minBoundMs: 1000, maxBoundMs: 300_000 };

describe('SourceClock', () => {
  it('trails an in-order source by the minimum bound only', () => {
    const c = new SourceClock(opts);
    expect(c.watermark).toBe(-Infinity);
    for (let t = 10_000; t <= 20_000; t += 500) expect(c.observe(t)).toBe(t); // in time: ordered at its own time
    expect(c.maxTime).toBe(20_000);
    expect(c.watermark).toBe(20_000 - 1000 - 1);
  });

  it('learns a disorder that is common: the first event beyond the bound is late, the same disorder later is not', () => {
    const c = new SourceClock(opts);
    let t = 100_000;
    c.observe(t);
    // 60 s behind a watermark 1 s behind: late, ordered just past the watermark it missed
    expect(c.observe(t - 60_000)).toBe(t - 1000 - 1 + 1);
    expect(c.late).toBe(1);
    const feed = (n: number) => {
      for (let i = 0; i < n; i++) {
        t += 1000;
        c.observe(t);
        c.observe(t - 50_000); // every other event 50 s behind: part of how this source is delivered
      }
    };
    feed(100); // the watermark never moves back: until it trails by the learned bound, such events are late
    expect(c.bound).toBe(65_536); // the covering power of two above 60 s
    const lateAfterLearning = c.late;
    feed(100);
    expect(c.late).toBe(lateAfterLearning);
    expect(c.watermark).toBe(t - 65_536 - 1);
  });

  it('lets a rare straggler through as late instead of holding the whole source back', () => {
    const c = new SourceClock(opts);
    let t = 0;
    for (let i = 0; i < 1000; i++) c.observe((t += 100));
    const wm = c.watermark;
    expect(c.observe(t - 160_000)).toBe(wm + 1); // a backdated record, once in a thousand
    expect(c.late).toBe(1);
    for (let i = 0; i < 10; i++) c.observe((t += 100));
    expect(c.bound).toBe(1000);
    expect(c.watermark).toBe(t - 1000 - 1);
  });

  it('caps the bound and never moves the watermark back', () => {
    const c = new SourceClock(opts);
    c.observe(10 * HOUR);
    const before = c.watermark;
    c.observe(9 * HOUR); // an hour of disorder on half the events: capped at 5 minutes
    expect(c.bound).toBe(300_000);
    expect(c.watermark).toBe(before);
  });

  it('forgets a disorder after one to two hours of event time', () => {
    const c = new SourceClock(opts);
    c.observe(HOUR + 120_000);
    c.observe(HOUR); // 2 min disorder in hour 1
    expect(c.bound).toBe(131_072);
    c.observe(2 * HOUR + 1); // hour 2: the previous hour's disorder still counts
    expect(c.bound).toBe(131_072);
    c.observe(3 * HOUR + 1); // hour 3: gone
    expect(c.bound).toBe(1000);
    expect(c.watermark).toBe(3 * HOUR + 1 - 1000 - 1);
  });

  it('gives the same lateness for the same sequence (no wall clock)', () => {
    const seq = [5, 3, 9, 1, 12, 11, 30, 2, 31].map((s) => s * 1000);
    const run = () => {
      const c = new SourceClock(opts);
      return seq.map((t) => c.observe(t));
    };
    expect(run()).toEqual(run());
  });
});
