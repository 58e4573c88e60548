/**
 * File/stdin source: NDJSON, a JSON array, or a CloudTrail `{"Records":[...]}` file (also a
 * single pretty-printed JSON object). NDJSON is streamed line by line; a document that does
 * not parse line by line is read whole (bounded by maxDocumentBytes) and split into records.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { TokenwatchError } from '../core/errors.js';
import type { OpenedRecord } from '../envelopes/index.js';
import { openInput } from '../pipeline/decompress.js';

export interface RawRecord {
  /** The record's text (NDJSON line) or, for records split out of a document, its parsed value. */
  text?: string;
  value?: unknown;
  /** `envelope`/`envelope_index`: the record was unwrapped from an envelope (src/envelopes). */
  origin: { file: string; index: number; envelope?: string; envelope_index?: number };
  /** Set once the record was decompressed, parsed and unwrapped (src/envelopes/open-records.ts), or when the input stream failed. */
  opened?: OpenedRecord;
}

export interface FileSourceOptions {
  /** Upper bound for a whole-document read (JSON array / Records file). */
  maxDocumentBytes: number;
  /** Incremented as input is read (characters ≈ bytes for log text), for progress display. */
  progress?: { bytes: number };
  /** Most bytes a gzip/zstd input may decompress to (limits.max_decompressed_file_bytes). */
  maxDecompressedBytes?: number;
}

export const DEFAULT_FILE_SOURCE_OPTIONS: FileSourceOptions = { maxDocumentBytes: 512 * 1024 * 1024, maxDecompressedBytes: 64 * 1024 ** 3 };

const RECORDS_LINE = /^\s*\{\s*"Records"\s*:/;

/** The records of a CloudTrail `{"Records":[...]}` wrapper, or undefined. */
function recordsWrapper(v: unknown): unknown[] | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const r = (v as { Records?: unknown }).Records;
  return Array.isArray(r) && Object.keys(v).length === 1 ? r : undefined;
}

function recordsOf(line: string): unknown[] | undefined {
  try {
    return recordsWrapper(JSON.parse(line));
  } catch {
    return undefined;
  }
}

/**
 * Yields raw records; a broken document yields one record carrying its text so the decode stage
 * rejects it with a reason. gzip/zstd input (by magic bytes) is decompressed as it streams; when
 * it turns out corrupt or exceeds maxDecompressedBytes, the records read so far stand and one
 * record carrying the error ends the input.
 */
export async function* readRecords(input: string | Readable, name: string, opts: FileSourceOptions = DEFAULT_FILE_SOURCE_OPTIONS): AsyncGenerator<RawRecord> {
  const opened = await openInput(input, { maxDecompressedBytes: opts.maxDecompressedBytes ?? DEFAULT_FILE_SOURCE_OPTIONS.maxDecompressedBytes!, progress: opts.progress });
  if (!opened.compression) {
    yield* readText(opened.stream, name, opts);
    return;
  }
  let index = 0;
  try {
    for await (const rec of readText(opened.stream, name, opts)) {
      index = rec.origin.index + 1;
      yield rec;
    }
  } catch (err) {
    if (!(err instanceof TokenwatchError)) throw err;
    yield { text: '', origin: { file: name, index }, opened: { error: err } };
  }
}

async function* readText(stream: Readable, name: string, opts: FileSourceOptions): AsyncGenerator<RawRecord> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let index = 0;
  let mode: 'unknown' | 'ndjson' | 'document' = 'unknown';
  let doc: string[] = [];
  let docBytes = 0;
  for await (const line of lines) {
    if (mode === 'unknown') {
      const t = line.trim();
      if (t === '') continue;
      if (t.startsWith('[')) mode = 'document';
      else if (t.startsWith('{')) {
        try {
          JSON.parse(t);
          mode = 'ndjson';
        } catch {
          mode = 'document';
        }
      } else mode = 'ndjson'; // garbage: let the decoder reject each line with a reason
    }
    if (mode === 'ndjson') {
      if (line.trim() === '') continue;
      if (RECORDS_LINE.test(line)) {
        // CloudTrail's S3 files are one `{"Records":[...]}` object per line
        const records = recordsOf(line);
        if (records) {
          for (const value of records) yield { value, origin: { file: name, index: index++ } };
          continue;
        }
      }
      yield { text: line, origin: { file: name, index: index++ } };
    } else {
      docBytes += line.length + 1;
      if (docBytes > opts.maxDocumentBytes) {
        yield { text: doc.join('\n').slice(0, 1024), origin: { file: name, index: index++ } };
        throw new Error(`${name}: JSON document larger than ${opts.maxDocumentBytes} bytes; convert it to NDJSON`);
      }
      doc.push(line);
    }
  }
  if (mode !== 'document') return;
  const text = doc.join('\n');
  doc = [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    yield { text, origin: { file: name, index: index++ } };
    return;
  }
  const items = Array.isArray(parsed) ? parsed : (recordsWrapper(parsed) ?? [parsed]);
  for (const value of items) yield { value, origin: { file: name, index: index++ } };
}
