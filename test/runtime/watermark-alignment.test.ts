import { describe, expect, it } from 'vitest';
import { WatermarkAlignment } from '../../src/runtime/watermark-alignment.js';

const MIN = 60_000;

describe('WatermarkAlignment', () => {
  it('pauses a partition that runs ahead of the slowest active one, and resumes it once the others caught up half way', () => {
    const a = new WatermarkAlignment(10 * MIN);
    a.update('in/0', 0);
    a.update('in/1', 5 * MIN);
    expect(a.decide()).toEqual({ pause: [], resume: [] });
    a.update('in/1', 11 * MIN);
    expect(a.decide()).toEqual({ pause: ['in/1'], resume: [] });
    expect(a.isPaused('in/1')).toBe(true);
    a.update('in/0', 2 * MIN); // within the limit again, not yet half way
    expect(a.decide()).toEqual({ pause: [], resume: [] });
    a.update('in/0', 7 * MIN);
    expect(a.decide()).toEqual({ pause: [], resume: ['in/1'] });
  });

  it('lets an idle partition stop holding the others back, so nothing waits forever', () => {
    const a = new WatermarkAlignment(10 * MIN);
    a.update('in/0', 0);
    a.update('in/1', 30 * MIN);
    expect(a.decide().pause).toEqual(['in/1']);
    a.idle('in/0'); // exhausted: no more records
    expect(a.decide().resume).toEqual(['in/1']);
    a.update('in/0', 1 * MIN); // it speaks again: the leader waits once more
    expect(a.decide().pause).toEqual(['in/1']);
  });

  it('forgets revoked partitions', () => {
    const a = new WatermarkAlignment(MIN);
    a.update('in/0', 0);
    a.update('in/1', 10 * MIN);
    a.decide();
    a.forget('in/1');
    expect(a.pausedIds()).toEqual([]);
    expect(a.decide()).toEqual({ pause: [], resume: [] });
  });
});

describe('WatermarkAlignment after a rebalance', () => {
  it('a revoked slowest partition stops holding the others back', () => {
    const a = new WatermarkAlignment(10 * MIN);
    a.update('in/0', 0);
    a.update('in/1', 30 * MIN);
    expect(a.decide().pause).toEqual(['in/1']);
    expect(a.keepOnly(new Set(['in/1']))).toEqual([]); // in/0 moved to another member
    expect(a.decide().resume).toEqual(['in/1']);
  });
});
