/**
 * Microsoft Graph activity logs: one record per Graph API request. Shapes accepted:
 *  - Azure Monitor diagnostic settings: `{time, category: 'MicrosoftGraphActivityLogs', tenantId,
 *    properties: {signInActivityId, requestUri, …}}`;
 *  - flat: the properties object alone (camelCase), or a Log Analytics export of the
 *    MicrosoftGraphActivityLogs table (PascalCase: SignInActivityId, IPAddress, AadTenantId…).
 * `signInActivityId` is the token's `uti`, i.e. the sign-in log's `uniqueTokenIdentifier`.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';
import { canonicalizeKeys } from './entra-signin.js';

export const ENTRA_GRAPH_CATEGORY = 'MicrosoftGraphActivityLogs';

const MONITOR_KEYS = ['time', 'category', 'tenantId', 'callerIpAddress', 'correlationId', 'properties', 'operationName', 'resultSignature'] as const;

const ACTIVITY_KEYS = [
  'timeGenerated', 'time', 'category', 'type', 'location', 'ipAddress', 'requestId', 'operationId', 'clientRequestId',
  'apiVersion', 'requestMethod', 'responseStatusCode', 'tenantId', 'aadTenantId', 'durationMs', 'responseSizeBytes',
  'signInActivityId', 'roles', 'tokenIssuedAt', 'appId', 'userId', 'servicePrincipalId', 'scopes', 'identityProvider',
  'clientAuthMethod', 'wids', 'requestUri', 'userAgent', 'deviceId', 'sessionId',
] as const;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function flattenActivity(v: unknown): unknown {
  const top = canonicalizeKeys(v, MONITOR_KEYS);
  if (!isRecord(top)) return top;
  const envelope = isRecord(top.properties);
  const rec = canonicalizeKeys(envelope ? top.properties : top, ACTIVITY_KEYS) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...rec };
  if (envelope) {
    out.category ??= top.category;
    out.tenantId ??= top.tenantId;
    out.ipAddress ??= top.callerIpAddress;
    out.timeGenerated ??= top.time;
  } else {
    out.timeGenerated ??= rec.time;
  }
  return out;
}

const timeString = z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp');
const optStr = (max = 512) => z.string().max(max).nullish();
// Log Analytics stores scopes/roles as one space-separated string; some exporters emit arrays.
const scopeList = z.union([z.string().max(64 * 1024), z.array(z.string())]).nullish();

export const EntraGraphActivity = z.looseObject({
  timeGenerated: timeString,
  category: z.literal(ENTRA_GRAPH_CATEGORY).nullish(),
  signInActivityId: z.string({ error: 'signInActivityId is required: it links the request to its token' }).min(1).max(256),
  requestId: optStr(128),
  operationId: optStr(128),
  requestMethod: optStr(16),
  requestUri: z.string().max(8192).nullish(),
  responseStatusCode: z.union([z.number().int(), z.string().regex(/^\d{3}$/)]).nullish(),
  scopes: scopeList,
  roles: scopeList,
  ipAddress: optStr(64),
  userAgent: z.string().nullish(),
  appId: optStr(128),
  servicePrincipalId: optStr(128),
  userId: optStr(128),
  tenantId: optStr(128),
  aadTenantId: optStr(128),
  tokenIssuedAt: z.union([timeString, z.literal('')]).nullish(),
});

export const EntraGraphActivityEvent = z.preprocess(flattenActivity, EntraGraphActivity);
export type EntraGraphActivityEvent = z.output<typeof EntraGraphActivity>;
