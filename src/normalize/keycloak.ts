/**
 * Keycloak user and admin events → token events.
 *
 *  CODE_TO_TOKEN / CLIENT_LOGIN / TOKEN_EXCHANGE → mint of the access token (`token_id`) and of the
 *                                      refresh token (`refresh_token_id`) when one was issued
 *  REFRESH_TOKEN                     → the same mints, each with parent_fp = the redeemed refresh token
 *                                      (`refresh_token_id`); the new refresh token
 *                                      (`updated_refresh_token_id`) replaced it, so it is one_time
 *  INTROSPECT_TOKEN                  → use of `token_id` (service = the introspecting client)
 *  REVOKE_GRANT                      → revoke of `token_id` / `refresh_token_id` when logged
 *  LOGIN / LOGOUT                    → mint / revoke of the SSO session (`sessionId`)
 *  *_ERROR of the grants             → mint with outcome failure, keyed on the event (issuer-keyed
 *                                      detectors count refused grants); REFRESH_TOKEN_ERROR whose
 *                                      reason says the token was stale or reused → reuse_signal
 *  admin: client secret regenerated  → mint of a long-lived client secret (api_key)
 *  admin: DELETE sessions/{id}       → revoke of that session
 * Every other event is valid and yields [].
 *
 * Keycloak's `token_id` / `refresh_token_id` are the tokens' `jti` claims: they are fingerprinted in
 * the shared jti namespace, so a Keycloak-minted JWT presented at Kong or Envoy is the same token.
 */
import type { KeycloakEvent } from '../../schemas/vendors/keycloak.js';
import { KeycloakEvent as KeycloakSchema, isKeycloakLogRecord } from '../../schemas/vendors/keycloak.js';
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import type { NormalizeContext, VendorFormat } from './types.js';
import { compact, jtiFingerprint, splitScopes, str } from './bearer.js';

const GRANT_TYPES = new Set(['CODE_TO_TOKEN', 'CLIENT_LOGIN', 'TOKEN_EXCHANGE', 'REFRESH_TOKEN']);
/** Keycloak's reasons for refusing a refresh token that was already redeemed (rotation on). */
const REUSE_REASON_RE = /stale token|reuse/i;
const EVENT_TYPE_RE = /^[A-Z][A-Z0-9_]{1,63}$/;

type Details = Record<string, unknown>;

function kindOfTokenType(v: unknown, otherwise: TokenKind): TokenKind {
  const t = typeof v === 'string' ? v.toLowerCase() : '';
  if (t.includes('refresh') || t.includes('offline')) return 'oauth_refresh';
  if (t === 'id' || t.includes('id_token')) return 'id_token';
  if (t.includes('bearer') || t.includes('access')) return 'oauth_access';
  return otherwise;
}

function eventIdOf(e: KeycloakEvent, ctx: NormalizeContext): string {
  if (e.id) return `keycloak:${e.id}`;
  // Before Keycloak 23 events had no id: a keyed digest of the event's members (its details hold token ids).
  return `keycloak:${timeOf(e)}:${ctx.fingerprint('keycloak:event', JSON.stringify([e.type, e.operationType, e.realmId, e.clientId, e.userId, e.sessionId, e.ipAddress, e.error, e.resourcePath, e.details])).slice(4, 24)}`;
}

const timeOf = (e: KeycloakEvent): number => parseTime(e.time)!;
const authorityOf = (e: KeycloakEvent): string => `keycloak:${e.realmId}`.slice(0, 512);

function base(e: KeycloakEvent, id: string, action: TokenEvent['action'], token: TokenEvent['token']): TokenEvent {
  return {
    event_id: id,
    source: 'keycloak',
    platform: 'keycloak',
    time: timeOf(e),
    network: { ip: str(e.ipAddress ?? e.authDetails?.ipAddress, 64) },
    outcome: e.error ? 'failure' : 'success',
    operation: e.type ?? `${e.operationType}:${e.resourceType ?? ''}`.slice(0, 256),
    action,
    token,
  };
}

function grantEvents(e: KeycloakEvent, d: Details, id: string, ctx: NormalizeContext): TokenEvent[] {
  const accessId = str(d.token_id);
  const refreshId = str(d.refresh_token_id);
  const isRefresh = e.type === 'REFRESH_TOKEN';
  // A refresh redeems `refresh_token_id` and issues `updated_refresh_token_id`; the other grants issue `refresh_token_id`.
  const redeemed = isRefresh ? refreshId : undefined;
  const newRefresh = isRefresh ? str(d.updated_refresh_token_id) : refreshId;
  const parentFp = redeemed ? jtiFingerprint(ctx.fingerprint, redeemed) : undefined;
  const scopes = splitScopes(d.scope);
  const audience = str(d.audience);
  const out: TokenEvent[] = [];
  const push = (token: TokenEvent['token']): void => {
    const ev = base(e, out.length === 0 ? id : `${id}:${out.length}`, 'mint', token);
    ev.parent_fp = parentFp;
    ev.issuer = str(e.clientId);
    ev.authority = authorityOf(e);
    ev.subject = str(e.userId);
    ev.audience = audience ? [audience] : undefined;
    ev.scopes_granted = scopes;
    out.push(compact(ev));
  };
  if (accessId) push({ fp: jtiFingerprint(ctx.fingerprint, accessId), kind: 'oauth_access' });
  if (newRefresh && newRefresh !== redeemed) {
    push(isRefresh ? { fp: jtiFingerprint(ctx.fingerprint, newRefresh), kind: 'oauth_refresh', one_time: true } : { fp: jtiFingerprint(ctx.fingerprint, newRefresh), kind: 'oauth_refresh' });
  }
  // A grant that logged no token id still counts for its client.
  if (out.length === 0) push({ fp: ctx.fingerprint('keycloak:event', id), kind: 'oauth_access' });
  return out;
}

function grantError(e: KeycloakEvent, d: Details, id: string, ctx: NormalizeContext): TokenEvent[] {
  const refreshId = str(d.refresh_token_id);
  const reason = str(d.reason, 256);
  const refreshFp = refreshId ? jtiFingerprint(ctx.fingerprint, refreshId) : undefined;
  const reuse = e.type === 'REFRESH_TOKEN_ERROR' && reason !== undefined && REUSE_REASON_RE.test(reason);
  const ev = reuse
    ? base(e, id, 'reuse_signal', { fp: refreshFp ?? ctx.fingerprint('keycloak:event', id), kind: 'oauth_refresh', one_time: true })
    : base(e, id, 'mint', { fp: ctx.fingerprint('keycloak:event', id), kind: 'unknown' });
  // A refused refresh still presented that refresh token: the detector sees it as a (failed) use of the parent.
  if (!reuse) ev.parent_fp = refreshFp;
  ev.issuer = str(e.clientId);
  ev.authority = authorityOf(e);
  ev.subject = str(e.userId);
  ev.scopes_requested = splitScopes(d.scope);
  ev.signal = reuse ? `${e.error ?? 'error'}: ${reason}`.slice(0, 256) : undefined;
  return [compact(ev)];
}

function tokenIdEvents(e: KeycloakEvent, d: Details, id: string, ctx: NormalizeContext, action: 'use' | 'revoke'): TokenEvent[] {
  const ids: [string, TokenKind][] = [];
  const accessId = str(d.token_id);
  const refreshId = str(d.refresh_token_id);
  // `token_id` names whichever token was introspected or revoked; `token_type` says which kind it is.
  if (accessId) ids.push([accessId, kindOfTokenType(d.token_type, action === 'use' ? 'oauth_access' : 'unknown')]);
  if (refreshId && action === 'revoke') ids.push([refreshId, 'oauth_refresh']);
  return ids.map(([tokenId, kind], i) => {
    const ev = base(e, i === 0 ? id : `${id}:${i}`, action, { fp: jtiFingerprint(ctx.fingerprint, tokenId), kind });
    ev.authority = authorityOf(e);
    ev.subject = str(e.userId);
    // An introspection's client is the resource server asking, not the token's holder.
    if (action === 'use') ev.service = str(e.clientId);
    else ev.issuer = str(e.clientId);
    return compact(ev);
  });
}

function sessionEvent(e: KeycloakEvent, id: string, ctx: NormalizeContext, action: 'mint' | 'revoke', sessionId: string | undefined): TokenEvent[] {
  if (!sessionId) return [];
  const ev = base(e, id, action, { fp: ctx.fingerprint('keycloak:session', sessionId), kind: 'session' });
  ev.issuer = action === 'mint' ? str(e.userId) : undefined;
  ev.subject = str(e.userId);
  ev.authority = authorityOf(e);
  return [compact(ev)];
}

const CLIENT_SECRET_RE = /^clients\/([^/]+)\/client-secret$/;
const SESSION_PATH_RE = /^sessions\/([^/]+)$/;

function adminEvent(e: KeycloakEvent, id: string, ctx: NormalizeContext): TokenEvent[] {
  if (e.error) return []; // a refused admin operation changed nothing
  const path = e.resourcePath ?? '';
  const secret = CLIENT_SECRET_RE.exec(path);
  if (secret && e.operationType !== 'DELETE') {
    // The secret itself (in `representation` when enabled) is never read: each regeneration is a new credential.
    const ev = base(e, id, 'mint', { fp: ctx.fingerprint('keycloak:client_secret', `${e.realmId}\0${id}`), kind: 'api_key' });
    ev.issuer = secret[1];
    ev.minted_by = str(e.authDetails?.userId);
    ev.authority = authorityOf(e);
    return [compact(ev)];
  }
  const session = SESSION_PATH_RE.exec(path);
  if (session && e.operationType === 'DELETE') return sessionEvent(e, id, ctx, 'revoke', session[1]);
  return [];
}

export const keycloak: VendorFormat<KeycloakEvent> = {
  id: 'keycloak',
  platform: 'keycloak',
  description: 'Keycloak user and admin events (REST API / event-listener JSON, or jboss-logging JSON log records)',
  detect(raw) {
    if (isKeycloakLogRecord(raw)) return true;
    if (typeof raw.realmId !== 'string' || typeof raw.time !== 'number') return false;
    if (typeof raw.type === 'string') return EVENT_TYPE_RE.test(raw.type);
    return typeof raw.operationType === 'string' && typeof raw.resourcePath === 'string';
  },
  schema: KeycloakSchema,
  normalize(e, ctx) {
    const id = eventIdOf(e, ctx);
    if (!e.type) return adminEvent(e, id, ctx);
    const d: Details = e.details ?? {};
    const t = e.type;
    if (GRANT_TYPES.has(t)) return e.error ? grantError(e, d, id, ctx) : grantEvents(e, d, id, ctx);
    if (t.endsWith('_ERROR') && GRANT_TYPES.has(t.slice(0, -6))) return grantError(e, d, id, ctx);
    if (t === 'INTROSPECT_TOKEN' || t === 'INTROSPECT_TOKEN_ERROR') return tokenIdEvents(e, d, id, ctx, 'use');
    if (t === 'REVOKE_GRANT') return tokenIdEvents(e, d, id, ctx, 'revoke');
    if (t === 'LOGIN') return sessionEvent(e, id, ctx, 'mint', str(e.sessionId));
    if (t === 'LOGOUT') return sessionEvent(e, id, ctx, 'revoke', str(e.sessionId));
    return [];
  },
};
