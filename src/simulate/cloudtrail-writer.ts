/**
 * Builders for AWS CloudTrail records, one record per event (the objects inside a trail
 * file's `Records` array, not the wrapper), with the fields CloudTrail documents.
 */
import type { Rng } from './prng.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** CloudTrail's second-precision event time: 2026-01-05T00:00:00Z. */
export const ctTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19) + 'Z';

/** STS `credentials.expiration` as CloudTrail writes it: "Jan 5, 2026, 6:00:00 AM" (UTC). */
export function ctExpiration(ms: number): string {
  const d = new Date(ms);
  const h24 = d.getUTCHours();
  const h12 = h24 % 12 === 0 ? 12 : h24 % 12;
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  const ss = String(d.getUTCSeconds()).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}, ${h12}:${mm}:${ss} ${h24 < 12 ? 'AM' : 'PM'}`;
}

export interface AwsRole {
  accountId: string;
  name: string;
  arn: string;
  /** The role's unique id (AROA…). */
  roleId: string;
}

/** A live STS session: what CloudTrail shows as an AssumedRole identity. */
export interface AwsSession {
  role: AwsRole;
  sessionName: string;
  accessKeyId: string;
  createdAt: number;
  expiresAt: number;
  /** EC2 instance-profile sessions carry `ec2RoleDelivery` (IMDSv2 = "2.0"). */
  ec2RoleDelivery?: '1.0' | '2.0';
}

export const sessionArn = (s: AwsSession): string => `arn:aws:sts::${s.role.accountId}:assumed-role/${s.role.name}/${s.sessionName}`;

function sessionIdentity(s: AwsSession, invokedBy?: string): Record<string, unknown> {
  const sessionContext: Record<string, unknown> = {
    sessionIssuer: { type: 'Role', principalId: s.role.roleId, arn: s.role.arn, accountId: s.role.accountId, userName: s.role.name },
    webIdFederationData: {},
    attributes: { creationDate: ctTime(s.createdAt), mfaAuthenticated: 'false' },
  };
  if (s.ec2RoleDelivery) sessionContext.ec2RoleDelivery = s.ec2RoleDelivery;
  const id: Record<string, unknown> = {
    type: 'AssumedRole',
    principalId: `${s.role.roleId}:${s.sessionName}`,
    arn: sessionArn(s),
    accountId: s.role.accountId,
    accessKeyId: s.accessKeyId,
    sessionContext,
  };
  if (invokedBy) id.invokedBy = invokedBy;
  return id;
}

function tlsDetails(host: string): Record<string, unknown> {
  return { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: host };
}

export interface AssumeRoleArgs {
  time: number;
  region: string;
  role: AwsRole;
  sessionName: string;
  newKeyId: string;
  expiresAt: number;
  durationSeconds?: number;
  /** The caller: an AWS service principal (ec2.amazonaws.com) or an existing role session. */
  caller: { service: string } | { session: AwsSession; sourceIp: string; userAgent: string };
}

/** sts:AssumeRole: mints a new session (ASIA…) for `role`. */
export function assumeRoleRecord(rng: Rng, a: AssumeRoleArgs): Record<string, unknown> {
  const byService = 'service' in a.caller;
  const requestParameters: Record<string, unknown> = { roleArn: a.role.arn, roleSessionName: a.sessionName };
  if (a.durationSeconds !== undefined) requestParameters.durationSeconds = a.durationSeconds;
  const assumedRoleId = `${a.role.roleId}:${a.sessionName}`;
  return {
    eventVersion: '1.08',
    userIdentity: 'service' in a.caller ? { type: 'AWSService', invokedBy: a.caller.service } : sessionIdentity(a.caller.session),
    eventTime: ctTime(a.time),
    eventSource: 'sts.amazonaws.com',
    eventName: 'AssumeRole',
    awsRegion: a.region,
    sourceIPAddress: 'service' in a.caller ? a.caller.service : a.caller.sourceIp,
    userAgent: 'service' in a.caller ? a.caller.service : a.caller.userAgent,
    requestParameters,
    responseElements: {
      credentials: {
        accessKeyId: a.newKeyId,
        sessionToken: `IQoJb3JpZ2luX2VjE${rng.b64url(48)}`,
        expiration: ctExpiration(a.expiresAt),
      },
      assumedRoleUser: { assumedRoleId, arn: `arn:aws:sts::${a.role.accountId}:assumed-role/${a.role.name}/${a.sessionName}` },
    },
    requestID: rng.uuid(),
    eventID: rng.uuid(),
    readOnly: true,
    resources: [{ accountId: a.role.accountId, type: 'AWS::IAM::Role', ARN: a.role.arn }],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: a.role.accountId,
    ...(byService ? { sharedEventID: rng.uuid() } : { tlsDetails: tlsDetails(`sts.${a.region}.amazonaws.com`) }),
    eventCategory: 'Management',
  };
}

export interface ApiCallArgs {
  time: number;
  region: string;
  session: AwsSession;
  eventSource: string;
  eventName: string;
  readOnly: boolean;
  /** Data events (S3 object, DynamoDB item, SQS message calls) vs management events. */
  data?: boolean;
  requestParameters?: Record<string, unknown> | null;
  sourceIp: string;
  userAgent: string;
  /** Set when an AWS service made the call on the session's behalf (forward access sessions). */
  invokedBy?: string;
  errorCode?: string;
  /** A call through a VPC endpoint: CloudTrail names it, and sourceIPAddress is the private IP. */
  vpcEndpointId?: string;
}

/** An API call authenticated with a role session's access key. */
export function apiCallRecord(rng: Rng, a: ApiCallArgs): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    eventVersion: a.data ? '1.09' : '1.08',
    userIdentity: sessionIdentity(a.session, a.invokedBy),
    eventTime: ctTime(a.time),
    eventSource: a.eventSource,
    eventName: a.eventName,
    awsRegion: a.region,
    sourceIPAddress: a.sourceIp,
    userAgent: a.userAgent,
    requestParameters: a.requestParameters ?? null,
    responseElements: null,
    requestID: rng.uuid(),
    eventID: rng.uuid(),
    readOnly: a.readOnly,
    eventType: 'AwsApiCall',
    managementEvent: !a.data,
    recipientAccountId: a.session.role.accountId,
    eventCategory: a.data ? 'Data' : 'Management',
  };
  if (a.errorCode) {
    rec.errorCode = a.errorCode;
    rec.errorMessage = `User: ${sessionArn(a.session)} is not authorized to perform this operation`;
  }
  if (!a.invokedBy) rec.tlsDetails = tlsDetails(`${a.eventSource.replace('.amazonaws.com', '')}.${a.region}.amazonaws.com`);
  if (a.vpcEndpointId) rec.vpcEndpointId = a.vpcEndpointId;
  return rec;
}
