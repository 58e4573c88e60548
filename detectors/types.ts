/**
 * The detector contract. A detector is a small stateful module: explicit, bounded,
 * serializable state; no I/O; no wall clock (time comes only from events and watermarks).
 * The same instance type runs in the embedded runner, the Kafka runner and the tests.
 */
import type { z } from 'zod';
import type { DetectorId, Severity } from '../schemas/alert.js';
import type { TokenEvent } from '../schemas/token-event.js';

/**
 * The state key of a detector's per-task shared state (learned global rates, sketches, held
 * alerts): not any routing key (a routing key starting with `~` is stored as `~~…`, see src/core/keyed-store.ts).
 */
export const SHARED_STATE_KEY = '~shared';

/** How the runtime routes events to this detector's state (Kafka: which repartition topic). */
export type KeyBy = 'token' | 'issuer';

export interface DetectorKindMeta {
  title: string;
  severity: Severity;
  /** Overrides/extends the detector's ATT&CK list for this sub-detection. */
  mitre_attack?: readonly string[];
}

export interface DetectorMeta {
  id: DetectorId;
  /** Bump when the logic changes what alerts it emits. */
  version: number;
  title: string;
  description: string;
  key_by: KeyBy;
  mitre_attack: readonly string[];
  owasp_nhi: readonly string[];
  /** Short runbook: what to check, how to contain. */
  runbook: string;
  /** The closed set of sub-detections (`alert.kind`). */
  kinds: Readonly<Record<string, DetectorKindMeta>>;
}

/** What a detector returns; the runtime turns it into an Alert (id, evidence, mapping). */
export interface AlertDraft {
  kind: string;
  /** Defaults to the kind's severity. */
  severity?: Severity;
  /** 0..1: how strongly the evidence deviates from the baseline. */
  score: number;
  title: string;
  summary: string;
  /** Repeats with the same key inside the suppression window are folded into one alert. */
  dedup_key: string;
  token_fp?: string;
  issuer?: string;
  subject?: string;
  service?: string;
  /** Evidence events, oldest first; the last one is the trigger. At most ~20. */
  events: readonly TokenEvent[];
  /** The baseline it was judged against (counts, medians, known sets, thresholds). */
  baseline: Record<string, unknown>;
}

export interface DetectorInstance<State = unknown> {
  /** Events arrive in event-time order per key (late events are still delivered). */
  process(event: TokenEvent): AlertDraft[];
  /** The watermark moved: close windows ending ≤ watermark, evict state idle beyond max age. */
  advance(watermark: number): AlertDraft[];
  /** JSON-serializable state, enough to resume after restore(). */
  snapshot(): State;
  restore(state: State): void;
  /*
   * Key-level state, for a changelog of changed keys: collecting the last getKey(k) of every key
   * changedKeys() ever returned and putKey()-ing each defined one into a fresh instance gives an
   * instance that behaves exactly like this one from then on. A key is the detector's choice
   * (normally the routing key; SHARED_STATE_KEY for per-task shared state). Until the first
   * changedKeys() or putKey() call nothing is tracked, and the first changedKeys() returns every
   * live key; restore() counts every key held before or after as changed.
   */
  /** Keys whose state changed (or was evicted) since the last call, each once; the call forgets them. */
  changedKeys(): string[];
  /**
   * One key's JSON-serializable state; undefined when the key holds nothing (the runtime writes a
   * tombstone). It may share objects with the live state: serialize it before the next process()/advance().
   */
  getKey(key: string): unknown;
  /**
   * Install one key's state (restore from the changelog, before any event reaches the instance).
   * The instance takes ownership of `state` (pass a freshly parsed value).
   */
  putKey(key: string, state: unknown): void;
  /** Live keys held (for telemetry and bounds checks). */
  size(): number;
}

export interface DetectorCase<Config = unknown> {
  name: string;
  /** Overrides merged over the detector's defaults. */
  config?: Partial<Config>;
  /** Timed input, in event-time order. */
  events: readonly TokenEvent[];
  /** Expected alerts (kind, and optionally token_fp/issuer); [] for a negative case. */
  expect: readonly { kind: string; token_fp?: string; issuer?: string }[];
}

export interface DetectorDefinition<Config = any> {
  meta: DetectorMeta;
  /** zod schema with defaults: `config.parse({})` is the default config. */
  config: z.ZodType<Config, any>;
  create(config: Config): DetectorInstance;
  cases: { positive: readonly DetectorCase<Config>[]; negative: readonly DetectorCase<Config>[] };
}
