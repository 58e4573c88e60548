/** NDJSON output for simulated records, honouring stream backpressure. */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { SimEvent } from './types.js';

/** Write each record as one JSON line; resolves with the count once everything is buffered. */
export async function writeNdjson(events: Iterable<SimEvent> | AsyncIterable<SimEvent>, stream: Writable): Promise<number> {
  let n = 0;
  let chunk = '';
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const ok = stream.write(chunk);
    chunk = '';
    if (!ok) await once(stream, 'drain');
  };
  // Batch records into ~64 KiB writes: one write per record is slow at 1M events.
  if (Symbol.iterator in events) {
    for (const e of events) {
      chunk += JSON.stringify(e.record) + '\n';
      n++;
      if (chunk.length >= 65_536) await flush();
    }
  } else {
    for await (const e of events) {
      chunk += JSON.stringify(e.record) + '\n';
      n++;
      if (chunk.length >= 65_536) await flush();
    }
  }
  await flush();
  return n;
}
