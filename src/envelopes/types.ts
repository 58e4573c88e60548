/**
 * An envelope is a wrapper that log pipelines put around vendor records (EventBridge,
 * CloudWatch Logs subscriptions, `aws cloudtrail lookup-events`, Elasticsearch hits, Logstash).
 * Envelopes are unwrapped before format detection; one envelope can hold many records, and each
 * inner record is detected, validated and normalized (or dead-lettered) on its own.
 */
import type { TokenwatchError } from '../core/errors.js';

export interface EnvelopeLimits {
  /** Inner records above this many bytes are rejected (too_large), as plain records are. */
  maxEventBytes: number;
  maxDepth: number;
  /** Bound for base64-compressed payloads inside an envelope (CloudWatch Logs `awslogs.data`). */
  maxDecompressedBytes: number;
}

/**
 * One record an envelope holds: an already-parsed value, a JSON text still to be parsed (a
 * CloudWatch Logs message, a lookup-events CloudTrailEvent string), or the reason it is broken.
 */
export type InnerRecord = { value: unknown } | { text: string } | { error: TokenwatchError; raw?: unknown };

export interface Unwrapped {
  records: InnerRecord[];
  /** The envelope is valid but carries no records by design (CloudWatch Logs CONTROL_MESSAGE). */
  skipped?: 'control_message';
}

export interface Envelope {
  /** Recorded on every token event (`envelope`) and in dead-letter origins. */
  id: string;
  description: string;
  /** Cheap structural sniff on a parsed JSON object; must not throw. */
  detect(v: Record<string, unknown>): boolean;
  unwrap(v: Record<string, unknown>, limits: EnvelopeLimits): Unwrapped;
}

export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
