/**
 * Google Cloud audit log entry: a LogEntry whose `protoPayload` is a
 * `type.googleapis.com/google.cloud.audit.AuditLog`. Tolerant of service-specific request/response
 * bodies, strict on what the normalizer maps: a parseable `timestamp`, serviceName/methodName,
 * and — for key mints and revocations — a resource that names the key.
 * Field names: https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

export const AUDIT_LOG_TYPE = 'type.googleapis.com/google.cloud.audit.AuditLog';

/** Timestamp in epoch ms; a zone-less `YYYY-MM-DD HH:MM:SS[.f]` (data-lake re-exports) is UTC. */
export function gcpTimeMs(v: string): number | undefined {
  return parseTime(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(v) ? v.replace(' ', 'T') : v);
}

const OptString = z.string().nullish();
const Obj = z.record(z.string(), z.unknown());

const Principal = z.looseObject({ principalEmail: OptString });
export const GcpAuthenticationInfo = z.looseObject({
  principalEmail: OptString,
  principalSubject: OptString,
  serviceAccountKeyName: OptString,
  authoritySelector: OptString,
  /** Original principals first: who delegated to the service account that made the call. */
  serviceAccountDelegationInfo: z
    .array(z.looseObject({ firstPartyPrincipal: Principal.nullish(), thirdPartyPrincipal: Obj.nullish() }))
    .nullish(),
});

export const GcpAuditLog = z.looseObject({
  '@type': OptString,
  serviceName: z.string().min(1),
  methodName: z.string().min(1),
  resourceName: OptString,
  authenticationInfo: GcpAuthenticationInfo.nullish(),
  requestMetadata: z
    .looseObject({
      callerIp: OptString,
      /** Some exporters spell it callerIP. */
      callerIP: OptString,
      callerSuppliedUserAgent: OptString,
    })
    .nullish(),
  request: Obj.nullish(),
  response: Obj.nullish(),
  metadata: Obj.nullish(),
  status: z.looseObject({ code: z.number().int().nullish(), message: OptString }).nullish(),
});

/** iamcredentials methods that issue a credential or signature for a service account. */
export const IAMCREDENTIALS_MINTS = new Set(['GenerateAccessToken', 'GenerateIdToken', 'SignJwt', 'SignBlob']);
export const KEY_REVOKES = new Set(['DeleteServiceAccountKey', 'DisableServiceAccountKey']);

/** `google.iam.credentials.v1.IAMCredentials.GenerateAccessToken` → `GenerateAccessToken`. */
export const shortMethod = (methodName: string): string => methodName.slice(methodName.lastIndexOf('.') + 1);

/** The key-id segment of `…/serviceAccounts/<sa>/keys/<keyId>`. */
export function keyIdOf(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const m = /\/keys\/([^/]+)$/.exec(name);
  return m?.[1];
}

export function successful(p: z.infer<typeof GcpAuditLog>): boolean {
  return !p.status?.code;
}

export const GcpAuditLogEntry = z
  .looseObject({
    insertId: OptString,
    logName: OptString,
    timestamp: z.string().refine((s) => gcpTimeMs(s) !== undefined, 'timestamp must be a parseable time'),
    receiveTimestamp: OptString,
    severity: OptString,
    resource: z.looseObject({ type: OptString, labels: Obj.nullish() }).nullish(),
    protoPayload: GcpAuditLog,
  })
  .superRefine((e, ctx) => {
    const p = e.protoPayload;
    // Exporters rename `@type` (at_sign_type); whichever is present must say AuditLog.
    const type = p['@type'] ?? (p as Record<string, unknown>).at_sign_type;
    if (typeof type === 'string' && type !== AUDIT_LOG_TYPE) {
      ctx.addIssue({ code: 'custom', path: ['protoPayload', '@type'], message: `not an audit log payload (${type.slice(0, 80)})` });
    }
    if (!successful(p)) return;
    const method = shortMethod(p.methodName);
    if (p.serviceName === 'iamcredentials.googleapis.com' && IAMCREDENTIALS_MINTS.has(method)) {
      if (!p.resourceName && typeof p.request?.name !== 'string') {
        ctx.addIssue({ code: 'custom', path: ['protoPayload', 'resourceName'], message: `required for a successful ${method} (names the target service account)` });
      }
    } else if (p.serviceName === 'iam.googleapis.com' && method === 'CreateServiceAccountKey') {
      if (!keyIdOf(p.response?.name) && !keyIdOf(p.resourceName)) {
        ctx.addIssue({ code: 'custom', path: ['protoPayload', 'response', 'name'], message: 'required for a successful CreateServiceAccountKey (names the new key)' });
      }
    } else if (p.serviceName === 'iam.googleapis.com' && KEY_REVOKES.has(method)) {
      if (!keyIdOf(p.resourceName) && !keyIdOf(p.request?.name)) {
        ctx.addIssue({ code: 'custom', path: ['protoPayload', 'resourceName'], message: `required for a successful ${method} (names the key)` });
      }
    }
  });
export type GcpAuditLogEntry = z.infer<typeof GcpAuditLogEntry>;
