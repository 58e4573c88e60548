/**
 * Microsoft Entra ID sign-in logs → token events. Every sign-in row is an OAuth token issuance
 * attempt: a 'mint' of an oauth_access token, outcome from status.errorCode (0 = success).
 * Token identity is `uniqueTokenIdentifier` (the token's `uti` claim), falling back to the
 * sign-in id; Graph activity logs' `signInActivityId` is the same value, so both land on one fp.
 *
 * Entra writes several rows for one request (interactive + non-interactive, retries). The
 * normalizer is pure and cannot remember rows, so event_id is derived only from
 * correlationId + uniqueTokenIdentifier: identical rows get the same event_id and the runtime's
 * event_id dedupe drops the copies. The id is hashed because the uti is a token identifier.
 *
 * A service-principal sign-in with `servicePrincipalCredentialKeyId` authenticated with an app
 * secret or certificate: the row is also a `use` of that credential, fingerprinted in the
 * namespace the audit log's credential mints/revokes use (ENTRA_APP_CREDENTIAL_NAMESPACE, key id
 * lower-cased), so "Add service principal credentials" ties to the credential's sign-ins and a
 * sign-in after its removal is a use after revocation. Federated (workload identity) and managed
 * identity sign-ins present no directory credential and add no use.
 */
import type { EntraSignInEvent } from '../../schemas/vendors/entra-signin.js';
import { EntraSignInEvent as EntraSignInSchema, ENTRA_SIGNIN_CATEGORIES } from '../../schemas/vendors/entra-signin.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import { sha256Hex } from '../core/hash.js';
import { TokenwatchError } from '../core/errors.js';
import type { VendorFormat } from './types.js';
import { compact, entraUtiFingerprint, lowerCaseMembers, str, strOrNum } from './bearer.js';
import { fingerprintIdentifier } from '../core/fingerprint.js';
import { ENTRA_APP_CREDENTIAL_NAMESPACE } from './entra-audit.js';

/** The (lower-cased) keys detect() looks at. */
const DETECT_KEYS: ReadonlySet<string> = new Set(['category', 'signinactivityid', 'requesturi', 'createddatetime', 'timegenerated', 'uniquetokenidentifier', 'appid', 'status']);
const APP_CATEGORIES = new Set(['ServicePrincipalSignInLogs', 'ManagedIdentitySignInLogs']);
const APP_EVENT_TYPES = new Set(['servicePrincipal', 'managedIdentity']);

function outcomeOf(s: EntraSignInEvent): 'success' | 'failure' | undefined {
  const code = s.status?.errorCode;
  if (code !== undefined && code !== null) return Number(code) === 0 ? 'success' : 'failure';
  const rt = s.resultType;
  if (rt === undefined || rt === null) return undefined;
  if (rt === 0 || rt === '0' || String(rt).toLowerCase() === 'success') return 'success';
  return 'failure';
}

/**
 * clientCredentialType values whose sign-ins present no secret or certificate of the app itself.
 * ("none" is not among them: rows with a key id and type "none" exist, and the key id is the
 * stronger evidence.)
 */
const NO_APP_CREDENTIAL = new Set(['federatedidentitycredential', 'managedidentity']);

/**
 * The app credential a service-principal sign-in presented: its kind from clientCredentialType
 * (clientSecret → secret; certificate / clientAssertion, a certificate-signed assertion → certificate),
 * else from servicePrincipalCredentialThumbprint (set only for a certificate).
 */
function appCredentialOf(s: EntraSignInEvent): { keyId: string; kind: 'app_secret' | 'app_certificate' } | undefined {
  const keyId = str(s.servicePrincipalCredentialKeyId, 128);
  if (!keyId) return undefined;
  const type = str(s.clientCredentialType, 64)?.toLowerCase();
  if (type !== undefined && NO_APP_CREDENTIAL.has(type)) return undefined;
  if (type === 'clientsecret') return { keyId, kind: 'app_secret' };
  if (type === 'certificate' || type === 'clientassertion' || str(s.servicePrincipalCredentialThumbprint)) return { keyId, kind: 'app_certificate' };
  return { keyId, kind: 'app_secret' };
}

function isAppSignIn(s: EntraSignInEvent): boolean {
  if (s.category) return APP_CATEGORIES.has(s.category);
  if (s.signInEventTypes?.some((t) => APP_EVENT_TYPES.has(t))) return true;
  return !s.userPrincipalName && !s.userId;
}

export const entraSignin: VendorFormat<EntraSignInEvent> = {
  id: 'entra_signin',
  platform: 'azure',
  description: 'Microsoft Entra ID sign-in logs (Graph signIn, Azure Monitor SignInLogs/ServicePrincipal/ManagedIdentity/NonInteractive)',
  detect(raw) {
    const lower = lowerCaseMembers(raw, DETECT_KEYS);
    const category = lower.get('category');
    if (typeof category === 'string') {
      return (ENTRA_SIGNIN_CATEGORIES as readonly string[]).includes(category);
    }
    if (lower.has('signinactivityid') || lower.has('requesturi')) return false; // Graph activity
    return (lower.has('createddatetime') || lower.has('timegenerated')) && (lower.has('uniquetokenidentifier') || (lower.has('appid') && lower.has('status')));
  },
  schema: EntraSignInSchema,
  normalize(s, ctx) {
    const uti = str(s.uniqueTokenIdentifier, 256);
    const signInId = str(s.id, 128);
    if (!uti && !signInId) throw new TokenwatchError('normalize_failed', 'entra_signin: uniqueTokenIdentifier and id are both blank');
    const fp = uti ? entraUtiFingerprint(ctx.fingerprint, uti) : ctx.fingerprint('entra:signin', signInId!);
    const tenant = str(s.aadTenantId) ?? str(s.tenantId) ?? str(s.resourceTenantId) ?? str(s.homeTenantId);
    const app = isAppSignIn(s);
    const issuer = app ? str(s.servicePrincipalId) ?? str(s.appId) : str(s.userPrincipalName) ?? str(s.userId);
    const resource = str(s.resourceId);
    const identity = `${s.correlationId ?? ''}|${uti ?? `id:${signInId}`}`;
    const ev: TokenEvent = {
      event_id: `entra_signin:${sha256Hex(identity)}`,
      source: 'entra_signin',
      platform: 'azure',
      action: 'mint',
      time: parseTime(s.createdDateTime)!,
      token: { fp, kind: 'oauth_access' },
      issuer,
      authority: tenant ? `entra:${tenant}` : undefined,
      audience: resource ? [resource] : undefined,
      service: str(s.resourceDisplayName) ?? resource,
      network: {
        ip: str(s.ipAddress, 64),
        asn: strOrNum(s.autonomousSystemNumber, 64),
      },
      user_agent: str(s.userAgent, 1024),
      outcome: outcomeOf(s),
      operation: s.category ?? 'signIn',
    };
    const mi = str(s.managedIdentityType);
    if (mi && mi.toLowerCase() !== 'none' && s.servicePrincipalId) ev.workload = { kind: 'other', id: s.servicePrincipalId.slice(0, 256) };
    const cred = app ? appCredentialOf(s) : undefined;
    if (!cred) return [compact(ev)];
    const use: TokenEvent = {
      event_id: `${ev.event_id}:credential`,
      source: 'entra_signin',
      platform: 'azure',
      action: 'use',
      time: ev.time,
      token: { fp: fingerprintIdentifier(ctx.fingerprint, ENTRA_APP_CREDENTIAL_NAMESPACE, cred.keyId.toLowerCase()), kind: cred.kind },
      issuer,
      authority: ev.authority,
      audience: ev.audience,
      service: ev.service,
      network: ev.network,
      user_agent: ev.user_agent,
      outcome: ev.outcome,
      operation: ev.operation,
    };
    return [compact(ev), compact(use)];
  },
};
