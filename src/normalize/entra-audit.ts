/**
 * Microsoft Entra ID audit logs → token events: the credential and grant side of app identities.
 *  - Credentials: any target Application / ServicePrincipal whose KeyDescription (keyCredentials,
 *    passwordCredentials) lists a key id in newValue that oldValue lacks gets a `mint` of that
 *    credential (kind app_secret / app_certificate, fingerprint of the KeyIdentifier in namespace
 *    `entra:app_credential`, issuer = the target object id, minted_by = the initiator); a key id in
 *    oldValue only is a `revoke`. This covers "Add/Remove service principal credentials" and
 *    "Update application – Certificates and secrets management".
 *  - Grants (the grant side of scope drift): "Consent to application", "Add delegated permission
 *    grant" and "Add app role assignment to service principal" become a `mint` of the grant itself
 *    (kind unknown, hint delegated_grant / app_role_grant, keyed by client + resource) with
 *    scopes_granted, issuer = the client service principal's object id (the issuer Entra sign-ins
 *    and Graph activity logs give app tokens). scope_drift judges scopes_granted only on mints; a
 *    failed consent carries the scopes as scopes_requested with an empty grant (probing).
 * Everything else (user, group, role, policy changes) is a valid record without a token: [].
 */
import { EntraAuditEvent as EntraAuditSchema, credentialKeys, decodeValue, isKeyProperty, isSuccess } from '../../schemas/vendors/entra-audit.js';
import type { AppCredential, EntraAuditEvent } from '../../schemas/vendors/entra-audit.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { fingerprintIdentifier } from '../core/fingerprint.js';
import { sha256Hex } from '../core/hash.js';
import { parseTime } from '../core/time.js';
import { lowerCaseMembers, str } from './bearer.js';
import type { NormalizeContext, VendorFormat } from './types.js';

/** Namespace of Entra app credential key ids (= sign-in logs' servicePrincipalCredentialKeyId). */
export const ENTRA_APP_CREDENTIAL_NAMESPACE = 'entra:app_credential';
const GRANT_NAMESPACE = 'entra:grant';

type Target = NonNullable<EntraAuditEvent['targetResources']>[number];
type Common = Pick<TokenEvent, 'time' | 'minted_by' | 'authority' | 'network' | 'user_agent' | 'operation' | 'outcome'>;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function property(t: Target | undefined, name: string): { oldValue: unknown; newValue: unknown } | undefined {
  const lower = name.toLowerCase();
  return t?.modifiedProperties?.find((p) => p.displayName?.toLowerCase() === lower) ?? undefined;
}

/** A modifiedProperty's new value as a plain string ("\"abc\"" → "abc"). */
function newString(t: Target | undefined, name: string): string | undefined {
  const v = decodeValue(property(t, name)?.newValue);
  return typeof v === 'string' ? str(v, 512) : Array.isArray(v) && typeof v[0] === 'string' ? str(v[0], 512) : undefined;
}

const splitScopes = (s: string | undefined): string[] => (s ? [...new Set(s.split(/\s+/).filter((x) => x.length > 0 && x.length <= 256))].slice(0, 256) : []);

function commonOf(a: EntraAuditEvent): Common {
  const user = a.initiatedBy?.user ?? undefined;
  const app = a.initiatedBy?.app ?? undefined;
  // Log Analytics' TenantId is the workspace; AADTenantId is the directory.
  const tenant = str(a.aadTenantId, 256) ?? str(a.tenantId, 256);
  const agent = a.additionalDetails?.find((d) => d.key?.toLowerCase() === 'user-agent')?.value;
  const ip = str(user?.ipAddress, 64) ?? str(a.callerIpAddress, 64);
  const c: Common = {
    time: parseTime(a.activityDateTime)!,
    minted_by: str(user?.userPrincipalName) ?? str(user?.id) ?? str(app?.servicePrincipalId) ?? str(app?.appId) ?? str(app?.displayName ?? undefined),
    authority: tenant ? `entra:${tenant}` : undefined,
    network: ip ? { ip } : undefined,
    user_agent: str(agent, 1024),
    operation: a.activityDisplayName.trim().slice(0, 256),
    outcome: isSuccess(a.result) ? 'success' : 'failure',
  };
  return c;
}

function event(c: Common, action: TokenEvent['action'], token: TokenEvent['token'], issuer: string | undefined): TokenEvent {
  const e = { event_id: '', source: 'entra_audit', platform: 'azure', action, time: c.time, token } as TokenEvent;
  if (issuer !== undefined) e.issuer = issuer;
  if (c.minted_by !== undefined) e.minted_by = c.minted_by;
  if (c.authority !== undefined) e.authority = c.authority;
  if (c.network !== undefined) e.network = c.network;
  if (c.user_agent !== undefined) e.user_agent = c.user_agent;
  e.operation = c.operation;
  e.outcome = c.outcome;
  return e;
}

/** Secrets and certificates added to / removed from each target. */
function credentialEvents(a: EntraAuditEvent, c: Common, ctx: NormalizeContext, out: TokenEvent[]): void {
  for (const t of a.targetResources ?? []) {
    const issuer = str(t.id, 512);
    for (const p of t.modifiedProperties ?? []) {
      if (!isKeyProperty(p.displayName)) continue;
      const before = credentialKeys(p.displayName, p.oldValue);
      const after = credentialKeys(p.displayName, p.newValue);
      for (const [id, cred] of after) if (!before.has(id)) out.push(credentialEvent(c, 'mint', id, cred, issuer, ctx));
      for (const [id, cred] of before) if (!after.has(id)) out.push(credentialEvent(c, 'revoke', id, cred, issuer, ctx));
    }
  }
}

function credentialEvent(c: Common, action: 'mint' | 'revoke', keyId: string, cred: AppCredential, issuer: string | undefined, ctx: NormalizeContext): TokenEvent {
  const token: TokenEvent['token'] = { fp: fingerprintIdentifier(ctx.fingerprint, ENTRA_APP_CREDENTIAL_NAMESPACE, keyId.toLowerCase()), kind: cred.kind };
  if (cred.type) token.hint = cred.type;
  const e = event(c, action, token, issuer);
  if (action === 'mint') {
    e.issued_at = c.time;
    if (cred.expiresAt !== undefined) e.expires_at = cred.expiresAt;
  }
  return e;
}

/** One grant of the directory's `[[Id: …], [Id: …]]` rendering (bounded: no nested brackets). */
const PERMISSION_ENTRY_RE = /\[\s*Id:[^[\]]{0,4096}\]/g;

/** `Key: value` pairs of the directory's `[[Id: …, ClientId: …, Scope: a b, …]]` rendering. */
function permissionField(text: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|[\\[,\\s])${key}:\\s*([^,\\]]*)`).exec(text);
  return m ? str(m[1], 512) : undefined;
}

function grantEvent(c: Common, kind: 'delegated_grant' | 'app_role_grant', client: string, resource: string | undefined, scopes: string[], ctx: NormalizeContext): TokenEvent {
  const fp = ctx.fingerprint(GRANT_NAMESPACE, `${kind}|${client}|${resource ?? ''}`);
  const e = event(c, 'mint', { fp, kind: 'unknown', hint: kind }, client.slice(0, 512));
  if (c.outcome === 'success') e.scopes_granted = scopes;
  else {
    e.scopes_requested = scopes;
    e.scopes_granted = [];
  }
  return e;
}

function grantEvents(a: EntraAuditEvent, c: Common, ctx: NormalizeContext, out: TokenEvent[]): void {
  const name = a.activityDisplayName.trim().toLowerCase();
  const targets = a.targetResources ?? [];
  if (name === 'consent to application') {
    const client = targets.find((t) => t.type?.toLowerCase() === 'serviceprincipal') ?? targets[0];
    const raw = decodeValue(property(client, 'ConsentAction.Permissions')?.newValue);
    if (typeof raw !== 'string') return;
    // "<old grants> => <new grants>": the grants as they stand after the consent, one
    // "[Id: …, ClientId: …, ResourceId: …, Scope: a b, …]" per resource
    const granted = raw.includes('=>') ? raw.slice(raw.indexOf('=>') + 2) : raw;
    for (const m of granted.matchAll(PERMISSION_ENTRY_RE)) {
      const entry = m[0];
      const clientId = permissionField(entry, 'ClientId') ?? str(client?.id);
      const scopes = splitScopes(permissionField(entry, 'Scope'));
      if (clientId && scopes.length > 0) out.push(grantEvent(c, 'delegated_grant', clientId, permissionField(entry, 'ResourceId'), scopes, ctx));
    }
  } else if (name === 'add delegated permission grant') {
    const resource = targets[0];
    const clientId = newString(resource, 'ServicePrincipal.ObjectID') ?? str(targets[1]?.id);
    const scopes = splitScopes(newString(resource, 'DelegatedPermissionGrant.Scope'));
    if (clientId && scopes.length > 0) out.push(grantEvent(c, 'delegated_grant', clientId, str(resource?.id), scopes, ctx));
  } else if (name === 'add app role assignment to service principal') {
    const resource = targets[0];
    const clientId = newString(resource, 'ServicePrincipal.ObjectID');
    const role = newString(resource, 'AppRole.Value') ?? newString(resource, 'AppRole.Id');
    if (clientId && role) out.push(grantEvent(c, 'app_role_grant', clientId, str(resource?.id), splitScopes(role), ctx));
  }
}

function baseEventId(a: EntraAuditEvent): string {
  const id = str(a.id, 200);
  if (id) return id;
  const targets = (a.targetResources ?? []).map((t) => t.id ?? '').join(',');
  return `h${sha256Hex(`${a.correlationId ?? ''}|${a.activityDateTime}|${a.activityDisplayName}|${targets}`)}`;
}

export function normalizeEntraAudit(a: EntraAuditEvent, ctx: NormalizeContext): TokenEvent[] {
  const c = commonOf(a);
  const out: TokenEvent[] = [];
  // A failed credential change changed nothing; a failed consent is still a request for scopes.
  if (c.outcome === 'success') credentialEvents(a, c, ctx, out);
  grantEvents(a, c, ctx, out);
  if (out.length > 0) {
    const base = `entra_audit:${baseEventId(a)}`;
    for (let i = 0; i < out.length; i++) out[i]!.event_id = out.length > 1 ? `${base}:${i}` : base;
  }
  return out;
}

/** The (lower-cased) keys detect() looks at. */
const DETECT_KEYS: ReadonlySet<string> = new Set(['category', 'type', 'properties', 'activitydatetime', 'activitydisplayname', 'loggedbyservice', 'initiatedby']);
const PROPERTY_KEYS: ReadonlySet<string> = new Set(['activitydatetime', 'activitydisplayname']);

export const entraAudit: VendorFormat<EntraAuditEvent> = {
  id: 'entra_audit',
  platform: 'azure',
  description: 'Microsoft Entra ID audit logs (Graph directoryAudit, Azure Monitor AuditLogs, Log Analytics AuditLogs): app secrets/certificates added or removed, consents and permission grants',
  detect(raw) {
    const lower = lowerCaseMembers(raw, DETECT_KEYS);
    // Azure Monitor diagnostic category / Log Analytics table name
    if (lower.get('category') === 'AuditLogs' || lower.get('type') === 'AuditLogs') return true;
    const props = lower.get('properties');
    if (isRecord(props)) return lowerCaseMembers(props, PROPERTY_KEYS).size > 0;
    // a Graph directoryAudit (a partial one still names its activity and who or what logged it)
    return lower.has('activitydisplayname') && (lower.has('activitydatetime') || lower.has('loggedbyservice') || lower.has('initiatedby'));
  },
  schema: EntraAuditSchema,
  normalize: normalizeEntraAudit,
};
