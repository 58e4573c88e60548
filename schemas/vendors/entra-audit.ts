/**
 * Microsoft Entra ID audit logs, in the shapes they reach a pipeline:
 *  - Graph `directoryAudit` (GET /auditLogs/directoryAudits): flat camelCase object;
 *  - Azure Monitor diagnostic settings (Event Hub / storage): `{time, operationName, category:
 *    "AuditLogs", resultType, callerIpAddress, correlationId, tenantId, properties: {…directoryAudit…}}`
 *    (some exports put the directoryAudit category, e.g. "ApplicationManagement", at the top);
 *  - Log Analytics `AuditLogs` table exports: flat PascalCase columns.
 * The schema canonicalizes key case, flattens the envelope into the Graph shape and validates that.
 * Field names: Graph `directoryAudit`, `auditActivityInitiator`, `targetResource`, `modifiedProperty`.
 *
 * modifiedProperties values are JSON text written by the directory. The credential lists look like
 * `["[KeyIdentifier=<guid>,KeyType=Password,KeyUsage=Verify,DisplayName=<name>]"]` (KeyDescription);
 * keyCredentials / passwordCredentials hold objects with `keyId`. Only key ids, key types and end
 * dates are read: display names and any key material never leave this file.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';
import { canonicalizeKeys } from './entra-signin.js';

const MONITOR_KEYS = [
  'time', 'resourceId', 'operationName', 'operationVersion', 'category', 'tenantId', 'resultType', 'resultSignature',
  'resultDescription', 'callerIpAddress', 'correlationId', 'identity', 'level', 'properties', 'durationMs', 'timeGenerated',
] as const;

const AUDIT_KEYS = [
  'id', 'activityDateTime', 'activityDisplayName', 'category', 'operationType', 'result', 'resultReason', 'initiatedBy',
  'targetResources', 'additionalDetails', 'loggedByService', 'correlationId', 'tenantId', 'aadTenantId', 'operationName',
  'timeGenerated', 'callerIpAddress',
] as const;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Monitor envelope → Graph shape; Log Analytics columns → Graph names. */
function flattenAudit(v: unknown): unknown {
  const top = canonicalizeKeys(v, MONITOR_KEYS);
  if (!isRecord(top)) return top;
  if (isRecord(top.properties)) {
    const rec = canonicalizeKeys(top.properties, AUDIT_KEYS) as Record<string, unknown>;
    const out: Record<string, unknown> = { ...rec };
    out.activityDateTime ??= top.time;
    out.activityDisplayName ??= rec.operationName ?? top.operationName;
    out.correlationId ??= top.correlationId;
    out.tenantId ??= top.tenantId;
    out.callerIpAddress ??= top.callerIpAddress;
    out.result ??= top.result ?? top.resultType;
    if (typeof top.category === 'string' && top.category !== 'AuditLogs') out.category ??= top.category;
    return out;
  }
  const rec = canonicalizeKeys(top, AUDIT_KEYS) as Record<string, unknown>;
  if (rec.activityDateTime !== undefined && rec.activityDisplayName !== undefined) return rec;
  const out: Record<string, unknown> = { ...rec };
  out.activityDateTime ??= rec.timeGenerated ?? rec.time;
  out.activityDisplayName ??= rec.operationName;
  return out;
}

const timeString = z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp');
const optStr = (max = 512) => z.string().max(max).nullish();

export const EntraModifiedProperty = z.looseObject({
  displayName: optStr(),
  oldValue: z.unknown(),
  newValue: z.unknown(),
});

export const EntraTargetResource = z.looseObject({
  id: optStr(256),
  displayName: z.string().nullish(),
  type: optStr(128),
  userPrincipalName: optStr(),
  modifiedProperties: z.array(EntraModifiedProperty).max(512).nullish(),
});

export const EntraAuditInitiator = z.looseObject({
  user: z.looseObject({ id: optStr(256), displayName: z.string().nullish(), userPrincipalName: optStr(), ipAddress: optStr(64) }).nullish(),
  app: z
    .looseObject({ appId: optStr(256), displayName: z.string().nullish(), servicePrincipalId: optStr(256), servicePrincipalName: z.string().nullish() })
    .nullish(),
});

export const EntraAudit = z
  .looseObject({
    id: optStr(256),
    activityDateTime: timeString,
    activityDisplayName: z.string().min(1).max(512),
    category: optStr(128),
    operationType: optStr(128),
    result: optStr(64),
    resultReason: z.string().nullish(),
    correlationId: optStr(256),
    tenantId: optStr(256),
    aadTenantId: optStr(256),
    loggedByService: optStr(256),
    callerIpAddress: optStr(64),
    initiatedBy: EntraAuditInitiator.nullish(),
    targetResources: z.array(EntraTargetResource).max(64).nullish(),
    additionalDetails: z.array(z.looseObject({ key: z.string().nullish(), value: z.unknown() })).max(256).nullish(),
  })
  .superRefine((a, ctx) => {
    // A successful credential change names the credential; without a KeyIdentifier the record is
    // partial (redacted or hand-written), and accepting it would mint a credential with no identity.
    if (!isCredentialActivity(a.activityDisplayName) || !isSuccess(a.result)) return;
    const targets = a.targetResources ?? [];
    for (const t of targets) {
      for (const p of t.modifiedProperties ?? []) {
        if (!isKeyProperty(p.displayName)) continue;
        if (credentialKeys(p.displayName, p.oldValue).size > 0 || credentialKeys(p.displayName, p.newValue).size > 0) return;
      }
    }
    ctx.addIssue({
      code: 'custom',
      path: ['targetResources'],
      message: `a successful "${a.activityDisplayName}" must name the credential's KeyIdentifier (modifiedProperties KeyDescription / keyCredentials / passwordCredentials)`,
    });
  });

export const EntraAuditEvent = z.preprocess(flattenAudit, EntraAudit);
export type EntraAuditEvent = z.output<typeof EntraAudit>;

// ---------------------------------------------------------------- value parsing

/** Activities that add or remove an application / service-principal secret or certificate. */
const CREDENTIAL_ACTIVITY_RE = /^(add|remove|update) service principal credentials$|certificates and secrets management/i;
const KEY_PROPERTIES = new Set(['keydescription', 'keycredentials', 'passwordcredentials']);

export const isCredentialActivity = (name: string): boolean => CREDENTIAL_ACTIVITY_RE.test(name.trim());
export const isKeyProperty = (name: string | null | undefined): boolean => typeof name === 'string' && KEY_PROPERTIES.has(name.toLowerCase());
/** Graph: success | failure | timeout | unknownFutureValue; exports vary the case. Absent = success. */
export const isSuccess = (result: string | null | undefined): boolean => !result || result.toLowerCase() === 'success';

export type AppCredentialKind = 'app_secret' | 'app_certificate';
export interface AppCredential {
  kind: AppCredentialKind;
  /** Key type as the directory spells it (Password, AsymmetricX509Cert, Symmetric): a non-secret hint. */
  type?: string;
  expiresAt?: number;
}

/** A modifiedProperty value: JSON text decoded once, or the value itself. */
export function decodeValue(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (t === '' || (t[0] !== '[' && t[0] !== '{' && t[0] !== '"')) return t;
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
}

const GUIDISH = /^[0-9A-Za-z-]{8,128}$/;

function kindOf(type: string | undefined, property: string): AppCredentialKind {
  if (type && /password/i.test(type)) return 'app_secret';
  if (type && /cert|symmetric/i.test(type)) return 'app_certificate';
  return property === 'keycredentials' ? 'app_certificate' : 'app_secret';
}

/**
 * The credentials one KeyDescription / keyCredentials / passwordCredentials value lists, by key id:
 * `[KeyIdentifier=…,KeyType=…,…]` strings or `{keyId, type, endDateTime}` objects.
 */
export function credentialKeys(property: string | null | undefined, value: unknown): Map<string, AppCredential> {
  const out = new Map<string, AppCredential>();
  const prop = (property ?? '').toLowerCase();
  let v = decodeValue(value);
  if (typeof v === 'string') v = [v];
  if (!Array.isArray(v)) return out;
  for (const item of v.slice(0, 256)) {
    if (typeof item === 'string') {
      const id = /KeyIdentifier=([^,\]\s]+)/.exec(item)?.[1];
      if (!id || !GUIDISH.test(id)) continue;
      const type = /KeyType=([^,\]\s]+)/.exec(item)?.[1];
      out.set(id, type ? { kind: kindOf(type, prop), type: type.slice(0, 32) } : { kind: kindOf(undefined, prop) });
    } else if (isRecord(item)) {
      const id = item.keyId ?? item.KeyId ?? item.KeyIdentifier ?? item.keyIdentifier;
      if (typeof id !== 'string' || !GUIDISH.test(id)) continue;
      const type = typeof item.type === 'string' ? item.type : typeof item.Type === 'string' ? item.Type : undefined;
      const cred: AppCredential = { kind: kindOf(type, prop) };
      if (type) cred.type = type.slice(0, 32);
      const end = parseTime(item.endDateTime ?? item.EndDateTime ?? item.endDate);
      if (end !== undefined) cred.expiresAt = end;
      out.set(id, cred);
    }
  }
  return out;
}
