/**
 * HashiCorp Vault audit log → token events. A token's identity is its accessor (never its value);
 * a batch token has no accessor and is identified by its HMAC'd client_token.
 *
 *  response carrying response.auth (auth/<mount>/login…, auth/token/create*)  → mint of the new
 *      token (expires_at from token_ttl, scopes_granted = its policies); a child token created by a
 *      token has that token as parent_fp
 *  auth/token/renew, renew-self, renew-accessor → use of the renewed token with its new expiry
 *  auth/token/revoke-self                       → revoke of the calling token
 *  auth/token/revoke-accessor                   → revoke of request.data.accessor (see below)
 *  any other response to a call made with a token → use (service = mount point, ip = remote_address)
 *  a failed login                               → mint with outcome failure, keyed on the request
 *
 * One call, one event: Vault writes a `request` and a `response` entry per call, and the response
 * holds everything the request does. Request entries therefore yield nothing, except one carrying
 * an error (a call refused before it ran, e.g. permission denied, may have no response entry).
 * Both entries of a call get the event id `vault_audit:<request.id>`, so the engine drops the
 * second if both produce an event.
 *
 * What correlates: the device HMACs every accessor with one salt, so `auth.accessor`,
 * `response.auth.accessor` and a revoke-accessor's `request.data.accessor` (request data is HMAC'd
 * too) match within one audit device. With `hmac_accessor=false` the accessors are raw but the
 * request data is still HMAC'd: revoke-accessor then matches nothing. `auth/token/revoke` and
 * `revoke-orphan` name the token by its (HMAC'd) value, not its accessor: not correlatable, so they
 * yield only the caller's use. Two audit devices use different salts: read one device's log.
 */
import type { VaultAuditEntry, VaultAuth } from '../../schemas/vendors/vault-audit.js';
import { VaultAuditEntry as VaultSchema } from '../../schemas/vendors/vault-audit.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import type { NormalizeContext, VendorFormat } from './types.js';
import { asRecord, compact, str, stripPort } from './bearer.js';

const RENEW_RE = /^auth\/token\/renew(?:-self|-accessor)?(?:\/|$)/;
const LOGIN_RE = /^auth\/.+\/login(?:\/|$)/;
/** Vault's refusals of the token itself, as opposed to errors of the operation. */
const AUTH_ERROR_RE = /permission denied|invalid token|missing client token|token (?:is )?expired|bad token/i;

function tokenFp(ctx: NormalizeContext, auth: VaultAuth | null | undefined): string | undefined {
  const accessor = str(auth?.accessor);
  if (accessor) return ctx.fingerprint('vault:accessor', accessor);
  // batch tokens have no accessor
  const token = str(auth?.client_token);
  return token ? ctx.fingerprint('vault:client_token', token) : undefined;
}

/** The role / workload the token was issued to, from the auth method's (non-HMAC'd) metadata. */
function holderOf(auth: VaultAuth): string | undefined {
  const m = auth.metadata ?? {};
  const sa = str(m.service_account_name);
  const ns = str(m.service_account_namespace);
  return str(m.role_name) ?? str(m.role) ?? (sa ? (ns ? `${ns}/${sa}` : sa) : undefined) ?? str(m.username) ?? str(auth.display_name);
}

function serviceOf(e: VaultAuditEntry): string | undefined {
  const mount = str(e.request.mount_point, 512);
  if (mount) return mount;
  const parts = e.request.path.replace(/^\/+/, '').split('/');
  return str(parts[0] === 'auth' && parts[1] ? `auth/${parts[1]}/` : parts[0] ? `${parts[0]}/` : undefined);
}

/** A path segment that is a Vault token (service hvs./s., batch hvb./b., recovery hvr./r.). */
const TOKEN_SEGMENT_RE = /\/(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}(?=\/|$)/g;

/** Token and lease endpoints once took the token in the path (auth/token/revoke/<token>): keep only the endpoint. */
function operationPath(path: string): string {
  const p = path.replace(/^\/+/, '');
  if (p.startsWith('auth/token/')) return p.split('/', 3).join('/');
  return p.replace(TOKEN_SEGMENT_RE, '/<token>');
}

function userAgentOf(e: VaultAuditEntry): string | undefined {
  const h = e.request.headers?.['user-agent'];
  return str(Array.isArray(h) ? h[0] : h, 1024);
}

function base(e: VaultAuditEntry, suffix: string, action: TokenEvent['action'], fp: string, outcome: 'success' | 'failure'): TokenEvent {
  const ns = str(e.request.namespace?.path) ?? 'root';
  const ip = str(e.request.remote_address, 64);
  return {
    event_id: `vault_audit:${e.request.id}${suffix}`,
    source: 'vault_audit',
    platform: 'vault',
    time: parseTime(e.time)!,
    token: { fp, kind: 'vault_token' },
    authority: `vault:${ns}`.slice(0, 512),
    service: serviceOf(e),
    network: { ip: ip ? stripPort(ip) : undefined },
    user_agent: userAgentOf(e),
    outcome,
    operation: `${e.request.operation} ${operationPath(e.request.path)}`.slice(0, 256),
    action,
  };
}

function callerUse(e: VaultAuditEntry, ctx: NormalizeContext, suffix: string): TokenEvent | undefined {
  const fp = tokenFp(ctx, e.auth);
  if (!fp || !e.auth) return undefined;
  const ev = base(e, suffix, 'use', fp, e.error && AUTH_ERROR_RE.test(e.error) ? 'failure' : 'success');
  ev.issuer = holderOf(e.auth);
  ev.subject = str(e.auth.entity_id);
  return compact(ev);
}

function ttlExpiry(issuedAt: number, auth: VaultAuth): number | undefined {
  // token_ttl 0 means no expiry (root tokens)
  return auth.token_ttl ? issuedAt + Math.round(auth.token_ttl * 1000) : undefined;
}

function mint(e: VaultAuditEntry, issued: VaultAuth, ctx: NormalizeContext): TokenEvent[] {
  const fp = tokenFp(ctx, issued);
  if (!fp) return [];
  const ev = base(e, '', 'mint', fp, 'success');
  const t = ev.time;
  const issuedAt = parseTime(issued.token_issue_time) ?? t;
  ev.subject = str(issued.entity_id);
  // A token created by a token (auth/token/create*) is its child: the creator is parent and minted_by.
  const parent = LOGIN_RE.test(e.request.path) ? undefined : tokenFp(ctx, e.auth);
  const creator = parent && e.auth ? holderOf(e.auth) : undefined;
  ev.parent_fp = parent;
  ev.minted_by = creator;
  // A child token without a display name of its own is just "token": it is held by its creator's workload.
  const holder = holderOf(issued);
  ev.issuer = holder === undefined || holder === 'token' ? creator ?? holder : holder;
  ev.issued_at = issuedAt;
  ev.expires_at = ttlExpiry(issuedAt, issued);
  const policies = issued.token_policies ?? issued.policies;
  ev.scopes_granted = policies && policies.length > 0 ? policies.slice(0, 256) : undefined;
  return [compact(ev)];
}

function failedLogin(e: VaultAuditEntry, ctx: NormalizeContext): TokenEvent[] {
  const ev = base(e, '', 'mint', ctx.fingerprint('vault_audit:event', e.request.id), 'failure');
  ev.issuer = serviceOf(e);
  return [compact(ev)];
}

function renew(e: VaultAuditEntry, ctx: NormalizeContext, path: string): TokenEvent[] {
  const renewed = e.response?.auth;
  const self = path.startsWith('auth/token/renew-self');
  const accessor = self ? undefined : str(asRecord(e.request.data)?.accessor);
  const fp = tokenFp(ctx, renewed) ?? (self ? tokenFp(ctx, e.auth) : accessor ? ctx.fingerprint('vault:accessor', accessor) : undefined);
  const out: TokenEvent[] = [];
  if (fp && !e.error) {
    const ev = base(e, '', 'use', fp, 'success');
    const holder = renewed ?? (self ? e.auth : undefined);
    ev.issuer = holder ? holderOf(holder) : undefined;
    ev.expires_at = renewed ? ttlExpiry(ev.time, renewed) : undefined;
    out.push(compact(ev));
  }
  if (!self || out.length === 0) {
    const use = callerUse(e, ctx, out.length > 0 ? ':1' : '');
    if (use) out.push(use);
  }
  return out;
}

function revoke(e: VaultAuditEntry, ctx: NormalizeContext, path: string): TokenEvent[] {
  const self = path.startsWith('auth/token/revoke-self');
  const accessor = path.startsWith('auth/token/revoke-accessor') ? str(asRecord(e.request.data)?.accessor) : undefined;
  const fp = self ? tokenFp(ctx, e.auth) : accessor ? ctx.fingerprint('vault:accessor', accessor) : undefined;
  if (!fp || e.error) {
    const use = callerUse(e, ctx, '');
    return use ? [use] : [];
  }
  const ev = base(e, '', 'revoke', fp, 'success');
  if (self && e.auth) ev.issuer = holderOf(e.auth);
  const out = [compact(ev)];
  if (!self) {
    const use = callerUse(e, ctx, ':1');
    if (use) out.push(use);
  }
  return out;
}

export const vaultAudit: VendorFormat<VaultAuditEntry> = {
  id: 'vault_audit',
  platform: 'vault',
  description: 'HashiCorp Vault audit device log (token logins/creates, renewals, revocations, and calls by accessor)',
  detect(raw) {
    if (raw.type !== 'request' && raw.type !== 'response') return false;
    const req = raw.request;
    return typeof raw.time === 'string' && req !== null && typeof req === 'object' && typeof (req as Record<string, unknown>).path === 'string';
  },
  schema: VaultSchema,
  normalize(e, ctx) {
    if (e.type === 'request') {
      if (!e.error) return []; // its response entry carries the same call
      const use = callerUse(e, ctx, '');
      return use ? [use] : [];
    }
    const path = e.request.path.replace(/^\/+/, '');
    if (RENEW_RE.test(path)) return renew(e, ctx, path);
    if (path.startsWith('auth/token/revoke')) return revoke(e, ctx, path);
    const issued = e.response?.auth;
    if (issued && !e.error && (str(issued.accessor) || str(issued.client_token))) return mint(e, issued, ctx);
    if (LOGIN_RE.test(path) && e.error) return failedLogin(e, ctx);
    const use = callerUse(e, ctx, '');
    return use ? [use] : [];
  },
};
