/**
 * Auth0 tenant logs → token events.
 *
 *  seccft / seacft / sertft / sepft / sede → mint of an oauth_access token (issuer = client_id)
 *  ferrt                                   → reuse_signal: a rotating refresh token was reused
 *  srrt                                    → revoke of a refresh token
 * Every other code is valid and yields [].
 *
 * Token identity: Auth0 logs never carry the issued token, its jti, or the refresh token's id,
 * so no later event can name the same token. Each log event therefore stands for a distinct
 * token, fingerprinted from its log_id (unique and stable across re-deliveries, so replays map
 * to the same fp). Correlation across Auth0 events happens on issuer/subject, not fp.
 */
import type { Auth0LogEvent } from '../../schemas/vendors/auth0.js';
import { Auth0LogEvent as Auth0Schema } from '../../schemas/vendors/auth0.js';
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import type { VendorFormat } from './types.js';
import { compact, splitScopes, str } from './bearer.js';

const MINT_CODES: Record<string, string> = {
  seccft: 'client credentials exchange',
  seacft: 'authorization code exchange',
  sertft: 'refresh token exchange',
  sepft: 'password exchange',
  sede: 'device code exchange',
};
const REUSE_CODE = 'ferrt';
const REVOKE_CODE = 'srrt';

export const auth0: VendorFormat<Auth0LogEvent> = {
  id: 'auth0',
  platform: 'auth0',
  description: 'Auth0 tenant log events (token exchanges, refresh-token reuse and revocation)',
  detect(raw) {
    const wrapped = raw.data !== null && typeof raw.data === 'object' && !Array.isArray(raw.data);
    const e = wrapped ? (raw.data as Record<string, unknown>) : raw;
    const looksLikeLog = typeof e.type === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(e.type) && typeof e.date === 'string';
    // `type` + `date` alone is too generic for a flat record: also want an Auth0-specific field.
    return looksLikeLog && (wrapped || 'log_id' in e || '_id' in e || 'client_id' in e);
  },
  schema: Auth0Schema,
  normalize(e, ctx) {
    let action: TokenEvent['action'];
    let kind: TokenKind;
    if (e.type in MINT_CODES) {
      action = 'mint';
      kind = 'oauth_access';
    } else if (e.type === REUSE_CODE) {
      action = 'reuse_signal';
      kind = 'oauth_refresh';
    } else if (e.type === REVOKE_CODE) {
      action = 'revoke';
      kind = 'oauth_refresh';
    } else {
      return [];
    }
    const logId = (e.log_id ?? e._id)!;
    const audience = str(e.audience);
    const host = str(e.hostname);
    const user = str(e.user_id);
    const ev: TokenEvent = {
      event_id: `auth0:${logId}`,
      source: 'auth0',
      platform: 'auth0',
      action,
      time: parseTime(e.date)!,
      token: { fp: ctx.fingerprint('auth0:log', logId), kind, ...(action === 'reuse_signal' ? { one_time: true } : {}) },
      issuer: str(e.client_id),
      authority: host ? `auth0:${host}`.slice(0, 512) : undefined,
      subject: user,
      audience: audience ? [audience] : undefined,
      scopes_granted: action === 'mint' ? splitScopes(e.scope) : undefined,
      network: { ip: str(e.ip, 64) },
      user_agent: str(e.user_agent, 1024),
      // 's…' codes are successes, 'f…' failures (ferrt: the exchange was refused).
      outcome: e.type.startsWith('f') ? 'failure' : 'success',
      operation: e.type,
      signal: action === 'reuse_signal' ? REUSE_CODE : undefined,
    };
    return [compact(ev)];
  },
};
