/**
 * A batch waiting on its sinks keeps the consumer's group membership: kafkajs heartbeats only
 * between batches, withHeartbeats heartbeats during the batch.
 */
import { describe, expect, it } from 'vitest';
import { withHeartbeats } from '../../src/runtime/batch-heartbeat.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('heartbeats during a long batch', () => {
  it('heartbeats on the interval while the work runs, never overlapping, and stops after it', async () => {
    let beats = 0;
    let inFlight = 0;
    let overlapped = false;
    const heartbeat = async () => {
      if (inFlight > 0) overlapped = true;
      inFlight++;
      beats++;
      await tick(30); // slower than the interval: the next beat waits for this one
      inFlight--;
    };
    const result = await withHeartbeats(heartbeat, 10, async () => {
      await tick(200);
      return 'done';
    });
    expect(result).toBe('done');
    expect(beats).toBeGreaterThanOrEqual(3);
    expect(overlapped).toBe(false);
    const after = beats;
    await tick(60);
    expect(beats).toBe(after);
  });

  it('a failing heartbeat (rebalance) does not fail the batch; a failing batch still stops the beats', async () => {
    let beats = 0;
    const failing = async () => {
      beats++;
      throw new Error('The group is rebalancing, so a rejoin is needed');
    };
    await expect(withHeartbeats(failing, 10, async () => (await tick(60), 1))).resolves.toBe(1);
    expect(beats).toBeGreaterThan(0);
    const n = beats;
    await expect(withHeartbeats(failing, 10, async () => { await tick(30); throw new Error('sink failed'); })).rejects.toThrow('sink failed');
    const m = beats;
    expect(m).toBeGreaterThan(n);
    await tick(40);
    expect(beats).toBe(m);
  });
});
