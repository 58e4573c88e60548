/**
 * Okta System Log → token events.
 *
 *  app.oauth2[.as].token.grant[.<kind>]  → mint   (access/refresh/id token, ID-JAG assertion)
 *  app.oauth2[.as].token.revoke          → revoke
 *  app.oauth2[.as].token.detect_reuse    → reuse_signal on a one-time refresh token
 *  system.api_token.create / .revoke     → mint / revoke of an Okta API token (api_key)
 *  user.session.start                    → mint of an IdP session
 * Every other event type is valid and yields [].
 *
 * A failed grant is still emitted (action 'mint', outcome 'failure'): issuer-keyed detectors
 * count refused grants. debugData is not a stable contract, so every read of it is defensive.
 */
import type { OktaSystemLogEvent } from '../../schemas/vendors/okta.js';
import { OktaSystemLogEvent as OktaSchema } from '../../schemas/vendors/okta.js';
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import type { NormalizeContext, VendorFormat } from './types.js';
import { asRecord, compact, jtiFingerprint, splitScopes, str, strOrNum } from './bearer.js';

type OktaTarget = NonNullable<OktaSystemLogEvent['target']>[number];

const GRANT_RE = /^app\.oauth2\.(?:as\.)?token\.grant(?:\.|_|$)/;
const REVOKE_RE = /^app\.oauth2\.(?:as\.)?token\.revoke(?:\.|_|$)/;
const REUSE_RE = /^app\.oauth2\.(?:as\.)?token\.detect_reuse/;

/** Okta's target types for tokens, normalized (lowercase, letters only). */
const TARGET_TOKEN_KINDS: Record<string, TokenKind> = {
  accesstoken: 'oauth_access',
  refreshtoken: 'oauth_refresh',
  idtoken: 'id_token',
  idjag: 'id_token',
};
const CLIENT_TARGET_TYPES = new Set(['publicclientapp', 'appinstance', 'oauth2client', 'client']);
const letters = (s: string | null | undefined): string => (s ?? '').toLowerCase().replace(/[^a-z]/g, '');

function kindFromEventType(eventType: string): TokenKind | undefined {
  if (eventType.includes('refresh_token')) return 'oauth_refresh';
  if (eventType.includes('access_token')) return 'oauth_access';
  if (eventType.includes('id_token') || eventType.includes('id_jag')) return 'id_token';
  return undefined;
}

function outcomeOf(e: OktaSystemLogEvent): 'success' | 'failure' | undefined {
  const r = e.outcome?.result?.toUpperCase();
  if (r === 'SUCCESS' || r === 'ALLOW') return 'success';
  if (r === 'FAILURE' || r === 'DENY') return 'failure';
  return undefined;
}

function debugDataOf(e: OktaSystemLogEvent): Record<string, unknown> {
  return asRecord(asRecord(e.debugContext)?.debugData) ?? {};
}

/** The token target: the one matching the event's kind, else the first token-typed target. */
function tokenTarget(targets: readonly OktaTarget[], kind: TokenKind | undefined): { id: string; kind: TokenKind } | undefined {
  let first: { id: string; kind: TokenKind } | undefined;
  for (const t of targets) {
    const k = TARGET_TOKEN_KINDS[letters(t.type)];
    const id = str(t.id);
    if (!k || !id) continue;
    if (k === kind) return { id, kind: k };
    first ??= { id, kind: k };
  }
  return first;
}

function userRef(actor: OktaSystemLogEvent['actor']): string {
  return str(actor.alternateId) ?? actor.id;
}

/** The members every Okta event starts with (assigned after the literal, not spread: spreads are slow). */
function base(e: OktaSystemLogEvent, action: TokenEvent['action'], token: TokenEvent['token']): TokenEvent {
  return {
    event_id: `okta:${e.uuid}`,
    source: 'okta',
    platform: 'okta',
    time: parseTime(e.published)!,
    network: {
      ip: str(e.client?.ipAddress, 64),
      asn: strOrNum(e.securityContext?.asNumber, 64),
    },
    user_agent: str(e.client?.userAgent?.rawUserAgent, 1024),
    outcome: outcomeOf(e),
    operation: e.eventType,
    action,
    token,
  };
}

function oauthEvent(e: OktaSystemLogEvent, ctx: NormalizeContext, action: TokenEvent['action']): TokenEvent[] {
  const debug = debugDataOf(e);
  const targets = e.target ?? [];
  const eventKind = action === 'reuse_signal' ? 'oauth_refresh' : kindFromEventType(e.eventType);
  const target = tokenTarget(targets, eventKind);
  const tokenId = target?.id ?? str(debug.tokenId) ?? str(debug.jti);
  if (!tokenId && action === 'revoke') return []; // a revoke of an unidentified token tells no detector anything
  const kind: TokenKind = action === 'reuse_signal' ? 'oauth_refresh' : eventKind ?? target?.kind ?? 'unknown';
  // Failed grants carry no token: key them on the event itself so issuer-keyed detectors still see them.
  // Okta's token id is the token's jti: the shared jti namespace links it to gateway uses.
  const fp = tokenId ? jtiFingerprint(ctx.fingerprint, tokenId) : ctx.fingerprint('okta:event', e.uuid);

  const clientTarget = targets.find((t) => CLIENT_TARGET_TYPES.has(letters(t.type)) && str(t.id));
  const actorIsClient = letters(e.actor.type) === 'publicclientapp';
  const issuer = str(clientTarget?.id) ?? str(debug.clientId) ?? (actorIsClient ? e.actor.id : undefined);
  const asTarget = targets.find((t) => letters(t.type) === 'authorizationserver' && str(t.id));
  const authServer = str(debug.authorizationServer) ?? str(debug.authorizationServerId) ?? str(asTarget?.id);
  const userActor = letters(e.actor.type) === 'user';

  const ev = base(e, action, action === 'reuse_signal' ? { fp, kind, one_time: true } : { fp, kind });
  ev.issuer = issuer;
  ev.authority = authServer ? `okta:${authServer}`.slice(0, 512) : 'okta:org';
  ev.subject = userActor ? userRef(e.actor) : undefined;
  ev.scopes_requested = action === 'mint' ? splitScopes(debug.requestedScopes) : undefined;
  ev.scopes_granted = action === 'mint' ? splitScopes(debug.grantedScopes) : undefined;
  ev.signal = action === 'reuse_signal' ? e.eventType : undefined;
  return [compact(ev)];
}

function apiTokenEvent(e: OktaSystemLogEvent, ctx: NormalizeContext, action: 'mint' | 'revoke'): TokenEvent[] {
  const target = (e.target ?? []).find((t) => letters(t.type) === 'token' && str(t.id));
  const id = str(target?.id);
  if (!id) return [];
  // An Okta API token acts with its creator's permissions: the creator is its holder.
  const holder = userRef(e.actor);
  const ev = base(e, action, { fp: ctx.fingerprint('okta:api_token', id), kind: 'api_key' });
  ev.issuer = action === 'mint' ? holder : undefined;
  ev.minted_by = action === 'mint' ? holder : undefined;
  ev.authority = 'okta:org';
  return [compact(ev)];
}

function sessionEvent(e: OktaSystemLogEvent, ctx: NormalizeContext): TokenEvent[] {
  const sid = str(e.authenticationContext?.externalSessionId);
  // Okta writes "unknown" when no session was established (e.g. a failed sign-in).
  if (!sid || sid.toLowerCase() === 'unknown') return [];
  const ev = base(e, 'mint', { fp: ctx.fingerprint('okta:session', sid), kind: 'session' });
  ev.issuer = userRef(e.actor);
  ev.authority = 'okta:org';
  return [compact(ev)];
}

export const okta: VendorFormat<OktaSystemLogEvent> = {
  id: 'okta',
  platform: 'okta',
  description: 'Okta System Log events (OAuth token grants/revokes/reuse, API tokens, sessions)',
  detect(raw) {
    // Data-lake exports lowercase top-level keys.
    const eventType = raw.eventType ?? raw.eventtype;
    const actor = raw.actor;
    return typeof eventType === 'string' && typeof raw.published === 'string' && actor !== null && typeof actor === 'object' && (raw.uuid === undefined || typeof raw.uuid === 'string');
  },
  schema: OktaSchema,
  normalize(e, ctx) {
    const t = e.eventType;
    if (REUSE_RE.test(t)) return oauthEvent(e, ctx, 'reuse_signal');
    if (REVOKE_RE.test(t)) return oauthEvent(e, ctx, 'revoke');
    if (GRANT_RE.test(t)) return oauthEvent(e, ctx, 'mint');
    if (t === 'system.api_token.create') return apiTokenEvent(e, ctx, 'mint');
    if (t === 'system.api_token.revoke') return apiTokenEvent(e, ctx, 'revoke');
    if (t === 'user.session.start') return sessionEvent(e, ctx);
    return [];
  },
};
