/**
 * The edge of a Kafka input record: its value bytes → the records it holds, ready for format
 * detection (decompressed from gzip/zstd, raw or base64, and unwrapped from envelopes by
 * openRecord), or the reason it holds none. Bytes that are neither valid UTF-8 nor compressed
 * are refused here: decoding them would turn the bad bytes into U+FFFD and accept the record.
 */
import { isUtf8 } from 'node:buffer';
import { TokenwatchError } from '../core/errors.js';
import { openRecord, type OpenedRecord, type RecordLimits } from '../envelopes/index.js';
import { detectCompression } from '../pipeline/decompress.js';

export function openKafkaValue(value: Buffer | null, limits: RecordLimits): OpenedRecord[] {
  if (value === null) return [{ error: new TokenwatchError('invalid_json', 'empty message value') }];
  if (detectCompression(value) === undefined && !isUtf8(value)) return [{ error: new TokenwatchError('invalid_utf8', 'message value is neither valid UTF-8 nor gzip/zstd') }];
  return openRecord(value, limits);
}
