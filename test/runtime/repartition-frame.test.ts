import { describe, expect, it } from 'vitest';
import { TokenwatchError } from '../../src/core/errors.js';
import { FRAME_TAG, FrameBuilder, MAX_FRAME_BYTES, PartitionFrames, unframe } from '../../src/runtime/repartition-frame.js';

const rec = (n: number, size = 10): Buffer => Buffer.alloc(size, n % 256);

describe('repartition frames', () => {
  it('carry records in order and come apart into the same bytes', () => {
    const f = new FrameBuilder();
    const records = [rec(1), rec(2, 200), rec(3, 0), rec(4, 20_000)];
    for (const r of records) f.add(r);
    const frame = f.build();
    expect(frame[0]).toBe(FRAME_TAG);
    expect(unframe(frame)).toEqual(records);
    expect(f.count).toBe(0); // emptied for the next frame
  });

  it('treat a message that is not a frame as one record', () => {
    const bare = Buffer.from([1, 0, 5, 6]);
    expect(unframe(bare)).toEqual([bare]);
  });

  it('reject truncated, overlong and trailing input with invalid_token_event', () => {
    const f = new FrameBuilder();
    f.add(rec(1, 50));
    f.add(rec(2, 50));
    const frame = f.build();
    for (let cut = 1; cut < frame.length; cut++) {
      expect(() => unframe(frame.subarray(0, cut))).toThrow(TokenwatchError);
    }
    expect(() => unframe(Buffer.concat([frame, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => unframe(Buffer.from([FRAME_TAG, 0xff, 0xff, 0xff, 0xff, 0x7f]))).toThrow(TokenwatchError);
  });

  it('split a partition\'s records into frames below the size limit, one set of frames per partition', () => {
    const out: { partition: number; key: null; value: Buffer }[] = [];
    const frames = new PartitionFrames(3);
    for (let i = 0; i < 200; i++) frames.add(1, rec(i, 10_000), out);
    frames.addToAll(rec(7, 5), out);
    frames.flush(out);
    expect(out.every((m) => m.value.length <= MAX_FRAME_BYTES + 11_000)).toBe(true);
    const p1 = out.filter((m) => m.partition === 1).flatMap((m) => unframe(m.value));
    expect(p1).toHaveLength(201);
    expect(p1.at(-1)).toEqual(rec(7, 5)); // the watermark follows the events it covers
    expect(out.filter((m) => m.partition === 0).flatMap((m) => unframe(m.value))).toEqual([rec(7, 5)]);
    expect(out.filter((m) => m.partition === 1).length).toBeGreaterThan(1);
  });
});
