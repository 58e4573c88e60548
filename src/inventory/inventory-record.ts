/** One row of the token inventory: everything known about a token, by fingerprint. */
import type { Platform, TokenKind } from '../../schemas/token-event.js';

export interface InventoryRecord {
  token_fp: string;
  kind: TokenKind;
  issuer?: string;
  subject?: string;
  authority?: string;
  minted_by?: string;
  scopes: string[];
  audience: string[];
  minted_at?: number; // epoch ms, event time
  expires_at?: number;
  /** expires_at - minted_at, when both known. */
  lifetime_ms?: number;
  first_seen: number;
  last_seen: number;
  first_use?: number;
  last_use?: number;
  use_count: number;
  services: string[]; // bounded
  networks: string[]; // bounded (IPs or labels)
  platforms: Platform[];
  revoked_at?: number;
  /** Monotonic version for ReplacingMergeTree: the event time of the last update. */
  version: number;
}
