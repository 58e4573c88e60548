/**
 * The file/stdin side of `openRecord`: every raw record of a source, decompressed, parsed and
 * unwrapped into the records it holds, each with its own origin (file, index, and for an
 * enveloped record the envelope chain and its position in the envelope).
 */
import type { RawRecord } from '../sources/file-source.js';
import { openRecord, type RecordLimits } from './index.js';

export interface OpenCounters {
  /** CloudWatch Logs CONTROL_MESSAGE batches: valid, hold no records. */
  control_messages: number;
}

export async function* openRecords(records: AsyncIterable<RawRecord>, limits: RecordLimits, counters: OpenCounters): AsyncGenerator<RawRecord> {
  for await (const rec of records) {
    if (rec.opened) {
      // already failed at the source (a corrupt or oversized compressed stream)
      yield rec;
      continue;
    }
    const opened = openRecord(rec.text ?? { value: rec.value }, limits);
    for (const o of opened) {
      if (o.skipped) {
        counters.control_messages++;
        continue;
      }
      if (o.envelope === undefined) {
        rec.opened = o;
        yield rec;
        continue;
      }
      const origin = { file: rec.origin.file, index: rec.origin.index, envelope: o.envelope, envelope_index: o.envelope_index ?? 0 };
      // a failed inner record's dead letter holds that record, not the whole envelope
      const raw = o.error ? (o.inner_raw ?? rec.text ?? rec.value) : o.value;
      yield typeof raw === 'string' ? { text: raw, origin, opened: o } : { value: raw, origin, opened: o };
    }
  }
}
