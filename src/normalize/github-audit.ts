/**
 * GitHub (organization / enterprise) audit log → token events.
 *
 *  oauth_access.create / .regenerate, oauth_authorization.create,
 *  personal_access_token.access_granted / .create, integration_installation.create → mint
 *  oauth_access.destroy / .revoke, oauth_authorization.destroy, personal_access_token.access_revoked
 *  / .revoke / .destroy, integration_installation.destroy / .delete                   → revoke
 *  any other event carrying `hashed_token` or `token_id` with `programmatic_access_type`
 *  (API calls, git operations made with a PAT, OAuth token, GitHub App token or deploy key) → use
 * Every other event is valid and yields [].
 *
 * Token identity: `token_id` (GitHub's stable id of the token) when the event has it, else
 * `hashed_token` (GitHub's base64 SHA-256 of the token, fingerprinted again like any token id).
 * A use that carries only `hashed_token` therefore does not join a record keyed on token_id:
 * GitHub does not log the hash on lifecycle events. An OAuth authorization is keyed on
 * user + OAuth app, an app installation on its installation id, so their create and destroy join.
 */
import type { GithubAuditEvent } from '../../schemas/vendors/github-audit.js';
import { GithubAuditEvent as GithubSchema } from '../../schemas/vendors/github-audit.js';
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import type { NormalizeContext, VendorFormat } from './types.js';
import { compact, splitScopes, str, strOrNum } from './bearer.js';

const MINT_ACTIONS = new Set([
  'oauth_access.create',
  'oauth_access.regenerate',
  'oauth_authorization.create',
  'personal_access_token.access_granted',
  'personal_access_token.create',
  'integration_installation.create',
]);
const REVOKE_ACTIONS = new Set([
  'oauth_access.destroy',
  'oauth_access.revoke',
  'oauth_authorization.destroy',
  'personal_access_token.access_revoked',
  'personal_access_token.revoke',
  'personal_access_token.destroy',
  'integration_installation.destroy',
  'integration_installation.delete',
]);
const ACTION_RE = /^[a-z0-9_]+(?:\.[a-z0-9_]+)+$/;

/** programmatic_access_type as GitHub spells it → kind. */
function kindOfAccessType(type: string | undefined): TokenKind {
  const t = (type ?? '').toLowerCase();
  if (t.includes('personal access token') || t.includes('deploy key') || t.includes('ssh key')) return 'api_key';
  if (t.includes('oauth') || t.includes('github app') || t.includes('server-to-server') || t.includes('user-to-server') || t.includes('installation')) return 'oauth_access';
  return 'unknown';
}

/**
 * The kind of the token a lifecycle event is about. Not from programmatic_access_type: on these
 * events it describes the token the actor used, if any. GitHub logs a classic PAT's lifecycle as
 * oauth_access.* too, so that category alone does not say which kind it is.
 */
function kindOfLifecycle(category: string): TokenKind {
  if (category === 'personal_access_token') return 'api_key';
  return category === 'oauth_access' ? 'unknown' : 'oauth_access';
}

const first = (v: unknown): string | undefined => (Array.isArray(v) ? str(v[0]) : str(v));

function eventIdOf(e: GithubAuditEvent, time: number, ctx: NormalizeContext): string {
  const doc = str(e._document_id, 128);
  if (doc) return `github_audit:${doc}`;
  // No document id (some exports): a keyed digest of fixed members (key order differs between
  // the raw record and zod's output), keyed because the event holds token hashes.
  return `github_audit:${time}:${ctx.fingerprint('github_audit:event', JSON.stringify([e.action, e.actor, e.user, e.org, e.repo, e.business, e.hashed_token, e.token_id, e.actor_ip, e.user_agent, e.programmatic_access_type, e.operation_type])).slice(4, 24)}`;
}

/** The app a token belongs to; a personal access token belongs to its owner. */
function appOf(e: GithubAuditEvent): string | undefined {
  return str(e.integration) ?? str(e.oauth_application_name) ?? str(e.oauth_application) ?? strOrNum(e.oauth_application_id);
}

function base(e: GithubAuditEvent, id: string, time: number, action: TokenEvent['action'], token: TokenEvent['token']): TokenEvent {
  return {
    event_id: id,
    source: 'github_audit',
    platform: 'github',
    time,
    authority: 'github',
    subject: str(e.actor, 256),
    service: first(e.repo) ?? first(e.org) ?? str(e.business),
    network: { ip: str(e.actor_ip, 64) },
    user_agent: str(e.user_agent, 1024),
    outcome: 'success',
    operation: e.action,
    action,
    token,
  };
}

/** The token a lifecycle event is about, or undefined when it names none. */
function lifecycleFp(e: GithubAuditEvent, category: string, ctx: NormalizeContext): string | undefined {
  const tokenId = strOrNum(e.token_id);
  if (tokenId) return ctx.fingerprint('github:token_id', tokenId);
  if (category === 'integration_installation') {
    const inst = strOrNum(e.installation_id);
    return inst ? ctx.fingerprint('github:installation', inst) : undefined;
  }
  if (category === 'oauth_authorization') {
    const owner = str(e.user) ?? str(e.actor);
    const app = strOrNum(e.oauth_application_id) ?? appOf(e);
    return owner && app ? ctx.fingerprint('github:oauth_authorization', `${owner}\0${app}`) : undefined;
  }
  return undefined;
}

function lifecycle(e: GithubAuditEvent, id: string, time: number, ctx: NormalizeContext, action: 'mint' | 'revoke'): TokenEvent[] {
  const category = e.action.slice(0, e.action.indexOf('.'));
  let fp = lifecycleFp(e, category, ctx);
  if (!fp) {
    if (action === 'revoke') return []; // a revoke of an unidentified token tells no detector anything
    fp = ctx.fingerprint('github_audit:event', id); // still counts as a mint for its issuer
  }
  const owner = str(e.user) ?? str(e.actor);
  const ev = base(e, id, time, action, { fp, kind: kindOfLifecycle(category) });
  ev.issuer = category === 'personal_access_token' ? owner : appOf(e) ?? owner;
  ev.minted_by = action === 'mint' ? str(e.actor, 256) : undefined;
  ev.subject = owner;
  ev.scopes_granted = action === 'mint' ? splitScopes(e.token_scopes) : undefined;
  return [compact(ev)];
}

function use(e: GithubAuditEvent, id: string, time: number, ctx: NormalizeContext): TokenEvent[] {
  const tokenId = strOrNum(e.token_id);
  const hashed = str(e.hashed_token, 256);
  const fp = tokenId ? ctx.fingerprint('github:token_id', tokenId) : hashed ? ctx.fingerprint('github:hashed_token', hashed) : undefined;
  if (!fp) return [];
  const kind = kindOfAccessType(str(e.programmatic_access_type));
  const ev = base(e, id, time, 'use', { fp, kind });
  ev.issuer = appOf(e) ?? (kind === 'api_key' ? str(e.actor, 256) : undefined);
  return [compact(ev)];
}

export const githubAudit: VendorFormat<GithubAuditEvent> = {
  id: 'github_audit',
  platform: 'github',
  description: 'GitHub organization/enterprise audit log events (PAT, OAuth and app-installation token lifecycle, and token use via hashed_token)',
  detect(raw) {
    if (typeof raw.action !== 'string' || !ACTION_RE.test(raw.action)) return false;
    if (raw['@timestamp'] === undefined && raw.created_at === undefined) return false;
    return typeof raw._document_id === 'string' || typeof raw.actor === 'string' || typeof raw.hashed_token === 'string' || typeof raw.business === 'string';
  },
  schema: GithubSchema,
  normalize(e, ctx) {
    const time = parseTime(e['@timestamp'] ?? e.created_at)!;
    const id = eventIdOf(e, time, ctx);
    if (MINT_ACTIONS.has(e.action)) return lifecycle(e, id, time, ctx, 'mint');
    if (REVOKE_ACTIONS.has(e.action)) return lifecycle(e, id, time, ctx, 'revoke');
    if (e.programmatic_access_type && (e.hashed_token || e.token_id != null)) return use(e, id, time, ctx);
    return [];
  },
};
