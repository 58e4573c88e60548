/**
 * Kong Gateway log-plugin record (http-log, file-log, tcp-log, …: all serialize the same
 * `kong.log.serialize()` object). Fields beyond these are kept. `tw_*` are the optional custom
 * fields tokenwatch recommends (see KONG_CUSTOM_FIELDS_BY_LUA in src/normalize/kong.ts), because
 * Kong logs `authorization: "REDACTED"` by default.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

const optStr = (max = 1024) => z.string().max(max).nullish();

export const KongLog = z.looseObject({
  request: z
    .looseObject({
      method: z.string().min(1).max(16),
      uri: optStr(8192),
      url: optStr(8192),
      headers: z.record(z.string(), z.unknown()).nullish(),
    })
    .refine((r) => Boolean(r.uri || r.url), { message: 'request needs uri or url', path: ['uri'] }),
  response: z.looseObject({ status: z.number().int().min(100).max(999) }).nullish(),
  route: z.looseObject({ id: optStr(128), name: optStr() }).nullish(),
  service: z.looseObject({ id: optStr(128), name: optStr(), host: optStr() }).nullish(),
  consumer: z.looseObject({ id: optStr(128), username: optStr(), custom_id: optStr() }).nullish(),
  authenticated_entity: z.looseObject({ id: optStr(256) }).nullish(),
  client_ip: optStr(64),
  // epoch milliseconds
  started_at: z.number().refine((n) => parseTime(n) !== undefined, 'not a parseable timestamp'),
  latencies: z.record(z.string(), z.unknown()).nullish(),
  tw_jti: optStr(512),
  tw_iss: optStr(512),
  tw_token_sha256: optStr(128),
  tw_claims: z.unknown().optional(),
});
export type KongLog = z.output<typeof KongLog>;
