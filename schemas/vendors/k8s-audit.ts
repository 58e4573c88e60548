/**
 * Kubernetes API server audit event (audit.k8s.io/v1 `Event`). Tolerant of request/response
 * bodies and annotations, strict on what the normalizer maps: auditID, stage, verb, the
 * authenticated user and a parseable requestReceivedTimestamp.
 * Field names: https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/#audit-k8s-io-v1-Event
 *
 * At the RequestResponse level a TokenRequest's `responseObject.status.token` holds the raw
 * service-account token and a TokenReview's `requestObject.spec.token` someone else's: the
 * schema accepts them (they are part of the event) and the normalizer never copies them.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

/** RFC 3339 (micro)seconds; a zone-less `YYYY-MM-DD HH:MM:SS[.f]` (data-lake re-exports) is UTC. */
export function k8sTimeMs(v: string): number | undefined {
  return parseTime(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(v) ? v.replace(' ', 'T') : v);
}

const OptString = z.string().nullish();
const Time = z.string().refine((s) => k8sTimeMs(s) !== undefined, 'must be a parseable RFC 3339 time');

export const K8sUserInfo = z.looseObject({
  username: z.string().min(1),
  uid: OptString,
  groups: z.array(z.string()).nullish(),
  /** Authenticator-supplied attributes: pod name/uid, node name, credential id (JTI=…) for SA tokens. */
  extra: z.record(z.string(), z.array(z.string())).nullish(),
});

export const K8sObjectRef = z.looseObject({
  resource: OptString,
  namespace: OptString,
  name: OptString,
  uid: OptString,
  apiGroup: OptString,
  apiVersion: OptString,
  subresource: OptString,
});

export const K8sAuditEvent = z.looseObject({
  apiVersion: z.string().startsWith('audit.k8s.io/', 'apiVersion must be audit.k8s.io/*'),
  kind: z.literal('Event'),
  level: OptString,
  auditID: z.string().min(1),
  stage: z.string().min(1),
  requestURI: OptString,
  verb: z.string().min(1),
  user: K8sUserInfo,
  impersonatedUser: K8sUserInfo.nullish(),
  sourceIPs: z.array(z.string()).nullish(),
  userAgent: OptString,
  objectRef: K8sObjectRef.nullish(),
  responseStatus: z.looseObject({ code: z.number().int().nullish(), reason: OptString }).nullish(),
  requestObject: z.record(z.string(), z.unknown()).nullish(),
  responseObject: z.record(z.string(), z.unknown()).nullish(),
  requestReceivedTimestamp: Time,
  stageTimestamp: Time.nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
});
export type K8sAuditEvent = z.infer<typeof K8sAuditEvent>;
