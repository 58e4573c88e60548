/**
 * What the main thread and an ingest thread (ingest-thread.ts) send each other, and how a batch's
 * bytes cross: an input batch's values travel as one ArrayBuffer plus their lengths, the output's
 * frames as one ArrayBuffer plus an index — both transferred, not copied, so a batch costs two
 * memcpy's of its bytes (into the buffer on one side, nothing on the other) and a handful of
 * small objects, whatever its record count.
 *
 * Dead letters come back with their own copy of the record's value and key, the index of their
 * message in the batch and their reason: the main thread keeps only the batch's offsets, not the
 * messages (whose values are slices of kafkajs' whole fetch response).
 */
import type { KafkaMessage } from 'kafkajs';
import type { SourceFormat } from '../../schemas/token-event.js';
import type { TokenwatchConfig } from '../config/config-schema.js';
import { TokenwatchError, type ErrorCode } from '../core/errors.js';
import type { DeadLetter } from '../sinks/kafka-dead-letter-sink.js';
import type { EnrichmentVersions } from '../enrich/provenance.js';
import type { IngestTallySnapshot } from './ingest-tally.js';
import type { RepartitionOutput } from './repartition-stage.js';

/** workerData of an ingest thread: everything it needs to build its RepartitionStage. */
export interface IngestThreadInit {
  config: TokenwatchConfig;
  /** The HMAC key (the runner's env may be injected; a thread's process.env is a copy of the real one). */
  hmacKey: string | undefined;
  formats: [string, SourceFormat | 'auto'][];
  partitions: { byToken: number; byIssuer: number };
}

export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: readonly { path: string; message: string }[];
}

/** A dead letter: `index` is the message's place in the batch (the main thread knows its offset). */
export interface PackedDeadLetter {
  index: number;
  value: Uint8Array | null;
  key: Uint8Array | null;
  format: string;
  error: SerializedError;
  envelope?: string;
  envelope_index?: number;
}

export interface PackedOutput {
  /** The frames' bytes, back to back. */
  frames: ArrayBuffer;
  /** Per frame: topic (0 by_token, 1 by_issuer), partition, byte offset, byte length. */
  index: Int32Array;
  dead: PackedDeadLetter[];
  events: number;
  caughtUp?: boolean;
  idled?: string[];
}

export type ToThread =
  | { op: 'process'; id: number; topic: string; partition: number; lag: number; values: ArrayBuffer; lengths: Int32Array; keyLengths: Int32Array }
  | { op: 'idle'; id: number; now: number; idleMs: number; skip: string[] }
  | { op: 'owned'; inputs: string[]; now: number }
  | { op: 'keep-only'; owned: string[] }
  | { op: 'reset'; input: string; now: number }
  | { op: 'not-idle'; sources: string[] };

export type FromThread =
  /** `enrichment`: the versions of the IP data it loaded (the main thread's alerts name them: provenance.ts). */
  | { op: 'ready'; enrichment: EnrichmentVersions | undefined }
  | { op: 'init-failed'; error: SerializedError }
  | { op: 'processed'; id: number; out: PackedOutput; watermark: number; tally: IngestTallySnapshot }
  | { op: 'idled'; id: number; outputs: [string, PackedOutput][] }
  /** A request that threw: a bug, not bad input (bad input is a dead letter). */
  | { op: 'failed'; id: number; error: SerializedError };

export function serializeError(e: unknown): SerializedError {
  if (e instanceof TokenwatchError) return e.details ? { code: e.code, message: e.message, details: e.details } : { code: e.code, message: e.message };
  return { code: 'source_failed', message: e instanceof Error ? e.message : String(e) };
}

export const deserializeError = (e: SerializedError): TokenwatchError => new TokenwatchError(e.code, e.message, e.details);

/** An input batch's values and keys as one transferable buffer (values first, then keys); null ones have length -1. */
export function packValues(messages: readonly KafkaMessage[]): { values: ArrayBuffer; lengths: Int32Array; keyLengths: Int32Array } {
  const lengths = new Int32Array(messages.length);
  const keyLengths = new Int32Array(messages.length);
  let total = 0;
  for (let i = 0; i < messages.length; i++) {
    const { value, key } = messages[i]!;
    lengths[i] = value === null ? -1 : value.length;
    keyLengths[i] = key === null ? -1 : key.length;
    total += (value?.length ?? 0) + (key?.length ?? 0);
  }
  // allocUnsafeSlow: a buffer of its own (not a slice of the shared pool), so it can be transferred
  const buf = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const m of messages) if (m.value !== null) at += m.value.copy(buf, at);
  for (const m of messages) if (m.key !== null) at += m.key.copy(buf, at);
  return { values: buf.buffer as ArrayBuffer, lengths, keyLengths };
}

/**
 * The batch as the thread's stage reads it: views into the transferred buffer; `offset` holds
 * the message's index in the batch, so a dead letter names its message (`unpackOutput`).
 */
export function unpackValues(values: ArrayBuffer, lengths: Int32Array, keyLengths: Int32Array): KafkaMessage[] {
  const out: KafkaMessage[] = new Array(lengths.length);
  let at = 0;
  const view = (n: number): Buffer | null => {
    if (n < 0) return null;
    const b = Buffer.from(values, at, n);
    at += n;
    return b;
  };
  for (let i = 0; i < lengths.length; i++) out[i] = { key: null, value: view(lengths[i]!), offset: String(i), timestamp: '0', attributes: 0, headers: {} } as KafkaMessage;
  for (let i = 0; i < keyLengths.length; i++) out[i]!.key = view(keyLengths[i]!);
  return out;
}

/** A copy with a buffer of its own: a view would clone the whole batch buffer behind it. */
const own = (b: Buffer | null): Uint8Array | null => (b === null ? null : new Uint8Array(b));

/** A stage output as a transferable buffer (the thread's side). */
export function packOutput(o: RepartitionOutput): PackedOutput {
  const frames = [...o.byToken.map((m) => [0, m] as const), ...o.byIssuer.map((m) => [1, m] as const)];
  let total = 0;
  for (const [, m] of frames) total += (m.value as Buffer).length;
  const buf = Buffer.allocUnsafeSlow(total);
  const index = new Int32Array(frames.length * 4);
  let at = 0;
  frames.forEach(([topic, m], i) => {
    const v = m.value as Buffer;
    index.set([topic, m.partition!, at, v.length], i * 4);
    at += v.copy(buf, at);
  });
  const dead = o.dead.map(
    (d): PackedDeadLetter => ({ index: Number(d.offset), value: own(d.value), key: own(d.key), format: d.format, error: serializeError(d.error), ...(d.envelope === undefined ? {} : { envelope: d.envelope, envelope_index: d.envelope_index }) }),
  );
  const packed: PackedOutput = { frames: buf.buffer as ArrayBuffer, index, dead, events: o.events };
  if (o.caughtUp) packed.caughtUp = true;
  if (o.idled) packed.idled = o.idled;
  return packed;
}

/** The main thread's side: frames as Buffers over the transferred bytes, dead letters with their batch's offsets. */
export function unpackOutput(p: PackedOutput, batch?: { topic: string; partition: number; offsets: readonly string[] }): RepartitionOutput {
  const out: RepartitionOutput = { byToken: [], byIssuer: [], dead: [], events: p.events };
  for (let i = 0; i < p.index.length; i += 4) {
    const msg = { partition: p.index[i + 1]!, key: null, value: Buffer.from(p.frames, p.index[i + 2]!, p.index[i + 3]!) };
    (p.index[i] === 0 ? out.byToken : out.byIssuer).push(msg);
  }
  const buffer = (u: Uint8Array | null): Buffer | null => (u === null ? null : Buffer.from(u.buffer, u.byteOffset, u.length));
  for (const d of p.dead) {
    const offset = batch?.offsets[d.index];
    if (!batch || offset === undefined) throw new TokenwatchError('source_failed', `ingest thread: dead letter for message ${d.index} of a batch of ${batch?.offsets.length ?? 0}`);
    const dl: DeadLetter = { value: buffer(d.value), key: buffer(d.key), topic: batch.topic, partition: batch.partition, offset, format: d.format, error: deserializeError(d.error) };
    if (d.envelope !== undefined) {
      dl.envelope = d.envelope;
      if (d.envelope_index !== undefined) dl.envelope_index = d.envelope_index;
    }
    out.dead.push(dl);
  }
  if (p.caughtUp) out.caughtUp = true;
  if (p.idled) out.idled = p.idled;
  return out;
}
