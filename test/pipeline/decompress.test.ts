/**
 * Bounded gzip/zstd decompression by magic bytes: whole buffers (Kafka values, base64 payloads)
 * and streams (files, stdin). The .zst fixtures were written by the zstd 1.5 CLI; the gzip data
 * is made by node:zlib here and by the gzip CLI (test/fixtures/envelopes/*.gz).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { constants, createGzip, gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TokenwatchError } from '../../src/core/errors.js';
import { decompressBuffer, detectCompression, looksLikeBase64Compressed, openInput } from '../../src/pipeline/decompress.js';
import { readRecords, type RawRecord } from '../../src/sources/file-source.js';

const FIX = fileURLToPath(new URL('../fixtures/envelopes/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tw-decompress-'));
const RECORDS_JSON = readFileSync(join(FIX, 'cloudtrail-records.json'), 'utf8');
const MiB = 1024 * 1024;

async function text(stream: Readable): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += chunk as string;
  return s;
}

function thrown(fn: () => unknown): TokenwatchError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenwatchError);
    return err as TokenwatchError;
  }
  throw new Error('expected a TokenwatchError');
}

async function collect(records: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of records) out.push(r);
  return out;
}

describe('detectCompression', () => {
  it('recognises gzip and zstd by magic bytes, nothing else', () => {
    expect(detectCompression(gzipSync('{}'))).toBe('gzip');
    expect(detectCompression(readFileSync(join(FIX, 'cloudtrail-records.json.zst')))).toBe('zstd');
    expect(detectCompression(Buffer.from('{"Records":[]}'))).toBeUndefined();
    expect(detectCompression(Buffer.from([0x1f]))).toBeUndefined();
    expect(looksLikeBase64Compressed(gzipSync('{}').toString('base64'))).toBe(true);
    expect(looksLikeBase64Compressed('{"a":1}')).toBe(false);
  });
});

describe('decompressBuffer', () => {
  it('inflates gzip, including concatenated members as Firehose writes them', () => {
    expect(decompressBuffer(gzipSync('{"a":1}'), 'gzip', MiB).toString()).toBe('{"a":1}');
    const two = Buffer.concat([gzipSync('{"a":1}\n'), gzipSync('{"b":2}\n')]);
    expect(decompressBuffer(two, 'gzip', MiB).toString()).toBe('{"a":1}\n{"b":2}\n');
  });

  it('decodes zstd written by the zstd CLI', () => {
    expect(decompressBuffer(readFileSync(join(FIX, 'cloudtrail-records.json.zst')), 'zstd', MiB).toString()).toBe(RECORDS_JSON);
  });

  it('stops a gzip bomb at the limit with too_large', () => {
    const bomb = gzipSync(Buffer.alloc(8 * MiB)); // ~8 KiB of gzip
    expect(bomb.length).toBeLessThan(64 * 1024);
    const e = thrown(() => decompressBuffer(bomb, 'gzip', MiB));
    expect(e.code).toBe('too_large');
    expect(e.message).toMatch(/more than 1048576 bytes .*max_decompressed_bytes.*decompression bomb/);
  });

  it('stops a zstd bomb at the limit with too_large, by output and by declared window', () => {
    const bomb = readFileSync(join(FIX, 'bomb-8mib-zeros.zst')); // 8 MiB of zeros in a 1 KiB window
    expect(decompressBuffer(bomb, 'zstd', 16 * MiB).length).toBe(8 * MiB);
    expect(thrown(() => decompressBuffer(bomb, 'zstd', MiB)).code).toBe('too_large');
    // a frame header declaring a 2 GiB window (fzstd would allocate it)
    const hugeWindow = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 0x01, 0x00, 0x00]);
    const e = thrown(() => decompressBuffer(hugeWindow, 'zstd', 64 * MiB));
    expect(e.code).toBe('too_large');
    expect(e.message).toMatch(/window/);
  });

  it('reports corrupt or truncated data as decompression_failed', () => {
    const gz = gzipSync(RECORDS_JSON);
    expect(thrown(() => decompressBuffer(gz.subarray(0, gz.length - 30), 'gzip', MiB)).code).toBe('decompression_failed');
    const bad = Buffer.from(gz);
    bad[20] = (bad[20]! + 0x55) & 0xff;
    bad[21] = (bad[21]! + 0x55) & 0xff;
    expect(thrown(() => decompressBuffer(bad, 'gzip', MiB)).code).toBe('decompression_failed');
    const zst = readFileSync(join(FIX, 'cloudtrail-records.json.zst'));
    expect(thrown(() => decompressBuffer(zst.subarray(0, 40), 'zstd', MiB)).code).toBe('decompression_failed');
  });
});

describe('openInput (files and stdin)', () => {
  it('streams a .json.gz written by the gzip CLI as text, counting compressed bytes read', async () => {
    const progress = { bytes: 0 };
    const { stream, compression } = await openInput(join(FIX, 'cloudtrail-s3-object.json.gz'), { maxDecompressedBytes: MiB, progress });
    expect(compression).toBe('gzip');
    expect(await text(stream)).toBe(RECORDS_JSON);
    expect(progress.bytes).toBe(readFileSync(join(FIX, 'cloudtrail-s3-object.json.gz')).length);
  });

  it('detects by content, not by name: gzip named .json, plain text named .gz', async () => {
    const gz = join(dir, 'no-suffix.json');
    writeFileSync(gz, gzipSync('{"a":1}\n'));
    expect(await text((await openInput(gz, { maxDecompressedBytes: MiB })).stream)).toBe('{"a":1}\n');
    const plain = join(dir, 'plain.json.gz');
    writeFileSync(plain, '{"b":2}\n');
    const opened = await openInput(plain, { maxDecompressedBytes: MiB });
    expect(opened.compression).toBeUndefined();
    expect(await text(opened.stream)).toBe('{"b":2}\n');
  });

  it('streams a zstd file', async () => {
    const { stream, compression } = await openInput(join(FIX, 'cloudtrail-records.json.zst'), { maxDecompressedBytes: MiB });
    expect(compression).toBe('zstd');
    expect(await text(stream)).toBe(RECORDS_JSON);
  });

  it('reads gzip from a stdin-like stream, and plain text from one', async () => {
    const gz = gzipSync('{"a":1}\n{"b":2}\n');
    const stdin = new PassThrough();
    stdin.end(gz);
    expect(await text((await openInput(stdin, { maxDecompressedBytes: MiB })).stream)).toBe('{"a":1}\n{"b":2}\n');
    const plain = Readable.from([Buffer.from('{'), Buffer.from('"c"'), Buffer.from(':3}\n')], { objectMode: false }); // a byte stream, like stdin
    expect(await text((await openInput(plain, { maxDecompressedBytes: MiB })).stream)).toBe('{"c":3}\n');
  });

  it('yields records of a gzip stream before the stream has ended (never read whole)', async () => {
    const stdin = new PassThrough();
    const gzip = createGzip();
    gzip.pipe(stdin);
    const it = readRecords(stdin, 'stdin')[Symbol.asyncIterator]();
    gzip.write('{"first":1}\n');
    gzip.flush(constants.Z_SYNC_FLUSH);
    const first = await it.next();
    expect(first.value?.text).toBe('{"first":1}');
    expect(stdin.writableEnded).toBe(false); // the rest has not even been written yet
    gzip.end('{"second":2}\n');
    expect((await it.next()).value?.text).toBe('{"second":2}');
    expect((await it.next()).done).toBe(true);
  });

  it('a file that decompresses past the limit keeps the records before it and ends with a too_large record', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(40) })).join('\n') + '\n';
    const p = join(dir, 'big.ndjson.gz');
    writeFileSync(p, gzipSync(lines));
    const recs = await collect(readRecords(p, 'big.ndjson.gz', { maxDocumentBytes: MiB, maxDecompressedBytes: 256 * 1024 }));
    const last = recs.at(-1)!;
    expect(last.opened?.error?.code).toBe('too_large');
    expect(last.opened?.error?.message).toMatch(/max_decompressed_file_bytes/);
    expect(last.origin).toEqual({ file: 'big.ndjson.gz', index: recs.length - 1 });
    expect(recs.length - 1).toBeGreaterThan(1000);
    expect(recs.length - 1).toBeLessThan(20_000);
    expect(recs.slice(0, -1).every((r, i) => r.text === JSON.stringify({ i, pad: 'x'.repeat(40) }))).toBe(true);
  });

  it('a truncated gzip file ends with a decompression_failed record', async () => {
    const gz = gzipSync('{"a":1}\n'.repeat(1000));
    const p = join(dir, 'truncated.gz');
    writeFileSync(p, gz.subarray(0, gz.length - 12));
    const recs = await collect(readRecords(p, 'truncated.gz'));
    expect(recs.at(-1)!.opened?.error?.code).toBe('decompression_failed');
  });
});
