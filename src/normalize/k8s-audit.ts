/**
 * Kubernetes audit events → token events.
 *  - a request authenticated as a service account (`system:serviceaccount:<ns>:<name>`) is a use
 *    of a k8s_sa_token;
 *  - a TokenRequest (create serviceaccounts/token) mints one.
 * Only the final stage (ResponseComplete, or Panic) is mapped, so a request logged at several
 * stages counts once.
 */
import { isIP } from 'node:net';
import { K8sAuditEvent, k8sTimeMs } from '../../schemas/vendors/k8s-audit.js';
import { TokenwatchError } from '../core/errors.js';
import { decodeJwtClaims } from '../core/jwt.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { NormalizeContext, VendorFormat } from './types.js';
import { compact } from './bearer.js';

const SA_PREFIX = 'system:serviceaccount:';
const EXTRA_CREDENTIAL_ID = 'authentication.kubernetes.io/credential-id';
const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
const FINAL_STAGES = new Set(['ResponseComplete', 'Panic']);

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const cap = (v: string | undefined, n: number): string | undefined => (v === undefined ? undefined : v.slice(0, n));
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * The audit log never contains the bearer token of a request, so the token's identity is the
 * best stable stand-in the authenticator records:
 *  1. `credential-id` ("JTI=<jti>", Kubernetes ≥1.29): the token's own unique id;
 *  2. pod name + service account: a bound token is tied to one pod, and the kubelet's periodic
 *     refreshes of it are one credential for detection purposes;
 *  3. the service account alone: a legacy secret-based token (no pod binding, no JTI).
 */
function useTokenIdentity(username: string, extra: Record<string, string[]> | undefined): string {
  const credentialId = extra?.[EXTRA_CREDENTIAL_ID]?.[0];
  if (credentialId?.startsWith('JTI=')) return credentialId;
  const pod = extra?.[EXTRA_POD_NAME]?.[0];
  return pod ? `${username}|pod:${pod}` : `${username}|legacy`;
}

function operationOf(ev: K8sAuditEvent): string {
  const ref = ev.objectRef;
  if (ref?.resource) return `${ev.verb} ${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}`;
  // Non-resource requests (/healthz, /apis): the path without its query string.
  const path = ev.requestURI ? ev.requestURI.split('?')[0] : undefined;
  return path ? `${ev.verb} ${path}` : ev.verb;
}

export function normalizeK8sAudit(ev: K8sAuditEvent, ctx: NormalizeContext): TokenEvent[] {
  if (!FINAL_STAGES.has(ev.stage)) return [];
  const time = k8sTimeMs(ev.requestReceivedTimestamp);
  if (time === undefined) throw new TokenwatchError('normalize_failed', 'k8s_audit: requestReceivedTimestamp did not parse');
  const code = ev.responseStatus?.code ?? undefined;
  const failed = ev.stage === 'Panic' || (code !== undefined && code >= 400);
  const ip = ev.sourceIPs?.[0];
  const common = {
    source: 'k8s_audit' as const,
    platform: 'k8s' as const,
    time,
    service: 'kubernetes',
    operation: cap(operationOf(ev), 256),
    network: ip && isIP(ip) ? { ip } : undefined,
    user_agent: cap(str(ev.userAgent), 1024),
    outcome: failed ? ('failure' as const) : ('success' as const),
  };
  const out: Omit<TokenEvent, 'event_id'>[] = [];
  const user = ev.user;
  const extra = user.extra ?? undefined;

  let callerFp: string | undefined;
  if (user.username.startsWith(SA_PREFIX)) {
    callerFp = ctx.fingerprint('k8s_sa_token', useTokenIdentity(user.username, extra));
    const pod = extra?.[EXTRA_POD_NAME]?.[0];
    out.push({
      ...common,
      action: 'use',
      token: { fp: callerFp, kind: 'k8s_sa_token' },
      issuer: cap(user.username, 512),
      workload: pod ? { kind: 'k8s_pod', id: pod.slice(0, 256) } : undefined,
    });
  }

  const ref = ev.objectRef;
  if (!failed && ev.verb === 'create' && ref?.resource === 'serviceaccounts' && ref.subresource === 'token' && ref.namespace && ref.name) {
    const issuer = `${SA_PREFIX}${ref.namespace}:${ref.name}`;
    const spec = obj(ev.requestObject?.spec);
    const status = obj(ev.responseObject?.status);
    const bound = obj(spec?.boundObjectRef);
    const boundPod = bound?.kind === 'Pod' ? str(bound.name) : undefined;
    // At the RequestResponse level the response holds the token: read its jti/iss/aud/exp claims
    // and drop it. Only the jti (as the credential-id form the authenticator later reports) is
    // fingerprinted, never the token.
    const token = str(status?.token);
    const claims = token ? decodeJwtClaims(token) : undefined;
    // Without a jti or a bound pod there is nothing a later use could match; the mint gets an
    // identity of its own from the audit id.
    const identity = claims?.jti ? `JTI=${claims.jti}` : boundPod ? `${issuer}|pod:${boundPod}` : undefined;
    const fp = identity ? ctx.fingerprint('k8s_sa_token', identity) : ctx.fingerprint('k8s_mint', ev.auditID);
    const expSeconds = typeof spec?.expirationSeconds === 'number' ? spec.expirationSeconds : undefined;
    const expiresAt =
      (typeof status?.expirationTimestamp === 'string' ? k8sTimeMs(status.expirationTimestamp) : undefined) ??
      claims?.exp ??
      (expSeconds !== undefined && expSeconds > 0 ? time + expSeconds * 1000 : undefined);
    const audiences = Array.isArray(spec?.audiences)
      ? spec.audiences.filter((a): a is string => typeof a === 'string').slice(0, 64).map((a) => a.slice(0, 512))
      : claims?.aud;
    out.push({
      ...common,
      action: 'mint',
      token: { fp, kind: 'k8s_sa_token' },
      parent_fp: callerFp,
      issuer: cap(issuer, 512),
      minted_by: cap(user.username, 512),
      authority: cap(claims?.iss, 512) ?? 'kubernetes',
      audience: audiences && audiences.length > 0 ? audiences : undefined,
      workload: boundPod ? { kind: 'k8s_pod', id: boundPod.slice(0, 256) } : undefined,
      issued_at: time,
      expires_at: expiresAt,
    });
  }

  const base = `k8s_audit:${ev.auditID.slice(0, 200)}`;
  return out.map((e) => compact({ event_id: out.length > 1 ? `${base}:${e.action}` : base, ...e }));
}

export const k8sAudit: VendorFormat<K8sAuditEvent> = {
  id: 'k8s_audit',
  platform: 'k8s',
  description: 'Kubernetes audit events: service-account token uses and TokenRequest mints',
  detect: (raw) => typeof raw.apiVersion === 'string' && raw.apiVersion.startsWith('audit.k8s.io'),
  schema: K8sAuditEvent,
  normalize: normalizeK8sAudit,
};
