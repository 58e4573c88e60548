/**
 * Microsoft Graph activity logs → 'use' events. `signInActivityId` is the calling token's
 * `uti` (= the sign-in log's uniqueTokenIdentifier), so the fingerprint uses the same
 * namespace as entra_signin: a Graph call and the sign-in that minted its token share one fp.
 */
import type { EntraGraphActivityEvent } from '../../schemas/vendors/entra-graph.js';
import { EntraGraphActivityEvent as EntraGraphSchema, ENTRA_GRAPH_CATEGORY } from '../../schemas/vendors/entra-graph.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { parseTime } from '../core/time.js';
import { sha256Hex } from '../core/hash.js';
import type { VendorFormat } from './types.js';
import { compact, entraUtiFingerprint, lowerCaseMembers, mergeScopes, outcomeFromHttpStatus, pathOnly, splitScopes, str } from './bearer.js';

/** Microsoft Graph's application id: the `resourceId` of sign-ins for Graph tokens. */
export const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** The (lower-cased) keys detect() looks at. */
const DETECT_KEYS: ReadonlySet<string> = new Set(['category', 'signinactivityid', 'requesturi', 'requestmethod']);

export const entraGraph: VendorFormat<EntraGraphActivityEvent> = {
  id: 'entra_graph',
  platform: 'azure',
  description: 'Microsoft Graph activity logs (Azure Monitor MicrosoftGraphActivityLogs and flat/Log Analytics shapes)',
  detect(raw) {
    const lower = lowerCaseMembers(raw, DETECT_KEYS);
    if (lower.get('category') === ENTRA_GRAPH_CATEGORY) return true;
    return lower.has('signinactivityid') && (lower.has('requesturi') || lower.has('requestmethod'));
  },
  schema: EntraGraphSchema,
  normalize(a, ctx) {
    const time = parseTime(a.timeGenerated)!;
    const issued = a.tokenIssuedAt ? parseTime(a.tokenIssuedAt) : undefined;
    // Log Analytics' TenantId is the workspace; AadTenantId is the directory.
    const tenant = str(a.aadTenantId) ?? str(a.tenantId);
    const appOnly = !str(a.userId);
    const method = str(a.requestMethod, 16)?.toUpperCase();
    const path = a.requestUri ? pathOnly(a.requestUri) : undefined;
    const requestKey = str(a.requestId) ?? sha256Hex(`${a.signInActivityId}|${a.timeGenerated}|${method ?? ''}|${a.requestUri ?? ''}`);
    const ev: TokenEvent = {
      event_id: `entra_graph:${requestKey}`,
      source: 'entra_graph',
      platform: 'azure',
      action: 'use',
      time,
      token: { fp: entraUtiFingerprint(ctx.fingerprint, a.signInActivityId), kind: 'oauth_access' },
      // Same issuer rule as entra_signin for app tokens; delegated rows carry only the user's id.
      issuer: appOnly ? str(a.servicePrincipalId) ?? str(a.appId) : str(a.userId),
      authority: tenant ? `entra:${tenant}` : undefined,
      audience: [MICROSOFT_GRAPH_APP_ID],
      service: 'graph.microsoft.com',
      scopes_used: mergeScopes(splitScopes(a.scopes), splitScopes(a.roles)),
      issued_at: issued,
      network: { ip: str(a.ipAddress, 64) },
      user_agent: str(a.userAgent, 1024),
      outcome: outcomeFromHttpStatus(a.responseStatusCode),
      operation: method && path ? `${method} ${path}`.slice(0, 256) : method ?? path?.slice(0, 256),
    };
    return [compact(ev)];
  },
};
