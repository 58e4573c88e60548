/**
 * Builders for Kong Gateway log-plugin records (`kong.log.serialize()`, as http-log posts them)
 * with the `tw_*` custom fields tokenwatch recommends for `custom_fields_by_lua`: Kong logs the
 * Authorization header as "REDACTED", so the token's identity and claims come from those fields.
 */
import type { Rng } from './prng.js';

export interface KongRoute {
  serviceId: string;
  serviceName: string;
  serviceHost: string;
  routeId: string;
  routeName: string;
  /** Path prefix the route matches. */
  path: string;
  /** Request shapes callers send through this route: method and path suffix. */
  calls: readonly { method: string; suffix: string }[];
}

/** Claims of an Okta access token (times in seconds, like the JWT). */
export interface AccessTokenClaims {
  ver: 1;
  jti: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  cid: string;
  scp: string[];
  sub: string;
}

export interface KongRequestArgs {
  time: number;
  route: KongRoute;
  call: { method: string; suffix: string };
  clientIp: string;
  userAgent: string;
  token: IssuedToken;
  status: number;
  workspaceId: string;
  upstreamIp: string;
}

/** A minted token as the gateway sees it: what the recommended Lua logs, never the token itself. */
export interface IssuedToken {
  claims: AccessTokenClaims;
  /** `tw_claims`: the claim subset KONG_CUSTOM_FIELDS_BY_LUA (src/normalize/kong.ts) selects. */
  loggedClaims: Record<string, unknown>;
  /** `tw_token_sha256`: hex sha256 of the compact JWT. */
  sha256: string;
}

const KONG_VERSION = '3.6.1';

/** Route and service entities are the same for every request through a route: build them once. */
const entityCache = new WeakMap<KongRoute, Map<string, { route: Record<string, unknown>; service: Record<string, unknown> }>>();

function entities(r: KongRoute, workspaceId: string): { route: Record<string, unknown>; service: Record<string, unknown> } {
  let byWs = entityCache.get(r);
  if (!byWs) entityCache.set(r, (byWs = new Map()));
  let e = byWs.get(workspaceId);
  if (!e) {
    e = {
      route: {
        id: r.routeId,
        name: r.routeName,
        paths: [r.path],
        protocols: ['https'],
        strip_path: false,
        preserve_host: false,
        https_redirect_status_code: 426,
        regex_priority: 0,
        path_handling: 'v0',
        request_buffering: true,
        response_buffering: true,
        service: { id: r.serviceId },
        ws_id: workspaceId,
      },
      service: {
        id: r.serviceId,
        name: r.serviceName,
        host: r.serviceHost,
        port: 8080,
        protocol: 'http',
        path: '/',
        retries: 5,
        connect_timeout: 60000,
        read_timeout: 60000,
        write_timeout: 60000,
        enabled: true,
        ws_id: workspaceId,
      },
    };
    byWs.set(workspaceId, e);
  }
  return e;
}

export function kongRequestRecord(rng: Rng, a: KongRequestArgs): Record<string, unknown> {
  const uri = `${a.route.path}${a.call.suffix}`;
  const ent = entities(a.route, a.workspaceId);
  const requestId = rng.hex(32);
  const upstreamMs = 3 + rng.int(60);
  const kongMs = rng.int(3);
  const reqSize = 180 + rng.int(600);
  const respSize = a.status === 204 ? 0 : 120 + rng.int(4000);
  return {
    request: {
      method: a.call.method,
      uri,
      url: `https://api.acme.example:443${uri}`,
      size: reqSize,
      querystring: {},
      headers: {
        host: 'api.acme.example',
        'user-agent': a.userAgent,
        accept: 'application/json',
        authorization: 'REDACTED',
        'x-request-id': requestId,
        ...(a.call.method === 'POST' || a.call.method === 'PUT' ? { 'content-type': 'application/json' } : {}),
      },
      id: requestId,
    },
    upstream_uri: uri,
    upstream_status: String(a.status),
    response: {
      status: a.status,
      size: respSize,
      headers: {
        'content-type': 'application/json',
        'content-length': String(respSize),
        via: `1.1 kong/${KONG_VERSION}`,
        'x-kong-upstream-latency': String(upstreamMs),
        'x-kong-proxy-latency': String(kongMs),
        'x-kong-request-id': requestId,
      },
    },
    route: ent.route,
    service: ent.service,
    tries: [{ balancer_start: a.time, balancer_latency: 0, ip: a.upstreamIp, port: 8080 }],
    latencies: { kong: kongMs, proxy: upstreamMs, request: kongMs + upstreamMs + rng.int(2), receive: 0 },
    client_ip: a.clientIp,
    started_at: a.time,
    workspace: a.workspaceId,
    workspace_name: 'default',
    source: a.status >= 500 && rng.chance(0.2) ? 'kong' : 'upstream',
    tw_claims: a.token.loggedClaims,
    tw_token_sha256: a.token.sha256,
  };
}
