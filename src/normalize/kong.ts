/**
 * Kong Gateway log plugins (http-log, file-log, tcp-log, …) → 'use' events.
 *
 * Kong logs `request.headers.authorization` as "REDACTED" by default, so on its own a Kong log
 * has no token identity. Add the custom fields in KONG_CUSTOM_FIELDS_BY_LUA to the log plugin:
 * `tw_claims` (selected, non-secret JWT claims incl. jti/iss, and Okta's `cid`: its access tokens
 * name the client only there) and `tw_token_sha256` (for opaque tokens). The raw header is used
 * when an operator has disabled redaction. Identity rules are shared with Envoy (./bearer.ts): a
 * JWT's jti gives the same fp whether Kong logged the full token or only its claims. Requests
 * without any token identity yield [].
 */
import type { KongLog } from '../../schemas/vendors/kong.js';
import { KongLog as KongSchema } from '../../schemas/vendors/kong.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import { sha256Hex } from '../core/hash.js';
import type { VendorFormat } from './types.js';
import { assignClaimFields, gatewayTokenIdentity, outcomeFromHttpStatus, pathOnly, str } from './bearer.js';

/**
 * Log-plugin config that gives tokenwatch a token identity without logging the token. Needs
 * `untrusted_lua_sandbox_requires = ngx.base64, cjson.safe, resty.sha256, resty.string` in
 * kong.conf (the default sandbox forbids `require`).
 */
export const KONG_CUSTOM_FIELDS_BY_LUA = `plugins:
  - name: http-log
    config:
      http_endpoint: https://collector.example.internal/kong
      custom_fields_by_lua:
        tw_claims: |
          local h = kong.request.get_header("authorization")
          local p = h and h:match("^%s*[Bb]earer%s+[%w_-]+%.([%w_-]+)%.")
          if not p then return nil end
          local c = require("cjson.safe").decode(require("ngx.base64").decode_base64url(p) or "")
          if type(c) ~= "table" then return nil end
          return { jti = c.jti, iss = c.iss, sub = c.sub, aud = c.aud, azp = c.azp, client_id = c.client_id,
                   cid = c.cid, scope = c.scope, scp = c.scp, iat = c.iat, exp = c.exp, uti = c.uti }
        tw_token_sha256: |
          local h = kong.request.get_header("authorization")
          local t = h and h:match("^%s*[Bb]earer%s+(%S+)")
          if not t then return nil end
          local sha = require("resty.sha256"):new()
          sha:update(t)
          return require("resty.string").to_hex(sha:final())
`;

function header(headers: Record<string, unknown> | null | undefined, name: string): unknown {
  if (!headers) return undefined;
  if (name in headers) return headers[name];
  const k = Object.keys(headers).find((h) => h.toLowerCase() === name);
  return k === undefined ? undefined : headers[k];
}

function firstString(v: unknown): string | undefined {
  return Array.isArray(v) ? firstString(v[0]) : str(v, 1024);
}

export const kong: VendorFormat<KongLog> = {
  id: 'kong',
  platform: 'gateway',
  description: 'Kong Gateway log-plugin JSON (http-log/file-log), with tokenwatch custom fields',
  detect(raw) {
    const req = raw.request;
    if (req === null || typeof req !== 'object' || Array.isArray(req)) return false;
    const r = req as Record<string, unknown>;
    return typeof r.method === 'string' && (typeof r.uri === 'string' || typeof r.url === 'string')
      && typeof raw.started_at === 'number' && ('client_ip' in raw || 'latencies' in raw || 'service' in raw || 'route' in raw);
  },
  schema: KongSchema,
  normalize(e, ctx) {
    const headers = e.request.headers;
    const id = gatewayTokenIdentity(
      {
        authorization: header(headers, 'authorization'),
        payload: e.tw_claims,
        jti: e.tw_jti,
        iss: e.tw_iss,
        tokenSha256: e.tw_token_sha256,
      },
      ctx.fingerprint,
    );
    if (!id) return [];
    const consumer = str(e.consumer?.username) ?? str(e.consumer?.custom_id) ?? str(e.consumer?.id);
    const method = e.request.method.toUpperCase();
    const path = pathOnly((e.request.uri ?? e.request.url)!);
    const requestId = str((e.request as Record<string, unknown>).id, 128) ?? firstString(header(headers, 'x-kong-request-id')) ?? firstString(header(headers, 'x-request-id'));
    const token: TokenEvent['token'] = { fp: id.fp, kind: id.kind };
    if (id.hint) token.hint = id.hint;
    // Built member by member, only defined values, in the canonical order (no spreads, no deletes:
    // both are slow, and a deleted property leaves a slow dictionary-mode object).
    const ev: TokenEvent = {
      // Kong logs carry no event id before 3.5; fall back to a hash of the whole record (in the
      // schema's key order: decode may hand over the raw record rather than zod's copy).
      event_id: `kong:${requestId ? requestId.slice(0, 128) : sha256Hex(JSON.stringify(KongSchema.parse(e)))}`,
      source: 'kong',
      platform: 'gateway',
      action: 'use',
      time: parseTime(e.started_at)!,
      token,
    };
    assignClaimFields(ev, id.claims);
    // The Kong consumer holds the credential when the token itself names no client.
    if (ev.issuer === undefined && consumer !== undefined) ev.issuer = consumer;
    const service = str(e.service?.name) ?? str(e.service?.host) ?? str(e.route?.name);
    if (service !== undefined) ev.service = service;
    const ip = str(e.client_ip, 64);
    if (ip !== undefined) ev.network = { ip };
    const userAgent = firstString(header(headers, 'user-agent'));
    if (userAgent !== undefined) ev.user_agent = userAgent;
    const outcome = outcomeFromHttpStatus(e.response?.status);
    if (outcome !== undefined) ev.outcome = outcome;
    ev.operation = `${method} ${path}`.slice(0, 256);
    return [ev];
  },
};
