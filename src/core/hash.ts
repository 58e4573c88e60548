import { createHash } from 'node:crypto';

/** Hex sha256 truncated to `hexLen` characters: for deterministic ids, never for secrets. */
export function sha256Hex(input: string, hexLen = 32): string {
  return createHash('sha256').update(input).digest('hex').slice(0, hexLen);
}
