/**
 * AWS CloudTrail record (one element of a trail file's `Records` array; the file source splits
 * the wrapper). Tolerant of the hundreds of service-specific fields, strict on what the
 * normalizer maps: a parseable event time, eventSource/eventName, a userIdentity, and — for the
 * events that mint or revoke a key — the key ids and expiry those events must carry.
 * Field names: https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

/**
 * Event time in epoch ms. A zone-less `YYYY-MM-DD HH:MM:SS[.f]` (how log pipelines and data
 * lakes re-export CloudTrail's ISO time) is UTC, never local time.
 */
export function cloudtrailTimeMs(v: string): number | undefined {
  // The schema's refinement and then the normalizer parse the same eventTime back to back.
  if (v === lastTime.text) return lastTime.ms;
  const ms = parseTime(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(v) ? v.replace(' ', 'T') : v);
  lastTime.text = v;
  lastTime.ms = ms;
  return ms;
}
const lastTime: { text?: string; ms?: number } = {};

const EventTime = z.string().refine((s) => cloudtrailTimeMs(s) !== undefined, 'eventTime must be a parseable timestamp');

/** AWS AccessKeyId constraint (IAM/STS API reference): 16–128 word characters. */
export const ACCESS_KEY_ID_RE = /^\w{16,128}$/;
export const KEY_ID_MESSAGE = 'must be an AWS access key id (16-128 word characters); redacted or placeholder ids are rejected';
const AccessKeyId = z.string().regex(ACCESS_KEY_ID_RE, KEY_ID_MESSAGE);
/** `userIdentity.accessKeyId` is absent or "" for service-invoked and console calls. */
const CallerAccessKeyId = z.string().refine((s) => s === '' || ACCESS_KEY_ID_RE.test(s), KEY_ID_MESSAGE);

/** Informational strings: absent, null (some exporters write null) or a string. */
const OptString = z.string().nullish();

export const CloudTrailSessionIssuer = z.looseObject({
  type: OptString,
  principalId: OptString,
  arn: OptString,
  accountId: OptString,
  userName: OptString,
});

/**
 * `type` is absent for some service-generated records (`{"accountId": …, "invokedBy": …}`): such a
 * record names no credential and normalizes to nothing, it is not a schema violation.
 */
export const CloudTrailUserIdentity = z.looseObject({
  type: OptString,
  principalId: OptString,
  arn: OptString,
  accountId: OptString,
  accessKeyId: CallerAccessKeyId.optional(),
  userName: OptString,
  invokedBy: OptString,
  identityProvider: OptString,
  sessionContext: z
    .looseObject({
      sessionIssuer: CloudTrailSessionIssuer.optional(),
      webIdFederationData: z.looseObject({ federatedProvider: OptString }).optional(),
      sourceIdentity: OptString,
    })
    .optional(),
});

/** STS `responseElements.credentials`. `sessionToken` is accepted (it is in the record) but never read. */
export const StsCredentials = z.looseObject({
  accessKeyId: AccessKeyId,
  expiration: z.string().refine((s) => parseTime(s) !== undefined, 'credentials.expiration must be a parseable time'),
  sessionToken: OptString,
});

/** The STS calls that issue temporary credentials. */
export const STS_MINT_EVENTS = new Set([
  'AssumeRole',
  'AssumeRoleWithWebIdentity',
  'AssumeRoleWithSAML',
  'GetSessionToken',
  'GetFederationToken',
]);

const Obj = z.record(z.string(), z.unknown());
const RoleArn = z.string().min(1);
const CreatedAccessKey = z.looseObject({ accessKeyId: AccessKeyId, userName: OptString });
const QuarantinedUserName = z.string().min(1);

/**
 * AWS managed policies AWS (or a responder) attaches to an IAM user whose access key was found
 * exposed (public repository, paste site): AWSCompromisedKeyQuarantine, …V2, …V3.
 */
export const QUARANTINE_POLICY_RE = /^arn:aws[\w-]*:iam::aws:policy\/(AWSCompromisedKeyQuarantine(?:V\d+)?)$/;

/** One issue of a record's credential-carrying members, with its path inside the CloudTrail record. */
export interface CredentialIssue {
  path: (string | number)[];
  message: string;
}

/** The members of a CloudTrail record (or of its OCSF rendering) that decide which credential it is about. */
export interface CredentialFields {
  eventSource: string;
  eventName: string;
  errorCode?: string | null | undefined;
  requestParameters?: Record<string, unknown> | null | undefined;
  responseElements?: Record<string, unknown> | null | undefined;
}

/**
 * A successful mint/revoke/quarantine record must carry the key (or user) it is about; otherwise
 * it is partial. Shared with the Security Lake schema, which maps the paths back to OCSF.
 */
export function credentialIssues(rec: CredentialFields): CredentialIssue[] {
  const out: CredentialIssue[] = [];
  if (rec.errorCode) return out;
  const need = (path: (string | number)[], schema: z.ZodType, value: unknown): void => {
    const r = schema.safeParse(value);
    if (r.success) return;
    for (const issue of r.error.issues) {
      out.push({ path: [...path, ...issue.path.map((p) => p as string | number)], message: `${issue.message} (required for a successful ${rec.eventName})` });
    }
  };
  const req = rec.requestParameters;
  if (rec.eventSource === 'sts.amazonaws.com' && STS_MINT_EVENTS.has(rec.eventName)) {
    need(['responseElements', 'credentials'], StsCredentials, rec.responseElements?.credentials);
    if (rec.eventName === 'AssumeRole' || rec.eventName === 'AssumeRoleWithWebIdentity' || rec.eventName === 'AssumeRoleWithSAML') {
      need(['requestParameters', 'roleArn'], RoleArn, req?.roleArn);
    }
  } else if (rec.eventSource === 'iam.amazonaws.com' && rec.eventName === 'CreateAccessKey') {
    need(['responseElements', 'accessKey'], CreatedAccessKey, rec.responseElements?.accessKey);
  } else if (rec.eventSource === 'iam.amazonaws.com' && (rec.eventName === 'DeleteAccessKey' || rec.eventName === 'UpdateAccessKey')) {
    need(['requestParameters', 'accessKeyId'], AccessKeyId, req?.accessKeyId);
  } else if (rec.eventSource === 'iam.amazonaws.com' && rec.eventName === 'AttachUserPolicy' && typeof req?.policyArn === 'string' && QUARANTINE_POLICY_RE.test(req.policyArn)) {
    need(['requestParameters', 'userName'], QuarantinedUserName, req.userName);
  }
  return out;
}

export const CloudTrailRecord = z
  .looseObject({
    eventVersion: OptString,
    eventTime: EventTime,
    eventSource: z.string().min(1),
    eventName: z.string().min(1),
    eventID: z.string().min(1).optional(),
    eventType: OptString,
    awsRegion: OptString,
    userIdentity: CloudTrailUserIdentity.optional(),
    sourceIPAddress: OptString,
    userAgent: OptString,
    errorCode: OptString,
    errorMessage: OptString,
    requestParameters: Obj.nullish(),
    responseElements: Obj.nullish(),
    recipientAccountId: OptString,
    vpcEndpointId: OptString,
  })
  .superRefine((rec, ctx) => {
    // Only a service event (AwsServiceEvent: AWS acting on its own, no caller credential) may lack userIdentity.
    if (rec.userIdentity === undefined && rec.eventType !== 'AwsServiceEvent') {
      ctx.addIssue({ code: 'custom', path: ['userIdentity'], message: 'userIdentity is required (only an AwsServiceEvent record may omit it)' });
    }
    for (const issue of credentialIssues(rec)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });
export type CloudTrailRecord = z.infer<typeof CloudTrailRecord>;
