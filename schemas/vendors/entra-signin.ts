/**
 * Microsoft Entra ID sign-in logs, in the three shapes they reach a pipeline:
 *  - Graph `signIn` resource (GET /auditLogs/signIns): flat camelCase object;
 *  - Azure Monitor diagnostic settings (Event Hub / storage): `{time, category, tenantId,
 *    correlationId, resultType, properties: {…signIn…}}` for the categories below;
 *  - Log Analytics table exports (SigninLogs, AADServicePrincipalSignInLogs…): flat PascalCase.
 * Data-lake exports also lowercase top-level keys. The schema canonicalizes key case, flattens
 * the Monitor envelope into the Graph shape, then validates that one shape.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

export const ENTRA_SIGNIN_CATEGORIES = [
  'SignInLogs',
  'NonInteractiveUserSignInLogs',
  'ServicePrincipalSignInLogs',
  'ManagedIdentitySignInLogs',
] as const;

const MONITOR_KEYS = [
  'time', 'resourceId', 'operationName', 'operationVersion', 'category', 'tenantId', 'resultType', 'resultSignature',
  'resultDescription', 'callerIpAddress', 'correlationId', 'identity', 'level', 'location', 'properties', 'durationMs',
  'timeGenerated',
] as const;

const SIGNIN_KEYS = [
  'id', 'createdDateTime', 'userDisplayName', 'userPrincipalName', 'userId', 'userType', 'appId', 'appDisplayName',
  'ipAddress', 'clientAppUsed', 'correlationId', 'conditionalAccessStatus', 'isInteractive', 'status',
  'resourceDisplayName', 'resourceId', 'resourceIdentity', 'servicePrincipalId', 'servicePrincipalName',
  'uniqueTokenIdentifier', 'userAgent', 'signInEventTypes', 'homeTenantId', 'resourceTenantId', 'tenantId',
  'autonomousSystemNumber', 'managedIdentityType', 'tokenIssuerType', 'incomingTokenType', 'authenticationProtocol',
  'servicePrincipalCredentialKeyId', 'category', 'resultType', 'timeGenerated', 'aadTenantId',
] as const;

/**
 * Rename keys that differ from a canonical name only in case ("eventtype", "AppId"). The
 * canonical spelling wins when both are present. Returns non-objects unchanged.
 */
export function canonicalizeKeys(v: unknown, names: readonly string[]): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const src = v as Record<string, unknown>;
  const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(src)) {
    const canon = byLower.get(k.toLowerCase());
    if (canon && canon !== k && !Object.hasOwn(src, canon)) {
      out ??= { ...src };
      out[canon] = src[k];
      delete out[k];
    }
  }
  return out ?? src;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const ARM_PATH = /^\/(tenants|subscriptions)\//i;

/** Monitor envelope → Graph shape; Log Analytics columns → Graph names. */
function flattenSignIn(v: unknown): unknown {
  const top = canonicalizeKeys(v, MONITOR_KEYS);
  if (!isRecord(top)) return top;
  const envelope = isRecord(top.properties);
  const rec = canonicalizeKeys(envelope ? top.properties : top, SIGNIN_KEYS) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...rec };
  // The envelope's (and Log Analytics') resourceId is an ARM path, not the resource app id.
  if (typeof out.resourceId === 'string' && ARM_PATH.test(out.resourceId)) delete out.resourceId;
  out.resourceId ??= rec.resourceIdentity;
  if (envelope) {
    out.category ??= top.category;
    out.tenantId ??= top.tenantId;
    out.correlationId ??= top.correlationId;
    out.ipAddress ??= top.callerIpAddress;
    out.resultType ??= top.resultType;
    out.createdDateTime ??= top.time;
  } else {
    out.createdDateTime ??= rec.timeGenerated ?? top.time;
  }
  return out;
}

const timeString = z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp');
const optStr = (max = 512) => z.string().max(max).nullish();

export const EntraSignInStatus = z.looseObject({
  errorCode: z.union([z.number().int(), z.string().regex(/^-?\d+$/)]).nullish(),
  failureReason: z.string().nullish(),
});

export const EntraSignIn = z
  .looseObject({
    id: optStr(128),
    uniqueTokenIdentifier: optStr(256),
    createdDateTime: timeString,
    correlationId: optStr(128),
    category: z.enum(ENTRA_SIGNIN_CATEGORIES).nullish(),
    tenantId: optStr(128),
    aadTenantId: optStr(128),
    resourceTenantId: optStr(128),
    homeTenantId: optStr(128),
    appId: optStr(128),
    appDisplayName: optStr(),
    servicePrincipalId: optStr(128),
    servicePrincipalName: optStr(),
    userId: optStr(128),
    userPrincipalName: optStr(),
    resourceId: optStr(128),
    resourceDisplayName: optStr(),
    ipAddress: optStr(64),
    userAgent: z.string().nullish(),
    autonomousSystemNumber: z.union([z.number(), z.string()]).nullish(),
    status: EntraSignInStatus.nullish(),
    resultType: z.union([z.number(), z.string()]).nullish(),
    signInEventTypes: z.array(z.string()).nullish(),
    managedIdentityType: optStr(64),
  })
  .superRefine((s, ctx) => {
    if (!s.uniqueTokenIdentifier && !s.id) {
      ctx.addIssue({ code: 'custom', path: ['uniqueTokenIdentifier'], message: 'a sign-in needs uniqueTokenIdentifier or id (properties.* in the Azure Monitor shape)' });
    }
  });

export const EntraSignInEvent = z.preprocess(flattenSignIn, EntraSignIn);
export type EntraSignInEvent = z.output<typeof EntraSignIn>;
