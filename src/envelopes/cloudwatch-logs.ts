/**
 * CloudWatch Logs subscription payloads (a log group of CloudTrail, or of any vendor writing
 * JSON lines, subscribed to Kinesis, Firehose or Lambda). AWS delivers each batch gzip-compressed
 * (and base64-encoded wherever it travels in JSON):
 *   {"messageType":"DATA_MESSAGE","owner","logGroup","logStream","subscriptionFilters",
 *    "logEvents":[{"id","timestamp","message":"<the vendor record as text>"}]}
 * Read here: the decoded batch, the Lambda event `{"awslogs":{"data":"<base64 gzip>"}}`; a raw
 * gzip value or a bare base64 string is decompressed before envelopes are looked at.
 * `CONTROL_MESSAGE` batches (sent to check the destination) hold no records and are skipped.
 * Shape: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html
 */
import { TokenwatchError } from '../core/errors.js';
import { parseJsonRecord } from '../pipeline/decode.js';
import { decompressBuffer, detectCompression } from '../pipeline/decompress.js';
import type { Envelope, EnvelopeLimits, InnerRecord, Unwrapped } from './types.js';
import { isObject } from './types.js';

const fail = (message: string): Unwrapped => ({ records: [{ error: new TokenwatchError('schema_violation', `cloudwatch_logs: ${message}`) }] });

/** `awslogs.data`: base64 of a gzip'd batch. */
function decodeLambdaPayload(data: string, limits: EnvelopeLimits): { batch: Record<string, unknown> } | { error: TokenwatchError } {
  const bytes = Buffer.from(data, 'base64');
  const compression = detectCompression(bytes);
  if (!compression) return { error: new TokenwatchError('decompression_failed', 'cloudwatch_logs: awslogs.data is not base64 of gzip data') };
  let text: string;
  try {
    text = decompressBuffer(bytes, compression, limits.maxDecompressedBytes).toString('utf8');
  } catch (err) {
    return { error: err as TokenwatchError };
  }
  const parsed = parseJsonRecord(text, { maxEventBytes: limits.maxDecompressedBytes, maxDepth: limits.maxDepth });
  if (!parsed.ok) return { error: parsed.error };
  if (!isObject(parsed.value)) return { error: new TokenwatchError('schema_violation', 'cloudwatch_logs: awslogs.data does not hold a JSON object') };
  return { batch: parsed.value };
}

function logEvent(e: unknown): InnerRecord {
  if (isObject(e) && typeof e.message === 'string') return { text: e.message };
  return { error: new TokenwatchError('schema_violation', 'cloudwatch_logs: logEvents[] element without a message string'), raw: e };
}

function unwrapBatch(b: Record<string, unknown>): Unwrapped {
  if (b.messageType === 'CONTROL_MESSAGE') return { records: [], skipped: 'control_message' };
  if (b.messageType !== 'DATA_MESSAGE') return fail(`messageType must be DATA_MESSAGE or CONTROL_MESSAGE, got ${JSON.stringify(b.messageType)?.slice(0, 40)}`);
  if (!Array.isArray(b.logEvents)) return fail('logEvents must be an array');
  return { records: b.logEvents.map(logEvent) };
}

export const cloudwatchLogs: Envelope = {
  id: 'cloudwatch_logs',
  description: 'CloudWatch Logs subscription batch (DATA_MESSAGE logEvents[].message; decoded, gzip, base64, or Lambda {"awslogs":{"data"}}); CONTROL_MESSAGE skipped',
  detect: (v) => (typeof v.messageType === 'string' && ('logEvents' in v || 'logGroup' in v)) || (isObject(v.awslogs) && typeof v.awslogs.data === 'string'),
  unwrap(v, limits) {
    if (isObject(v.awslogs) && typeof v.awslogs.data === 'string') {
      const d = decodeLambdaPayload(v.awslogs.data, limits);
      return 'error' in d ? { records: [{ error: d.error }] } : unwrapBatch(d.batch);
    }
    return unwrapBatch(v);
  },
};
