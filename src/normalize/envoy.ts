/**
 * Envoy JSON access logs → 'use' events. Envoy has no fixed log schema; configure the access
 * log with ENVOY_RECOMMENDED_JSON_FORMAT and enable jwt_authn's `payload_in_metadata:
 * jwt_payload`, so each line carries the verified JWT's claims (never the token). Token identity
 * follows the gateway rules in ./bearer.ts (shared with Kong). Lines without a token identity
 * yield [].
 *
 * network.ip is `downstream_remote_address`: Envoy already resolves it through trusted
 * X-Forwarded-For hops (use_remote_address / xff_num_trusted_hops); the raw x_forwarded_for is
 * client-controlled and only used when the remote address is missing.
 */
import type { EnvoyAccessLog } from '../../schemas/vendors/envoy.js';
import { EnvoyAccessLog as EnvoySchema } from '../../schemas/vendors/envoy.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import { sha256Hex } from '../core/hash.js';
import type { VendorFormat } from './types.js';
import { claimFields, compact, gatewayTokenIdentity, outcomeFromHttpStatus, pathOnly, str, stripPort } from './bearer.js';

/** The access-log `json_format` tokenwatch expects (Envoy config, typed_json_format / json_format). */
export const ENVOY_RECOMMENDED_JSON_FORMAT = {
  start_time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  duration: '%DURATION%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_cluster: '%UPSTREAM_CLUSTER%',
  route_name: '%ROUTE_NAME%',
  // jwt_authn provider with `payload_in_metadata: jwt_payload`
  jwt_payload: '%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload)%',
} as const;

const IP_RE = /^[0-9a-f.:]+$/i;

function clientIp(e: EnvoyAccessLog): string | undefined {
  const remote = str(e.downstream_remote_address, 128);
  if (remote && remote !== '-') return stripPort(remote).slice(0, 64);
  const xff = str(e.x_forwarded_for, 2048)?.split(',')[0]?.trim();
  return xff && IP_RE.test(xff) ? xff.slice(0, 64) : undefined;
}

const dash = (v: string | null | undefined): string | undefined => (v && v !== '-' ? str(v) : undefined);

export const envoy: VendorFormat<EnvoyAccessLog> = {
  id: 'envoy',
  platform: 'gateway',
  description: 'Envoy JSON access logs (recommended json_format with jwt_authn payload metadata)',
  detect(raw) {
    const method = raw.method ?? raw[':method'];
    return typeof raw.start_time === 'string' && typeof method === 'string'
      && ('upstream_cluster' in raw || 'response_code' in raw || 'downstream_remote_address' in raw);
  },
  schema: EnvoySchema,
  normalize(e, ctx) {
    const id = gatewayTokenIdentity(
      {
        authorization: e.authorization,
        payload: e.jwt_payload,
        jti: e.tw_jti,
        iss: e.tw_iss,
        tokenSha256: e.tw_token_sha256,
      },
      ctx.fingerprint,
    );
    if (!id) return [];
    const method = (e.method ?? e[':method'])!.toUpperCase();
    const rawPath = dash(e.path) ?? dash(e[':path']);
    const operation = rawPath ? `${method} ${pathOnly(rawPath)}` : method;
    const requestId = dash(e.request_id);
    const ev: TokenEvent = {
      // x-request-id is Envoy's per-request UUID; without it, hash the whole line (in the schema's key order).
      event_id: `envoy:${requestId ? requestId.slice(0, 128) : sha256Hex(JSON.stringify(EnvoySchema.parse(e)))}`,
      source: 'envoy',
      platform: 'gateway',
      action: 'use',
      time: parseTime(e.start_time)!,
      token: { fp: id.fp, kind: id.kind, ...(id.hint ? { hint: id.hint } : {}) },
      ...claimFields(id.claims),
      service: dash(e.upstream_cluster) ?? dash(e.authority) ?? dash(e[':authority']) ?? dash(e.route_name),
      network: { ip: clientIp(e) },
      user_agent: e.user_agent && e.user_agent !== '-' ? e.user_agent.slice(0, 1024) : undefined,
      outcome: outcomeFromHttpStatus(e.response_code),
      operation: operation.slice(0, 256),
    };
    return [compact(ev)];
  },
};
