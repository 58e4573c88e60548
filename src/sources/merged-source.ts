/**
 * Replay inputs merged by event time. `tokenwatch replay okta.ndjson kong.log` must see the IdP's
 * revoke before the gateway's later use of the same token, whatever the order of the files on the
 * command line: reading the files one after another would put every event of the second file far
 * behind the watermark (late) and lose the correlations across them.
 *
 * Each input is read and decoded in its own stream (its own reader, dead letters and progress);
 * a min-heap holds the head item of each stream keyed by its event time, and the earliest head is
 * released next (a k-way merge). Each input only needs to be roughly time-ordered: what is left
 * out of order is within the engine's reorder buffer. Memory is one head per input plus what each
 * reader buffers (readline pauses its file past ~1k lines), never a whole file.
 */
import { MinHeap } from '../core/min-heap.js';
import { TokenwatchError } from '../core/errors.js';
import type { DecodeResult } from '../pipeline/decode.js';
import type { RawRecord } from './file-source.js';

/** One item of the merged stream and the input (position in the argument list) it came from. */
export interface MergedItem<T> {
  input: number;
  item: T;
}

interface Head<T> {
  input: number;
  time: number;
  item: T | undefined;
  it: AsyncIterator<T>;
}

// The heap holds at most one head per input, so equal times release in input order: the same
// arguments always give the same order.
const before = <T>(a: Head<T>, b: Head<T>): boolean => a.time < b.time || (a.time === b.time && a.input < b.input);

/**
 * Merges `inputs` into one stream ordered by `timeOf` of each input's head. Items without a time
 * (`undefined`: a rejected record, a record that yields no token event) have no place in event
 * time: they are passed on as soon as they are read, so dead letters stay with their input's
 * reading and never hold the merge back.
 */
export async function* mergeByEventTime<T>(
  inputs: readonly AsyncIterable<T>[],
  timeOf: (item: T) => number | undefined,
  /** Called when an input has no more items (its sources stop holding the watermark back). */
  onEnd?: (input: number) => void,
): AsyncGenerator<MergedItem<T>> {
  const heads: Head<T>[] = inputs.map((src, input) => ({ input, time: 0, item: undefined, it: src[Symbol.asyncIterator]() }));
  const heap = new MinHeap<Head<T>>(before);
  const open = new Set(heads);
  // inputs whose next timed item must be read before the earliest head is known (all, at first)
  const toFill = heads.slice().reverse();
  try {
    for (;;) {
      for (let h = toFill.pop(); h !== undefined; h = toFill.pop()) {
        for (;;) {
          const r = await h.it.next();
          if (r.done) {
            open.delete(h);
            onEnd?.(h.input);
            break;
          }
          const t = timeOf(r.value);
          if (t === undefined) {
            yield { input: h.input, item: r.value };
            continue;
          }
          h.time = t;
          h.item = r.value;
          heap.push(h);
          break;
        }
      }
      const next = heap.pop();
      if (next === undefined) return;
      const item = next.item as T;
      next.item = undefined;
      yield { input: next.input, item };
      toFill.push(next);
    }
  } finally {
    // stopped early (consumer break, an input failed): close the readers still open
    for (const h of open) await h.it.return?.();
  }
}

/** A raw record after decode, validation and normalization. */
export interface DecodedRecord {
  rec: RawRecord;
  result: DecodeResult;
}

/** The event time a decoded record sorts by: its earliest token event; none for a rejected or empty record. */
export function decodedRecordTime(d: DecodedRecord): number | undefined {
  if (!d.result.ok) return undefined;
  const evs = d.result.events;
  if (evs.length === 0) return undefined;
  let t = evs[0]!.time;
  for (let i = 1; i < evs.length; i++) if (evs[i]!.time < t) t = evs[i]!.time;
  return t;
}

/**
 * The records of a lane's inputs (usually one), read one after another and decoded in this
 * lane's own stream; a reader is opened only when its turn comes. A failure to read an input
 * (missing file, unreadable stream) becomes `source_failed` naming the input, with the cause kept.
 */
export async function* decodeLane(
  inputs: readonly { name: string; records: () => AsyncIterable<RawRecord> }[],
  decode: (rec: RawRecord) => DecodeResult,
): AsyncGenerator<DecodedRecord> {
  for (const input of inputs) {
    try {
      for await (const rec of input.records()) yield { rec, result: decode(rec) };
    } catch (cause) {
      if (cause instanceof TokenwatchError) throw cause;
      throw new TokenwatchError('source_failed', `cannot read ${input.name}: ${(cause as Error).message}`, undefined, { cause });
    }
  }
}

/**
 * Most inputs merged side by side. A k-way merge keeps every input open; `cloudtrail/*.json` can
 * name thousands of files, so beyond this many inputs consecutive arguments share a lane and are
 * read one after another (a shell glob lists one source's files in name order, which for
 * CloudTrail's S3 keys is time order).
 */
export const MAX_MERGED_INPUTS = 64;

/** Splits `items` into at most `lanes` consecutive runs of near-equal length. */
export function consecutiveLanes<T>(items: readonly T[], lanes: number): T[][] {
  const n = Math.max(1, Math.min(lanes, items.length));
  const out: T[][] = [];
  for (let i = 0; i < n; i++) out.push(items.slice(Math.floor((i * items.length) / n), Math.floor(((i + 1) * items.length) / n)));
  return out;
}

/** Decoded records of all inputs, merged by event time (inputs in lanes beyond `maxMerged`). */
export function mergeDecodedInputs(
  inputs: readonly { name: string; records: () => AsyncIterable<RawRecord> }[],
  decode: (rec: RawRecord) => DecodeResult,
  maxMerged: number = MAX_MERGED_INPUTS,
  onEnd?: (input: number) => void,
): AsyncGenerator<MergedItem<DecodedRecord>> {
  return mergeByEventTime(
    consecutiveLanes(inputs, maxMerged).map((lane) => decodeLane(lane, decode)),
    decodedRecordTime,
    onEnd,
  );
}
