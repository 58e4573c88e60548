import { describe, expect, it } from 'vitest';
import type { Message } from 'kafkajs';
import { produceChunks } from '../../src/runtime/transactional-outbox.js';

const msg = (bytes: number, partition?: number, tag = ''): Message => ({ value: Buffer.alloc(bytes, tag || 'x'), ...(partition !== undefined && { partition }) });
const shape = (chunks: ReturnType<typeof produceChunks>) => chunks.map((c) => c.map((t) => `${t.topic}:${t.messages.map((m) => `${m.partition ?? '*'}/${(m.value as Buffer).length}`).join(',')}`));

describe('produceChunks', () => {
  it('keeps everything in one request while no partition exceeds the limit', () => {
    const chunks = produceChunks([{ topic: 't', messages: [msg(300, 0), msg(300, 1), msg(300, 2)] }, { topic: 'u', messages: [msg(100)] }], 1000);
    expect(chunks).toHaveLength(1);
  });

  it('splits one partition\'s messages over requests, in order, each under the limit; other partitions ride along', () => {
    // 400 bytes + 64 of record overhead each: two fit partition 0's 1000, a third does not
    const chunks = produceChunks([{ topic: 't', messages: [msg(400, 0), msg(400, 0), msg(400, 1), msg(400, 0)] }], 1000);
    expect(shape(chunks)).toEqual([['t:0/400,0/400,1/400'], ['t:0/400']]);
    // partition 0's messages keep their order across the chunks
    const order = chunks.flatMap((c) => c.flatMap((t) => t.messages.filter((m) => m.partition === 0)));
    expect(order).toHaveLength(3);
  });

  it('counts an unplaced message against the fullest partition of its topic, and sends an oversized message alone', () => {
    expect(shape(produceChunks([{ topic: 't', messages: [msg(700, 3), msg(400)] }], 1000))).toEqual([['t:3/700'], ['t:*/400']]);
    expect(shape(produceChunks([{ topic: 't', messages: [msg(5000, 0), msg(10, 0)] }], 1000))).toEqual([['t:0/5000'], ['t:0/10']]);
  });
});
