/**
 * Transparent, bounded decompression of gzip and zstd input, detected by magic bytes (never by
 * file name): files and stdin are decompressed as streams (a multi-GB `.json.gz` is never held
 * whole), Kafka record values and base64 payloads (CloudWatch Logs `awslogs.data`, Kinesis
 * `data`) in one bounded call. Every output is capped — a decompression bomb stops at the limit
 * with a `too_large` error, corrupt or truncated data fails with `decompression_failed`.
 *
 * gzip: node:zlib (concatenated members, as Firehose and `cat a.gz b.gz` write them, included).
 * zstd: fzstd (pure JS; Node 20's zlib has no zstd). fzstd allocates the window a frame header
 * declares, so a frame header asking for more than MAX_ZSTD_WINDOW is refused up front.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { TokenwatchError } from '../core/errors.js';

export type Compression = 'gzip' | 'zstd';
export const COMPRESSIONS: readonly { id: Compression; description: string }[] = [
  { id: 'gzip', description: 'gzip (RFC 1952), also concatenated members; magic 1f 8b' },
  { id: 'zstd', description: 'Zstandard frames (RFC 8878); magic 28 b5 2f fd' },
];

/** zstd's own decoder default (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27): larger windows are refused. */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/** The compression of data starting with `head`, from its magic bytes. */
export function detectCompression(head: Uint8Array): Compression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return undefined;
}

/** base64 of the magic bytes: `H4sI` = 1f 8b 08 (gzip, deflate), `KLUv/` = 28 b5 2f fd (zstd). */
export function looksLikeBase64Compressed(text: string): boolean {
  return text.startsWith('H4sI') || text.startsWith('KLUv/');
}

const tooLarge = (what: string, max: number): TokenwatchError =>
  new TokenwatchError('too_large', `${what} decompresses to more than ${max} bytes (limits.max_decompressed_${what === 'record' ? '' : 'file_'}bytes): refused as a possible decompression bomb`);

const failed = (c: Compression, cause: unknown): TokenwatchError =>
  new TokenwatchError('decompression_failed', `${c} data is corrupt or truncated: ${String((cause as Error)?.message ?? cause).slice(0, 200)}`, undefined, { cause });

/** Window size a zstd frame header at `at` declares (bytes), or undefined for a skippable/unknown frame. */
function zstdWindow(d: Uint8Array, at: number): number | undefined {
  if (d.length < at + 6 || d[at] !== 0x28 || d[at + 1] !== 0xb5 || d[at + 2] !== 0x2f || d[at + 3] !== 0xfd) return undefined;
  const flg = d[at + 4]!;
  const singleSegment = (flg >> 5) & 1;
  if (!singleSegment) {
    const wd = d[at + 5]!;
    const base = 2 ** (10 + (wd >> 3));
    return base + (base / 8) * (wd & 7);
  }
  // single segment: the window is the frame content size
  const fcsFlag = flg >> 6;
  const dictBytes = [0, 1, 2, 4][flg & 3]!;
  const fcsBytes = fcsFlag === 0 ? 1 : 1 << fcsFlag;
  let size = 0;
  const off = at + 5 + dictBytes;
  for (let i = Math.min(fcsBytes, 6) - 1; i >= 0; i--) size = size * 256 + (d[off + i] ?? 0);
  if (fcsBytes === 8 && ((d[off + 6] ?? 0) | (d[off + 7] ?? 0)) !== 0) return Number.MAX_SAFE_INTEGER;
  return fcsFlag === 1 ? size + 256 : size;
}

function checkZstdHeader(d: Uint8Array, max: number): void {
  const w = zstdWindow(d, 0);
  if (w !== undefined && w > Math.min(MAX_ZSTD_WINDOW, Math.max(max, 1024))) {
    throw new TokenwatchError('too_large', `zstd frame declares a ${w}-byte window (most accepted: ${Math.min(MAX_ZSTD_WINDOW, max)}): refused as a possible decompression bomb`);
  }
}

/**
 * Decompress one whole buffer (a Kafka value, a decoded base64 payload) to at most `max` bytes.
 * Throws TokenwatchError too_large / decompression_failed.
 */
export function decompressBuffer(data: Uint8Array, compression: Compression, max: number): Buffer {
  if (compression === 'gzip') {
    try {
      return gunzipSync(data, { maxOutputLength: max });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('record', max);
      throw failed('gzip', cause);
    }
  }
  checkZstdHeader(data, max);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const z = new ZstdDecompress((chunk, final) => {
    total += chunk.length;
    if (total > max) throw tooLarge('record', max);
    chunks.push(chunk);
    if (final) ended = true;
  });
  try {
    z.push(data, true);
  } catch (cause) {
    if (cause instanceof TokenwatchError) throw cause;
    throw failed('zstd', cause);
  }
  if (!ended && total === 0) throw failed('zstd', new Error('no complete frame'));
  return Buffer.concat(chunks);
}

/** Counts decompressed bytes and fails the stream past `max`. */
class ByteLimit extends Transform {
  private total = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.max) cb(tooLarge('file', this.max));
    else cb(null, chunk);
  }
}

/** fzstd's streaming decoder as a Transform. */
class ZstdStream extends Transform {
  private readonly z: ZstdDecompress;
  private first = true;
  constructor(private readonly maxWindow: number) {
    super();
    this.z = new ZstdDecompress((chunk) => this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (this.first) {
        this.first = false;
        checkZstdHeader(chunk, this.maxWindow);
      }
      this.z.push(chunk);
      cb();
    } catch (cause) {
      cb(cause instanceof TokenwatchError ? cause : failed('zstd', cause));
    }
  }
  override _flush(cb: TransformCallback): void {
    try {
      this.z.push(new Uint8Array(0), true);
      cb();
    } catch (cause) {
      cb(failed('zstd', cause));
    }
  }
}

/** Reads up to `n` bytes from the start of a stream and puts the chunks back as they were. */
async function peek(stream: Readable, n: number): Promise<Buffer> {
  const chunks: (Buffer | string)[] = [];
  let len = 0;
  while (len < n) {
    const chunk = stream.read() as Buffer | string | null;
    if (chunk !== null) {
      chunks.push(chunk);
      len += chunk.length;
      continue;
    }
    if (stream.readableEnded || stream.destroyed) break;
    const more = await new Promise<boolean>((resolve, reject) => {
      const done = (v: boolean) => () => {
        stream.off('readable', onReadable).off('end', onEnd).off('error', onError);
        resolve(v);
      };
      const onReadable = done(true);
      const onEnd = done(false);
      const onError = (err: Error) => {
        stream.off('readable', onReadable).off('end', onEnd);
        reject(err);
      };
      stream.once('readable', onReadable).once('end', onEnd).once('error', onError);
    });
    if (!more) break;
  }
  // unshift in reverse: an object-mode stream (Readable.from(strings)) gets its own chunks back
  for (let i = chunks.length - 1; i >= 0; i--) stream.unshift(chunks[i]);
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c))).subarray(0, n);
}

export interface OpenInputOptions {
  /** Most decompressed bytes (compressed input only). */
  maxDecompressedBytes: number;
  /** Incremented by the bytes read from the input itself (compressed bytes for compressed input). */
  progress?: { bytes: number };
}

export interface OpenedInput {
  /** UTF-8 text of the input, decompressed when it was compressed. */
  stream: Readable;
  compression?: Compression;
}

/**
 * Open a file path or an already-open stream (stdin) for reading as text, decompressing it when
 * its first bytes are a gzip or zstd magic number. Errors (corrupt data, the limit) are emitted
 * by the returned stream as TokenwatchErrors.
 */
export async function openInput(input: string | Readable, opts: OpenInputOptions): Promise<OpenedInput> {
  let raw: Readable;
  let head: Uint8Array;
  if (typeof input === 'string') {
    const fh = await open(input, 'r');
    try {
      const buf = Buffer.alloc(4);
      const { bytesRead } = await fh.read(buf, 0, 4, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    raw = createReadStream(input);
  } else if (input.readableObjectMode) {
    // an object-mode stream of strings (Readable.from(lines)) is text already: nothing to detect
    if (opts.progress) input.on('data', (chunk: string) => (opts.progress!.bytes += chunk.length));
    return { stream: input.setEncoding('utf8') };
  } else {
    raw = input;
    head = await peek(raw, 4);
  }
  const progress = opts.progress;
  if (progress) raw.on('data', (chunk: Buffer | string) => (progress.bytes += chunk.length));
  const compression = detectCompression(head);
  if (!compression) return { stream: raw.setEncoding('utf8') };
  const decoder = compression === 'gzip' ? createGunzip() : new ZstdStream(opts.maxDecompressedBytes);
  const limit = new ByteLimit(opts.maxDecompressedBytes);
  // errors are forwarded by hand (not pipeline()): the consumer reads `limit` and sees them there
  raw.on('error', (err) => limit.destroy(err));
  decoder.on('error', (err) => limit.destroy(err instanceof TokenwatchError ? err : failed(compression, err)));
  raw.pipe(decoder).pipe(limit);
  limit.on('close', () => {
    raw.unpipe(decoder);
    decoder.destroy();
    if (typeof input === 'string') raw.destroy();
  });
  return { stream: limit.setEncoding('utf8'), compression };
}
