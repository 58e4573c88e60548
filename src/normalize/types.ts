/**
 * A vendor format plugin: one small file per vendor in src/normalize/, its zod schema beside
 * it in schemas/vendors/. Normalizers are pure: raw event in, zero or more token events out.
 */
import type { z } from 'zod';
import type { Fingerprinter } from '../core/fingerprint.js';
import type { Platform, SourceFormat, TokenEvent } from '../../schemas/token-event.js';

export interface NormalizeContext {
  /** Keyed HMAC fingerprint: the only way a token value or key id may enter a TokenEvent. */
  fingerprint: Fingerprinter;
}

export interface VendorFormat<Raw = any> {
  id: SourceFormat;
  platform: Platform;
  /** Human description for docs and `tokenwatch formats`. */
  description: string;
  /**
   * Cheap structural sniff on an already-parsed JSON object: does it look like this vendor?
   * Must not throw. Used for auto-detection; the schema then decides validity.
   */
  detect(raw: Record<string, unknown>): boolean;
  /** Tolerant of extra fields, strict on the fields detectors rely on. */
  schema: z.ZodType<Raw, any>;
  /**
   * Map a validated event to token events. Returns [] for valid events that carry no token
   * activity (e.g. a console login). Throws TokenwatchError('normalize_failed') when the event
   * is valid but cannot be mapped.
   */
  normalize(event: Raw, ctx: NormalizeContext): TokenEvent[];
}
