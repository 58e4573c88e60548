/**
 * Frames on the repartition topics: the records one stage-1 batch sends to one partition travel
 * as one Kafka message — `tag count (length record)…` with varint counts and lengths — instead of
 * one message each. kafkajs spends tens of microseconds per message (record encoding, CRC,
 * buffers, socket writes); a frame pays that once per partition and batch. Record order inside a
 * frame is the order stage 1 produced them, so a source's watermark record still follows the
 * events it covers. A message that is not a frame is a single record.
 */
import { TokenwatchError } from '../core/errors.js';

/** First byte of a frame (a bare record starts with its codec version, a small number). */
export const FRAME_TAG = 0xf0;
/** A frame is closed once it holds this many bytes (brokers' default message limit is 1 MiB). */
export const MAX_FRAME_BYTES = 512 * 1024;

const varintLength = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);

function writeVarint(buf: Buffer, at: number, v: number): number {
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[at++] = v;
  return at;
}

/** Collects the records of one frame. */
export class FrameBuilder {
  private readonly records: Buffer[] = [];
  private bytes = 0;

  get count(): number {
    return this.records.length;
  }

  /** Bytes the frame holds so far (records and their lengths). */
  get size(): number {
    return this.bytes;
  }

  add(record: Buffer): void {
    this.records.push(record);
    this.bytes += varintLength(record.length) + record.length;
  }

  /** The frame, and the builder emptied for the next one. */
  build(): Buffer {
    const n = this.records.length;
    const out = Buffer.allocUnsafe(1 + varintLength(n) + this.bytes);
    out[0] = FRAME_TAG;
    let at = writeVarint(out, 1, n);
    for (const r of this.records) {
      at = writeVarint(out, at, r.length);
      at += r.copy(out, at);
    }
    this.records.length = 0;
    this.bytes = 0;
    return out;
  }
}

const bad = (why: string): TokenwatchError => new TokenwatchError('invalid_token_event', `repartition frame is malformed: ${why}`);

/** The records of a message (views into it, no copies); a message that is not a frame is one record. */
export function unframe(buf: Buffer): Buffer[] {
  const at = frameRanges(buf);
  const out: Buffer[] = [];
  for (let i = 0; i < at.length; i += 2) out.push(buf.subarray(at[i], at[i + 1]));
  return out;
}

/** Where the records of a message are: start and end of each, flat (no view object per record). */
export function frameRanges(buf: Buffer): number[] {
  if (buf.length === 0 || buf[0] !== FRAME_TAG) return [0, buf.length];
  let at = 1;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= buf.length) throw bad('truncated');
      const b = buf[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    throw bad('varint too long');
  };
  const n = varint();
  if (n > buf.length) throw bad('count exceeds the message');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = varint();
    if (at + len > buf.length) throw bad('record runs past the end');
    out.push(at, at + len);
    at += len;
  }
  if (at !== buf.length) throw bad('trailing bytes');
  return out;
}

/** One frame per partition of a repartition topic, for one stage-1 batch. */
export class PartitionFrames {
  private readonly frames: FrameBuilder[];

  constructor(partitions: number) {
    this.frames = Array.from({ length: partitions }, () => new FrameBuilder());
  }

  /** Add a record for `partition`; a full frame goes to `out` at once. */
  add(partition: number, record: Buffer, out: { partition: number; key: null; value: Buffer }[]): void {
    const f = this.frames[partition]!;
    f.add(record);
    if (f.size >= MAX_FRAME_BYTES) out.push({ partition, key: null, value: f.build() });
  }

  /** The same record for every partition (a watermark). */
  addToAll(record: Buffer, out: { partition: number; key: null; value: Buffer }[]): void {
    for (let p = 0; p < this.frames.length; p++) this.add(p, record, out);
  }

  /** Every non-empty frame to `out`. */
  flush(out: { partition: number; key: null; value: Buffer }[]): void {
    this.frames.forEach((f, partition) => {
      if (f.count > 0) out.push({ partition, key: null, value: f.build() });
    });
  }
}
