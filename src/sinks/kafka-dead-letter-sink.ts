/**
 * Records that failed decoding go to the dead-letter topic. The value is what
 * `dead_letter.payload` keeps of the original bytes (src/sinks/dead-letter-payload.ts; default:
 * the record with secrets and credential ids masked, cut to 64 KiB; bytes that are not UTF-8 text
 * are dropped), the key is the original key, and headers say why and where from:
 *   reason_code     closed error code (src/core/errors.ts), e.g. invalid_json, schema_violation
 *   reason_message  readable reason (field path and problem; never a token value)
 *   source_topic, source_partition, source_offset   where the record was read
 *   format          the configured or detected vendor format, or "auto" when none matched
 *   envelope, envelope_index   for a record unwrapped from an envelope (src/envelopes): the chain,
 *                   outermost first (e.g. "cloudwatch_logs/eventbridge"), and the failing record's
 *                   position in it; absent for a plain record. The value is still the whole message.
 *   payload         masked | dropped | dropped_binary (what the value holds; see above)
 *   payload_truncated  "true" when the masked value was cut
 *   payload_bytes   size of the original value
 */
import type { IHeaders, Message, Producer } from 'kafkajs';
import type { TokenwatchError } from '../core/errors.js';
import { deadLetterPayloadOfBytes, type DeadLetterPayloadMode } from './dead-letter-payload.js';

export interface DeadLetter {
  value: Buffer | null;
  key: Buffer | null;
  topic: string;
  partition: number;
  offset: string;
  format: string;
  error: TokenwatchError;
  /** Set when the failing record was unwrapped from an envelope (OpenedRecord.envelope). */
  envelope?: string;
  envelope_index?: number;
}

/** Headers every dead letter carries. */
export const DEAD_LETTER_HEADERS = ['reason_code', 'reason_message', 'source_topic', 'source_partition', 'source_offset', 'format', 'payload', 'payload_truncated', 'payload_bytes'] as const;
/** Headers a dead letter carries only when the failing record came out of an envelope. */
export const DEAD_LETTER_ENVELOPE_HEADERS = ['envelope', 'envelope_index'] as const;

const MAX_REASON = 1000;

export interface DeadLetterPayloadOptions {
  /** dead_letter.payload: what the value keeps of the failed record. */
  payload: DeadLetterPayloadMode;
  /** limits.max_decompressed_bytes: a compressed value is stored decompressed (and masked) within it. */
  maxDecompressedBytes: number;
}

const DEFAULT_PAYLOAD: DeadLetterPayloadOptions = { payload: 'mask', maxDecompressedBytes: 64 * 1024 * 1024 };

export function deadLetterMessage(d: DeadLetter, opts: DeadLetterPayloadOptions = DEFAULT_PAYLOAD): Message {
  const p = deadLetterPayloadOfBytes(d.value, opts.payload, opts.maxDecompressedBytes);
  const headers: IHeaders = {
    reason_code: d.error.code,
    reason_message: d.error.message.length > MAX_REASON ? `${d.error.message.slice(0, MAX_REASON)}…` : d.error.message,
    source_topic: d.topic,
    source_partition: String(d.partition),
    source_offset: d.offset,
    format: d.format,
    payload: p.disposition,
    payload_truncated: String(p.truncated),
    payload_bytes: String(d.value?.length ?? 0),
  };
  if (d.envelope !== undefined) {
    headers.envelope = d.envelope;
    headers.envelope_index = String(d.envelope_index ?? 0);
  }
  return { key: d.key, value: p.disposition === 'masked' ? Buffer.from(p.text, 'utf8') : null, headers };
}

export class KafkaDeadLetterSink {
  private inFlight = 0;

  constructor(
    private readonly producer: Producer,
    readonly topic: string,
    private readonly payload: DeadLetterPayloadOptions = DEFAULT_PAYLOAD,
  ) {}

  get queueDepth(): number {
    return this.inFlight;
  }

  /** Resolves once every dead letter is acknowledged (acks=all). */
  async write(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    this.inFlight += letters.length;
    try {
      await this.producer.send({ topic: this.topic, acks: -1, messages: letters.map((d) => deadLetterMessage(d, this.payload)) });
    } finally {
      this.inFlight -= letters.length;
    }
  }
}
