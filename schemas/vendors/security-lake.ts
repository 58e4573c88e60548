/**
 * AWS Security Lake records of CloudTrail management events, in OCSF as Security Lake writes them:
 *  - source version 2 (OCSF 1.1): API Activity (class_uid 6003), Authentication (3002: sign-ins and
 *    STS role assumptions), Account Change (3001: IAM user and key changes);
 *  - source version 1 (OCSF 1.0.0-rc.2): API Activity was class 3005, the caller arn was
 *    `actor.user.uuid`, the account `actor.user.account_uid`.
 * Mapping (OCSF examples "Event Dossier: Amazon CloudTrail …", OCSF 1.1.0): userIdentity.accessKeyId →
 * actor.user.credential_uid, .arn → actor.user.uid (v1: uuid), .principalId → actor.user.uid_alt
 * (v1: uid), sessionIssuer.arn → actor.session.issuer, eventSource → api.service.name, eventName →
 * api.operation, requestParameters → api.request.data, responseElements → api.response.data,
 * errorCode → api.response.error, sourceIPAddress → src_endpoint.ip (or .domain for a service
 * principal), vpcEndpointId → src_endpoint.uid, userAgent → http_request.user_agent, eventID →
 * metadata.uid, eventType → metadata.event_code, eventTime → time (epoch ms).
 * `data` is OCSF json_t: an object, or the JSON text of one after a Parquet/Athena export.
 * The same credential rules as CloudTrail apply (schemas/vendors/cloudtrail.ts credentialIssues),
 * with their paths reported in OCSF terms.
 */
import { z } from 'zod';
import { ACCESS_KEY_ID_RE, KEY_ID_MESSAGE, credentialIssues } from './cloudtrail.js';

/** OCSF classes Security Lake writes CloudTrail management events to. */
export const SECURITY_LAKE_CLASSES: ReadonlySet<number> = new Set([6003, 3002, 3001, 3005]);

/** An AWS access key id, or "" for none (CloudTrail's rule for userIdentity.accessKeyId). */
const CredentialUid = z.string().refine((s) => s === '' || ACCESS_KEY_ID_RE.test(s), KEY_ID_MESSAGE);

const OptString = z.string().nullish();
/** json_t: an object, or its JSON text. */
const JsonData = z.union([z.record(z.string(), z.unknown()), z.string()]).nullish();

export const OcsfUser = z.looseObject({
  type: OptString,
  name: OptString,
  uid: OptString,
  uid_alt: OptString,
  uuid: OptString,
  account_uid: OptString,
  account: z.looseObject({ uid: OptString }).nullish(),
  credential_uid: CredentialUid.nullish(),
});

export const OcsfSession = z.looseObject({
  issuer: OptString,
  uid: OptString,
  credential_uid: CredentialUid.nullish(),
});

export const SecurityLakeRecord = z
  .looseObject({
    class_uid: z.number().refine((n) => SECURITY_LAKE_CLASSES.has(n), 'class_uid must be 6003, 3002, 3001 or 3005 (CloudTrail in Security Lake)'),
    /** Event time, epoch milliseconds (OCSF timestamp_t). */
    time: z.number().int().positive(),
    status: OptString,
    status_id: z.number().nullish(),
    metadata: z.looseObject({
      uid: OptString,
      event_code: OptString,
      product: z.looseObject({ name: z.string(), version: OptString }).nullish(),
    }),
    api: z.looseObject({
      operation: z.string().min(1),
      service: z.looseObject({ name: z.string().min(1) }),
      request: z.looseObject({ uid: OptString, data: JsonData }).nullish(),
      response: z.looseObject({ error: OptString, message: OptString, data: JsonData }).nullish(),
    }),
    actor: z
      .looseObject({
        user: OcsfUser.nullish(),
        session: OcsfSession.nullish(),
        invoked_by: OptString,
        idp: z.looseObject({ name: OptString }).nullish(),
      })
      .nullish(),
    src_endpoint: z.looseObject({ ip: OptString, domain: OptString, uid: OptString }).nullish(),
    http_request: z.looseObject({ user_agent: OptString }).nullish(),
    cloud: z.looseObject({ region: OptString, account: z.looseObject({ uid: OptString }).nullish() }).nullish(),
  })
  .superRefine((rec, ctx) => {
    // Only a service event (AWS acting on its own) may lack the actor.
    if (!rec.actor && rec.metadata.event_code !== 'AwsServiceEvent') {
      ctx.addIssue({ code: 'custom', path: ['actor'], message: 'actor is required (only an AwsServiceEvent record may omit it)' });
    }
    const request = jsonData(rec.api.request?.data);
    const response = jsonData(rec.api.response?.data);
    if (request === INVALID) ctx.addIssue({ code: 'custom', path: ['api', 'request', 'data'], message: 'api.request.data must be an object or the JSON text of one' });
    if (response === INVALID) ctx.addIssue({ code: 'custom', path: ['api', 'response', 'data'], message: 'api.response.data must be an object or the JSON text of one' });
    const issues = credentialIssues({
      eventSource: rec.api.service.name,
      eventName: rec.api.operation,
      errorCode: ocsfErrorCode(rec),
      requestParameters: request === INVALID ? undefined : request,
      responseElements: response === INVALID ? undefined : response,
    });
    for (const issue of issues) ctx.addIssue({ code: 'custom', path: ocsfPath(issue.path), message: issue.message });
  });
export type SecurityLakeRecord = z.infer<typeof SecurityLakeRecord>;

const INVALID = Symbol('invalid json data');

/** api.*.data as an object: an object as is, JSON text parsed, absent/empty as undefined. */
export function jsonData(v: unknown): Record<string, unknown> | undefined | typeof INVALID {
  if (v === null || v === undefined || v === '') return undefined;
  if (typeof v === 'object') return Array.isArray(v) ? INVALID : (v as Record<string, unknown>);
  if (typeof v !== 'string') return INVALID;
  try {
    const parsed: unknown = JSON.parse(v);
    if (parsed === null) return undefined;
    return typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : INVALID;
  } catch {
    return INVALID;
  }
}

/** The CloudTrail errorCode: api.response.error, or a bare "Failure" status. */
export function ocsfErrorCode(rec: Pick<SecurityLakeRecord, 'api' | 'status' | 'status_id'>): string | undefined {
  const error = rec.api.response?.error;
  if (typeof error === 'string' && error.length > 0) return error;
  return rec.status_id === 2 || rec.status === 'Failure' ? 'Failure' : undefined;
}

/** A CloudTrail record path → the OCSF member it was rendered to. */
function ocsfPath(path: (string | number)[]): (string | number)[] {
  const [head, ...rest] = path;
  if (head === 'requestParameters') return ['api', 'request', 'data', ...rest];
  if (head === 'responseElements') return ['api', 'response', 'data', ...rest];
  return path;
}
