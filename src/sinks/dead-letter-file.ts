/**
 * Dead-letter NDJSON file: every record that failed decode/validate/normalize, with its
 * structured reason and origin. The raw record is kept so it can be fixed and replayed, with
 * known secret fields (STS sessionToken/secretAccessKey, client secrets, passwords) masked:
 * those are never needed to fingerprint a token.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { TokenwatchError } from '../core/errors.js';

export interface DeadLetter {
  origin: Record<string, string | number>;
  format?: string;
  error: ReturnType<TokenwatchError['toJSON']>;
  /** The raw record (text, possibly truncated); masked secrets. */
  raw: string;
  raw_truncated: boolean;
}

const MAX_RAW = 64 * 1024;
const SECRET_FIELDS = /("(?:sessionToken|secretAccessKey|client_secret|password|privateKeyData)"\s*:\s*)"(?:[^"\\]|\\.)*"/g;

export function maskSecrets(raw: string): string {
  return raw.replace(SECRET_FIELDS, '$1"[masked]"');
}

export function toDeadLetter(raw: string, error: TokenwatchError, origin: DeadLetter['origin'], format?: string): DeadLetter {
  const truncated = raw.length > MAX_RAW;
  return {
    origin,
    ...(format !== undefined && { format }),
    error: error.toJSON(),
    raw: maskSecrets(truncated ? raw.slice(0, MAX_RAW) : raw),
    raw_truncated: truncated,
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
