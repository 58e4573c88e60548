/**
 * AWS API Gateway JSON access logs → token events: every request whose log line carries the
 * authorizer's token claims is a use of an OAuth access token (kind oauth_access).
 *
 * Access-log format to configure on the stage (HTTP API with a JWT authorizer; for a REST API with
 * a Cognito authorizer use the same `$context.authorizer.claims.*` variables and `resourcePath`
 * in place of `routeKey`; for a Lambda authorizer log the keys its `context` map returns, e.g.
 * `$context.authorizer.jti` or a `tokenHash` = sha256 of the bearer token computed by the
 * authorizer):
 *
 *   { "requestId":"$context.requestId", "ip":"$context.identity.sourceIp",
 *     "requestTime":"$context.requestTime", "requestTimeEpoch":$context.requestTimeEpoch,
 *     "httpMethod":"$context.httpMethod", "routeKey":"$context.routeKey",
 *     "resourcePath":"$context.resourcePath", "status":"$context.status",
 *     "protocol":"$context.protocol", "userAgent":"$context.identity.userAgent",
 *     "apiId":"$context.apiId", "domainName":"$context.domainName", "stage":"$context.stage",
 *     "jti":"$context.authorizer.claims.jti", "sub":"$context.authorizer.claims.sub",
 *     "client_id":"$context.authorizer.claims.client_id", "scope":"$context.authorizer.claims.scope",
 *     "iss":"$context.authorizer.claims.iss", "iat":"$context.authorizer.claims.iat",
 *     "exp":"$context.authorizer.claims.exp" }
 *
 * Claims may also be nested (`"claims": {"jti": …}` or `"authorizer": {"claims": {…}}`).
 * Variables: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
 *
 * API Gateway never logs the bearer token, so its identity comes from, in order:
 *  1. `jti` — the token's own unique id;
 *  2. `tokenHash` — a hash of the token a Lambda authorizer puts in its context map;
 *  3. `iss`+`sub`+`client_id`+`iat` — one token's issue instant for one subject and client.
 * A request with none of these is not attributable to a token and yields no event.
 */
import { isIP } from 'node:net';
import { AwsApigwAccessLog, apigwTimeMs } from '../../schemas/vendors/aws-apigw.js';
import { TokenwatchError } from '../core/errors.js';
import { parseTime } from '../core/time.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { jtiFingerprint } from './bearer.js';
import type { NormalizeContext, VendorFormat } from './types.js';

const cap = (v: string | undefined, n: number): string | undefined => (v === undefined ? undefined : v.slice(0, n));
/** A logged value: API Gateway writes "-" for variables that have no value. */
function value(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return typeof v === 'string' && v.length > 0 && v !== '-' ? v : undefined;
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

export function normalizeAwsApigw(rec: AwsApigwAccessLog, ctx: NormalizeContext): TokenEvent[] {
  const time = apigwTimeMs(rec);
  if (time === undefined) throw new TokenwatchError('normalize_failed', 'aws_apigw: request time did not parse');
  // Claims may be logged flat, under `claims`, under `authorizer.claims`, or as a Lambda
  // authorizer's context keys under `authorizer`.
  const layers = [rec as Record<string, unknown>, obj(rec.claims), obj(rec.authorizer?.claims), obj(rec.authorizer)].filter(
    (l): l is Record<string, unknown> => l !== undefined,
  );
  const claim = (...names: string[]): string | undefined => {
    for (const layer of layers) for (const n of names) {
      const v = value(layer[n]);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const jti = claim('jti');
  const tokenHash = claim('tokenHash', 'token_hash');
  const iss = claim('iss');
  const sub = claim('sub');
  const clientId = claim('client_id', 'clientId', 'azp', 'cid', 'appid');
  const iat = claim('iat');
  let fp: string | undefined;
  // the same token-identity namespaces as the other gateways (src/normalize/bearer.ts)
  if (jti) fp = jtiFingerprint(ctx.fingerprint, jti);
  else if (tokenHash) fp = ctx.fingerprint('bearer_sha256', tokenHash.toLowerCase());
  else if (iat && (sub || clientId)) fp = ctx.fingerprint('oauth_claims', `${iss ?? ''}|${sub ?? ''}|${clientId ?? ''}|${iat}`);
  if (!fp) return [];

  const status = Number(value(rec.status));
  const ip = value(rec.ip) ?? value(rec.sourceIp);
  const route = value(rec.routeKey);
  const method = value(rec.httpMethod);
  const path = value(rec.resourcePath) ?? value(rec.path);
  const operation = route && route !== '$default' ? route : [method, path].filter(Boolean).join(' ') || route;
  const scopes = claim('scope', 'scp')?.split(/[\s,]+/).filter(Boolean).slice(0, 256).map((s) => s.slice(0, 256));
  const aud = claim('aud');
  const expiresAt = claim('exp');
  const issuedAt = iat ? parseTime(iat) : undefined;
  const event: TokenEvent = {
    event_id: `aws_apigw:${rec.requestId.slice(0, 200)}`,
    source: 'aws_apigw',
    platform: 'gateway',
    action: 'use',
    time,
    token: { fp, kind: 'oauth_access' },
    issuer: cap(clientId, 512),
    authority: cap(iss, 512),
    subject: sub && sub !== clientId ? cap(sub, 512) : undefined,
    audience: aud ? [aud.slice(0, 512)] : undefined,
    service: cap(value(rec.domainName) ?? value(rec.apiId), 512),
    scopes_used: scopes && scopes.length > 0 ? scopes : undefined,
    issued_at: issuedAt,
    expires_at: expiresAt ? parseTime(expiresAt) : undefined,
    network: ip ? (isIP(ip) ? { ip } : { label: ip.slice(0, 128) }) : undefined,
    user_agent: cap(value(rec.userAgent), 1024),
    outcome: Number.isFinite(status) ? (status >= 400 ? 'failure' : 'success') : undefined,
    operation: cap(operation, 256),
  };
  const o = event as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return [event];
}

const present = (v: unknown): boolean => (typeof v === 'string' && v.length > 0) || typeof v === 'number';

export const awsApigw: VendorFormat<AwsApigwAccessLog> = {
  id: 'aws_apigw',
  platform: 'gateway',
  description: 'AWS API Gateway JSON access logs with authorizer claims: OAuth access-token uses',
  detect: (raw) =>
    typeof raw.requestId === 'string' &&
    (present(raw.httpMethod) || present(raw.routeKey)) &&
    (present(raw.apiId) || present(raw.domainName) || present(raw.requestTimeEpoch)),
  schema: AwsApigwAccessLog,
  normalize: normalizeAwsApigw,
};
