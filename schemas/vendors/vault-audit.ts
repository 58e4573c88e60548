/**
 * HashiCorp Vault (and OpenBao) audit device entry: one JSON object per line from the file,
 * socket or syslog device. Every call is logged twice, a `request` entry and a `response` entry
 * with the same `request.id`. Token values, and accessors unless `hmac_accessor=false`, are
 * HMAC'd by the device as `hmac-sha256:<hex>`; so is every string in `request.data` and
 * `response.data` unless the mount lists the key in `audit_non_hmac_*_keys`.
 * Only the members the normalizer reads are typed; `data` stays `unknown`.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

const optStr = (max = 512) => z.string().max(max).nullish();

/** The authentication object: of the calling token (entry.auth) or of a token just issued (response.auth). */
export const VaultAuth = z.looseObject({
  accessor: optStr(),
  client_token: optStr(),
  display_name: optStr(),
  policies: z.array(z.string().max(256)).max(256).nullish(),
  token_policies: z.array(z.string().max(256)).max(256).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  entity_id: optStr(256),
  token_type: optStr(64),
  /** Seconds. */
  token_ttl: z.number().nonnegative().nullish(),
  token_issue_time: optStr(64),
});

export const VaultRequest = z.looseObject({
  id: z.string().min(1).max(128),
  operation: z.string().min(1).max(64),
  path: z.string().max(2048),
  mount_point: optStr(1024),
  mount_type: optStr(128),
  client_token_accessor: optStr(),
  remote_address: optStr(64),
  namespace: z.looseObject({ id: optStr(128), path: optStr(512) }).nullish(),
  data: z.unknown().optional(),
  headers: z.record(z.string(), z.unknown()).nullish(),
});

export const VaultAuditEntry = z.looseObject({
  type: z.enum(['request', 'response']),
  time: z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp'),
  auth: VaultAuth.nullish(),
  request: VaultRequest,
  response: z.looseObject({ auth: VaultAuth.nullish(), mount_type: optStr(128), data: z.unknown().optional() }).nullish(),
  error: optStr(2048),
});
export type VaultAuditEntry = z.output<typeof VaultAuditEntry>;
export type VaultAuth = z.output<typeof VaultAuth>;
