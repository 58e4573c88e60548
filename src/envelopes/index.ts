/**
 * The envelope registry, in detection order, and `openRecord`: the step before format detection
 * that turns one raw record — bytes (a Kafka value), a text line or an already-split value — into
 * the vendor records it holds: decompressed (gzip/zstd by magic bytes, also base64 `H4sI…`),
 * parsed with the size and hostility checks, and unwrapped from its envelopes (nested ones too:
 * an Elasticsearch hit of a Logstash event). Every inner record keeps the envelope chain and its
 * position, so a broken one is dead-lettered on its own while its siblings go on.
 */
import { TokenwatchError } from '../core/errors.js';
import { decodeValue, parseJsonRecord, type DecodeLimits, type DecodeResult } from '../pipeline/decode.js';
import type { NormalizeContext } from '../normalize/types.js';
import type { SourceFormat } from '../../schemas/token-event.js';
import { decompressBuffer, detectCompression, looksLikeBase64Compressed } from '../pipeline/decompress.js';
import { cloudtrailRecords } from './cloudtrail-records.js';
import { cloudwatchLogs } from './cloudwatch-logs.js';
import { elasticsearch } from './elasticsearch.js';
import { eventbridge } from './eventbridge.js';
import { guarddutyFindings } from './guardduty-findings.js';
import { azureEventHubs } from './azure-event-hubs.js';
import { logstash } from './logstash.js';
import { lookupEvents } from './lookup-events.js';
import { splitConcatenatedJson } from './concatenated-json.js';
import type { Envelope, EnvelopeLimits, InnerRecord } from './types.js';
import { isObject } from './types.js';

export type { Envelope, EnvelopeLimits } from './types.js';

export const ENVELOPES: readonly Envelope[] = [cloudtrailRecords, eventbridge, cloudwatchLogs, lookupEvents, guarddutyFindings, azureEventHubs, elasticsearch, logstash];

/** The framing of objects written back to back (src/envelopes/concatenated-json.ts), named like an envelope. */
export const CONCATENATED_JSON = {
  id: 'concatenated_json',
  description: 'JSON objects back to back without a delimiter ({…}{…}), as Firehose writes to S3 without a new-line delimiter; each object opened on its own',
} as const;

/** Envelopes inside envelopes beyond this depth are not opened (the record goes on as it is). */
const MAX_NESTING = 4;

export type RecordLimits = DecodeLimits & EnvelopeLimits;

/** One record ready for format detection, or the reason it cannot be read. */
export interface OpenedRecord {
  /** Parsed and checked (size, nesting, forbidden keys). */
  value?: unknown;
  error?: TokenwatchError;
  /** Envelope chain, outermost first, joined by "/" (e.g. "elasticsearch/logstash"). */
  envelope?: string;
  /** Position of the record among those its envelope held (0-based). */
  envelope_index?: number;
  /** For an inner record that failed: its own raw text/value, for the dead letter. */
  inner_raw?: unknown;
  /** The envelope is valid but holds no records by design (CloudWatch Logs CONTROL_MESSAGE). */
  skipped?: 'control_message';
}

/** Raw input of one record: bytes (Kafka value), text (a line), or a value split out of a document. */
export type RecordInput = Buffer | string | { value: unknown };

const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

/** Bytes or text → text, decompressing gzip/zstd (raw or base64) within the record limit. */
export function recordText(input: Buffer | string, limits: RecordLimits): string {
  if (typeof input !== 'string') {
    const c = detectCompression(input);
    if (c) return utf8(decompressBuffer(input, c, limits.maxDecompressedBytes));
    if (input.length < 5 || input[0] === 0x7b /* { */ || input[0] === 0x5b /* [ */) return input.toString('utf8');
    input = input.toString('utf8');
  }
  let t = input;
  if (t.charCodeAt(0) === 34 /* " */ && looksLikeBase64Compressed(t.slice(1))) t = t.slice(1, t.lastIndexOf('"'));
  if (!looksLikeBase64Compressed(t)) return input;
  const bytes = Buffer.from(t.trim(), 'base64');
  const c = detectCompression(bytes);
  return c ? utf8(decompressBuffer(bytes, c, limits.maxDecompressedBytes)) : input;
}

function detectEnvelope(v: Record<string, unknown>, chain: string | undefined): Envelope | undefined {
  for (const e of ENVELOPES) {
    // an envelope never opens its own output again (a Logstash event stays a Logstash event)
    if (chain !== undefined && chain.split('/').includes(e.id)) continue;
    try {
      if (e.detect(v)) return e;
    } catch {
      // a detect() that throws is a bug in that envelope; treat as no match
    }
  }
  return undefined;
}

/**
 * Oversized input (above max_event_bytes) is accepted up to max_decompressed_bytes only when it
 * is an envelope, whose inner records are then checked against max_event_bytes one by one. Text
 * that is not one JSON value may be objects back to back (Firehose without a delimiter).
 */
type Outer = { value: unknown; oversized: boolean } | { pieces: string[] } | { error: TokenwatchError };

function parseOuter(text: string, limits: RecordLimits): Outer {
  const p = parseJsonRecord(text, limits);
  if (p.ok) return { value: p.value, oversized: false };
  if (p.error.code === 'too_large' && text.length <= limits.maxDecompressedBytes) {
    const relaxed = parseJsonRecord(text, { maxEventBytes: limits.maxDecompressedBytes, maxDepth: limits.maxDepth + MAX_NESTING * 2 });
    if (relaxed.ok) return isObject(relaxed.value) && detectEnvelope(relaxed.value, undefined) ? { value: relaxed.value, oversized: true } : { error: p.error };
    if (relaxed.error.code !== 'invalid_json') return { error: relaxed.error };
  } else if (p.error.code !== 'invalid_json') {
    return { error: p.error };
  }
  // not one JSON value: maybe objects back to back (only a failed parse pays for this scan)
  const pieces = splitConcatenatedJson(text);
  return pieces ? { pieces } : { error: p.error };
}

/** An inner value of an oversized envelope: the same size and hostility checks as a plain record. */
function checkInner(value: unknown, limits: RecordLimits): { value: unknown } | { error: TokenwatchError } {
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'null';
  } catch (cause) {
    return { error: new TokenwatchError('invalid_json', 'record cannot be serialized', undefined, { cause }) };
  }
  const p = parseJsonRecord(text, limits);
  return p.ok ? { value } : { error: p.error };
}

function expand(value: unknown, chain: string | undefined, oversized: boolean, limits: RecordLimits, depth: number, out: OpenedRecord[], outer: { index: number }): void {
  const env = isObject(value) && depth < MAX_NESTING ? detectEnvelope(value, chain) : undefined;
  if (!env) {
    if (chain === undefined) {
      out.push({ value });
      return;
    }
    const index = outer.index++;
    if (oversized) {
      const c = checkInner(value, limits);
      if ('error' in c) {
        out.push({ error: c.error, envelope: chain, envelope_index: index, inner_raw: value });
        return;
      }
    }
    out.push({ value, envelope: chain, envelope_index: index });
    return;
  }
  const name = chain === undefined ? env.id : `${chain}/${env.id}`;
  const u = env.unwrap(value as Record<string, unknown>, limits);
  if (u.skipped) out.push({ skipped: u.skipped, envelope: name });
  for (const r of u.records) expandInner(r, name, oversized, limits, depth + 1, out, outer);
}

function expandInner(r: InnerRecord, chain: string, oversized: boolean, limits: RecordLimits, depth: number, out: OpenedRecord[], outer: { index: number }): void {
  if ('error' in r) {
    out.push({ error: r.error, envelope: chain, envelope_index: outer.index++, inner_raw: r.raw });
    return;
  }
  if ('value' in r) {
    expand(r.value, chain, oversized, limits, depth, out, outer);
    return;
  }
  // an inner JSON text (a log line): parsed with the plain-record limits
  const p = parseJsonRecord(r.text, limits);
  if (!p.ok) {
    out.push({ error: p.error, envelope: chain, envelope_index: outer.index++, inner_raw: r.text });
    return;
  }
  expand(p.value, chain, false, limits, depth, out, outer);
}

/**
 * The records one raw input holds (one for a plain record). Never throws: a failure becomes an
 * OpenedRecord with an error, routed to the dead-letter destination like any other.
 */
export function openRecord(input: RecordInput, limits: RecordLimits): OpenedRecord[] {
  let parsed: Outer;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    let text: string;
    try {
      text = recordText(input, limits);
    } catch (err) {
      return [{ error: err instanceof TokenwatchError ? err : new TokenwatchError('decompression_failed', String((err as Error)?.message ?? err), undefined, { cause: err }) }];
    }
    parsed = parseOuter(text, limits);
  } else {
    // a value split out of a JSON document: the same size and hostility checks as a text line
    let text: string;
    try {
      text = JSON.stringify(input.value) ?? 'undefined';
    } catch {
      text = String(input.value);
    }
    parsed = parseOuter(text, limits);
  }
  if ('error' in parsed) return [{ error: parsed.error }];
  const out: OpenedRecord[] = [];
  const outer = { index: 0 };
  if ('value' in parsed) {
    expand(parsed.value, undefined, parsed.oversized, limits, 0, out, outer);
    return out;
  }
  // each object of a concatenation is a record (or an envelope) of its own
  for (const piece of parsed.pieces) {
    const p = parseOuter(piece, limits);
    if ('value' in p) expand(p.value, CONCATENATED_JSON.id, p.oversized, limits, 1, out, outer);
    else out.push({ error: 'error' in p ? p.error : new TokenwatchError('invalid_json', 'nested concatenation'), envelope: CONCATENATED_JSON.id, envelope_index: outer.index++, inner_raw: piece });
  }
  return out;
}

/**
 * Format detection, validation and normalization of an opened record; its token events carry the
 * envelope chain. A skipped record must not be passed here.
 */
export function decodeOpened(o: OpenedRecord, ctx: NormalizeContext, formatHint?: SourceFormat): DecodeResult {
  if (o.error) return { ok: false, error: o.error };
  const r = decodeValue(o.value, ctx, formatHint);
  if (r.ok && o.envelope !== undefined) for (const ev of r.events) ev.envelope = o.envelope;
  return r;
}

/** The error of a record inside an envelope, its message prefixed with where: `cloudwatch_logs[3]: …`. */
export function reasonInEnvelope(o: OpenedRecord, error: TokenwatchError): TokenwatchError {
  if (o.envelope === undefined) return error;
  return new TokenwatchError(error.code, `${o.envelope}[${o.envelope_index ?? 0}]: ${error.message}`, error.details, { cause: error });
}
