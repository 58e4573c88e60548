/**
 * Envoy JSON access log. Envoy has no fixed schema (the operator writes `json_format`), so
 * this validates the field names of the recommended format (ENVOY_RECOMMENDED_JSON_FORMAT in
 * src/normalize/envoy.ts); pseudo-header spellings (`:method`, `:path`, `:authority`) from
 * `%REQ(:METHOD)%`-style configs are accepted too.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

const optStr = (max = 1024) => z.string().max(max).nullish();

export const EnvoyAccessLog = z
  .looseObject({
    start_time: z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp'),
    method: optStr(16),
    ':method': optStr(16),
    path: optStr(8192),
    ':path': optStr(8192),
    authority: optStr(),
    ':authority': optStr(),
    // typed json_format logs numbers; untyped logs strings, "-" or null when unset
    response_code: z.union([z.number().int(), z.string().max(8)]).nullish(),
    downstream_remote_address: optStr(128),
    x_forwarded_for: optStr(2048),
    user_agent: z.string().nullish(),
    upstream_cluster: optStr(),
    route_name: optStr(),
    request_id: optStr(128),
    jwt_payload: z.unknown().optional(),
    authorization: optStr(16 * 1024),
    tw_jti: optStr(512),
    tw_iss: optStr(512),
    tw_token_sha256: optStr(128),
  })
  .superRefine((e, ctx) => {
    if (!e.method && !e[':method']) ctx.addIssue({ code: 'custom', path: ['method'], message: 'an Envoy access log needs method (or :method)' });
  });
export type EnvoyAccessLog = z.output<typeof EnvoyAccessLog>;
