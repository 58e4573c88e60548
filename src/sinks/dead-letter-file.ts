/**
 * Dead-letter NDJSON file: every record that failed decode/validate/normalize, with its
 * structured reason and origin. What it keeps of the record is `dead_letter.payload`
 * (src/sinks/dead-letter-payload.ts): by default the record with secrets and credential
 * identifiers masked (those are never needed to see why a record failed), cut to 64 KiB.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { TokenwatchError } from '../core/errors.js';
import { deadLetterPayload, type DeadLetterPayloadMode, type PayloadDisposition } from './dead-letter-payload.js';

export { maskSecrets } from './dead-letter-payload.js';

export interface DeadLetter {
  origin: Record<string, string | number>;
  format?: string;
  error: ReturnType<TokenwatchError['toJSON']>;
  /** The raw record as text, masked and possibly cut; empty when the payload was dropped. */
  raw: string;
  raw_truncated: boolean;
  /** masked, dropped (dead_letter.payload: drop) or dropped_binary (not UTF-8 text). */
  payload: PayloadDisposition;
}

export function toDeadLetter(raw: string, error: TokenwatchError, origin: DeadLetter['origin'], format?: string, mode: DeadLetterPayloadMode = 'mask'): DeadLetter {
  const p = deadLetterPayload(raw, mode);
  return {
    origin,
    ...(format !== undefined && { format }),
    error: error.toJSON(),
    raw: p.text,
    raw_truncated: p.truncated,
    payload: p.disposition,
  };
}

export class DeadLetterFile {
  private readonly out: WriteStream;
  count = 0;
  readonly byCode: Record<string, number> = {};

  constructor(readonly path: string) {
    this.out = createWriteStream(path, { flags: 'w' });
  }

  async write(dl: DeadLetter): Promise<void> {
    this.count++;
    this.byCode[dl.error.code] = (this.byCode[dl.error.code] ?? 0) + 1;
    if (!this.out.write(JSON.stringify(dl) + '\n')) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}
