/**
 * AWS CloudTrail → token events.
 *  - every call signed with `userIdentity.accessKeyId` is a `use` of that key;
 *  - STS AssumeRole* / GetSessionToken / GetFederationToken mint temporary credentials
 *    (`responseElements.credentials.accessKeyId`); IAM CreateAccessKey mints a long-term key;
 *  - IAM DeleteAccessKey and UpdateAccessKey Status=Inactive revoke one.
 *  - IAM AttachUserPolicy of AWSCompromisedKeyQuarantine[V2|V3] (AWS's own "this user's key leaked"
 *    response) is a reuse_signal for that user's credentials: the record names no key id, so the
 *    signal is keyed by the user (fingerprint of the user ARN, namespace `aws:iam_user`) and carries
 *    issuer = the user ARN, which every use of the user's keys also carries;
 *  - AssumeRoleWithWebIdentity from a CI OIDC provider binds the session to the CI workload
 *    (GitHub Actions: `repo:<org>/<repo>:ref:…|environment:…` → workload id `<org>/<repo>:ref:…`).
 * One record can yield a use (the caller's key) and a mint/revoke/signal (the key it is about).
 * Records without a credential (service events, `userIdentity` without a key, console sign-ins)
 * normalize to []. `credentials.sessionToken` is never read. The mapping is shared with the
 * Security Lake (OCSF) normalizer through cloudTrailTokenEvents().
 */
import { isIP } from 'node:net';
import { CloudTrailRecord, QUARANTINE_POLICY_RE, STS_MINT_EVENTS, cloudtrailTimeMs } from '../../schemas/vendors/cloudtrail.js';
import { TokenwatchError } from '../core/errors.js';
import { fingerprintIdentifier } from '../core/fingerprint.js';
import { sha256Hex } from '../core/hash.js';
import { parseTime } from '../core/time.js';
import type { SourceFormat, TokenEvent, TokenKind } from '../../schemas/token-event.js';
import type { NormalizeContext, VendorFormat } from './types.js';

const STS = 'sts.amazonaws.com';
const IAM = 'iam.amazonaws.com';
/** Prefixes AWS documents for access key ids; only these are safe and useful as a hint. */
const KEY_PREFIXES = new Set(['AKIA', 'ASIA', 'ABIA', 'ACCA']);
/** EC2 instance-profile sessions are named after the instance id. */
const EC2_INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** OIDC providers whose web-identity subject names a CI run (repo, branch, pipeline). */
const CI_OIDC_PROVIDERS = ['token.actions.githubusercontent.com', 'gitlab.com', 'oidc.circleci.com', 'app.terraform.io', 'api.bitbucket.org'];
const GITHUB_ACTIONS_OIDC = 'token.actions.githubusercontent.com';
/** Namespace of the per-user fingerprint a quarantine signal is keyed by (no key id is in the record). */
export const AWS_IAM_USER_NAMESPACE = 'aws:iam_user';
/** Namespace of AWS access key ids: CloudTrail, Security Lake and GuardDuty share it. */
export const AWS_KEY_NAMESPACE = 'aws';

/** A CI run's workload id from its OIDC subject: GitHub's `repo:<org>/<repo>:<context>` → `<org>/<repo>:<context>`. */
export function ciWorkloadId(provider: string, subject: string): string {
  const id = provider.includes(GITHUB_ACTIONS_OIDC) && subject.startsWith('repo:') ? subject.slice(5) : subject;
  return id.slice(0, 256);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const cap = (v: string | undefined, n: number): string | undefined => (v === undefined ? undefined : v.slice(0, n));

export function keyKind(keyId: string, fallback: TokenKind): TokenKind {
  if (keyId.startsWith('ASIA')) return 'sts_session';
  if (keyId.startsWith('AKIA')) return 'aws_access_key';
  return fallback;
}

export function keyHint(keyId: string): string | undefined {
  const p = keyId.slice(0, 4);
  return KEY_PREFIXES.has(p) ? p : undefined;
}

/** Session name = the part of an assumed-role arn after its last `/`. */
function sessionName(arn: string | null | undefined): string | undefined {
  if (!arn || !arn.includes(':assumed-role/')) return undefined;
  return str(arn.slice(arn.lastIndexOf('/') + 1));
}

function network(rec: CloudTrailView): TokenEvent['network'] {
  const src = rec.sourceIPAddress;
  // sourceIPAddress is an IP for direct calls, a service principal ("ec2.amazonaws.com",
  // "AWS Internal") when a service called on the principal's behalf.
  if (src && isIP(src)) return { ip: src, ...(rec.vpcEndpointId ? { label: cap(rec.vpcEndpointId, 128) } : {}) };
  const label = str(src) ?? str(rec.vpcEndpointId);
  return label ? { label: cap(label, 128) } : undefined;
}

/** Who made the call, as one stable string. */
function callerPrincipal(ui: UserIdentity): string | undefined {
  return str(ui.arn) ?? str(ui.principalId) ?? str(ui.invokedBy) ?? str(ui.userName);
}

/** The role / IAM user that holds the caller's key: the session issuer for role sessions. */
function callerIssuer(ui: UserIdentity): string | undefined {
  return str(ui.sessionContext?.sessionIssuer?.arn) ?? roleArnOfSession(ui.arn) ?? str(ui.arn) ?? str(ui.userName) ?? str(ui.principalId);
}

/**
 * `arn:aws:sts::<acct>:assumed-role/<role>/<session>` → `arn:aws:iam::<acct>:role/<role>`, for
 * records without a sessionIssuer: a per-session arn would make every session a new issuer.
 */
function roleArnOfSession(arn: string | null | undefined): string | undefined {
  const m = arn ? /^arn:(aws[\w-]*):sts::(\d*):assumed-role\/([^/]+)\/[^/]+$/.exec(arn) : null;
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : undefined;
}

function callerWorkload(ui: UserIdentity): TokenEvent['workload'] {
  const name = sessionName(ui.arn);
  return name && EC2_INSTANCE_ID.test(name) ? { kind: 'ec2_instance', id: name } : undefined;
}

/** IAM user arn for a key owner named in an IAM request (no userName → the caller's own key). */
function iamUserArn(rec: Pick<CloudTrailRecord, 'recipientAccountId'>, ui: UserIdentity, userName: string | undefined): string | undefined {
  if (!userName || userName === ui.userName) return str(ui.arn) ?? userName;
  // IAM user paths are not in the record; a path-less arn matches the common case.
  const account = str(rec.recipientAccountId) ?? str(ui.accountId);
  return account ? `arn:aws:iam::${account}:user/${userName}` : userName;
}

export type UserIdentity = NonNullable<CloudTrailRecord['userIdentity']>;

/** The members of a CloudTrail record the mapping reads, besides time and userIdentity. */
export interface CloudTrailView {
  eventSource: string;
  eventName: string;
  eventType?: string | null | undefined;
  sourceIPAddress?: string | null | undefined;
  userAgent?: string | null | undefined;
  errorCode?: string | null | undefined;
  requestParameters?: Record<string, unknown> | null | undefined;
  responseElements?: Record<string, unknown> | null | undefined;
  recipientAccountId?: string | null | undefined;
  vpcEndpointId?: string | null | undefined;
}

function baseEventId(rec: CloudTrailRecord): string {
  const id = str(rec.eventID);
  // eventID is always present in trail output; a record without one gets a content hash. The hash is
  // of the schema's output (its key order), whether decode handed over the raw record or zod's copy.
  return id && id.length <= 200 ? id : `h${sha256Hex(JSON.stringify(CloudTrailRecord.parse(rec)))}`;
}

export function normalizeCloudTrail(rec: CloudTrailRecord, ctx: NormalizeContext): TokenEvent[] {
  // Console sign-ins carry no access key; a service event without userIdentity names no caller.
  if (rec.eventName === 'ConsoleLogin' || rec.eventType === 'AwsConsoleSignIn' || rec.userIdentity === undefined) return [];
  const time = cloudtrailTimeMs(rec.eventTime);
  if (time === undefined) throw new TokenwatchError('normalize_failed', 'cloudtrail: eventTime did not parse');
  const out = cloudTrailTokenEvents(rec, rec.userIdentity, time, ctx, 'cloudtrail');
  if (out.length > 0) setEventIds(out, `cloudtrail:${baseEventId(rec)}`);
  return out;
}

/** `<base>` for a record's only event, `<base>:<action>` for each of several. */
export function setEventIds(out: TokenEvent[], base: string): void {
  for (const e of out) e.event_id = out.length > 1 ? `${base}:${e.action}` : base;
}

/**
 * The token events of one CloudTrail record (or of the CloudTrail record a Security Lake OCSF
 * record renders), event ids left empty for the caller. `time` is the record's event time in ms.
 */
export function cloudTrailTokenEvents(
  rec: CloudTrailView,
  ui: UserIdentity,
  time: number,
  ctx: NormalizeContext,
  source: Extract<SourceFormat, 'cloudtrail' | 'security_lake'>,
): TokenEvent[] {
  if (rec.eventName === 'ConsoleLogin' || rec.eventType === 'AwsConsoleSignIn') return [];
  const failed = Boolean(rec.errorCode);
  const common: Common = {
    source,
    time,
    service: cap(rec.eventSource, 512),
    operation: cap(rec.eventName, 256),
    network: network(rec),
    user_agent: cap(str(rec.userAgent), 1024),
    outcome: failed ? 'failure' : 'success',
  };
  const out: TokenEvent[] = [];

  const callerKey = str(ui.accessKeyId);
  const callerFp = callerKey ? fingerprintIdentifier(ctx.fingerprint, AWS_KEY_NAMESPACE, callerKey) : undefined;
  if (callerKey && callerFp) {
    const name = sessionName(ui.arn);
    const e = startEvent(common, 'use', tokenOf(callerFp, keyKind(callerKey, 'unknown'), keyHint(callerKey)));
    const issuer = cap(callerIssuer(ui), 512);
    if (issuer !== undefined) e.issuer = issuer;
    const subject = cap(name, 512);
    if (subject !== undefined) e.subject = subject;
    const workload = callerWorkload(ui);
    if (workload !== undefined) e.workload = workload;
    out.push(e);
  }

  const req = rec.requestParameters ?? {};
  const resp = rec.responseElements ?? {};
  if (!failed && rec.eventSource === STS && STS_MINT_EVENTS.has(rec.eventName)) {
    const creds = resp.credentials as { accessKeyId: string; expiration: string } | undefined;
    if (!creds) throw new TokenwatchError('normalize_failed', `cloudtrail: ${rec.eventName} without credentials`);
    const assumedRoleArn = str((resp.assumedRoleUser as Record<string, unknown> | undefined)?.arn);
    let issuer: string | undefined;
    let subject: string | undefined;
    let workload: TokenEvent['workload'];
    let audience: string[] | undefined;
    switch (rec.eventName) {
      case 'GetSessionToken':
        // The session belongs to the calling IAM user.
        issuer = callerIssuer(ui);
        break;
      case 'GetFederationToken':
        // Federated-user sessions report the calling IAM user as their sessionIssuer; keep
        // mint and use issuers equal, and name the federated user as the subject.
        issuer = callerIssuer(ui);
        subject = str(req.name);
        break;
      default: {
        issuer = str(req.roleArn);
        subject = str(req.roleSessionName) ?? str(resp.subject) ?? sessionName(assumedRoleArn);
        const aud = str(resp.audience);
        if (aud) audience = [aud.slice(0, 512)];
        const provider = str(resp.provider) ?? str(ui.identityProvider) ?? '';
        const webSubject = str(resp.subjectFromWebIdentityToken);
        if (rec.eventName === 'AssumeRoleWithWebIdentity' && webSubject && CI_OIDC_PROVIDERS.some((p) => provider.includes(p))) {
          // The CI run is the end subject; uses of the session only name the role session.
          workload = { kind: 'ci_oidc', id: ciWorkloadId(provider, webSubject) };
          subject = webSubject;
        } else if (subject && EC2_INSTANCE_ID.test(subject)) {
          workload = { kind: 'ec2_instance', id: subject };
        }
      }
    }
    const e = startEvent(common, 'mint', tokenOf(fingerprintIdentifier(ctx.fingerprint, AWS_KEY_NAMESPACE, creds.accessKeyId), keyKind(creds.accessKeyId, 'sts_session'), keyHint(creds.accessKeyId)));
    if (callerFp !== undefined) e.parent_fp = callerFp;
    issuer = cap(issuer, 512);
    if (issuer !== undefined) e.issuer = issuer;
    const mintedBy = cap(callerPrincipal(ui), 512);
    if (mintedBy !== undefined) e.minted_by = mintedBy;
    e.authority = STS;
    subject = cap(subject, 512);
    if (subject !== undefined) e.subject = subject;
    if (audience !== undefined) e.audience = audience;
    if (workload !== undefined) e.workload = workload;
    e.issued_at = time;
    const expiresAt = parseTime(creds.expiration);
    if (expiresAt !== undefined) e.expires_at = expiresAt;
    out.push(e);
  } else if (!failed && rec.eventSource === IAM && rec.eventName === 'CreateAccessKey') {
    const key = resp.accessKey as { accessKeyId: string; userName?: string };
    const e = startEvent(common, 'mint', tokenOf(fingerprintIdentifier(ctx.fingerprint, AWS_KEY_NAMESPACE, key.accessKeyId), keyKind(key.accessKeyId, 'aws_access_key'), keyHint(key.accessKeyId)));
    if (callerFp !== undefined) e.parent_fp = callerFp;
    const issuer = cap(iamUserArn(rec, ui, str(key.userName) ?? str(req.userName)), 512);
    if (issuer !== undefined) e.issuer = issuer;
    const mintedBy = cap(callerPrincipal(ui), 512);
    if (mintedBy !== undefined) e.minted_by = mintedBy;
    e.authority = IAM;
    e.issued_at = time;
    out.push(e);
  } else if (
    !failed &&
    rec.eventSource === IAM &&
    (rec.eventName === 'DeleteAccessKey' || (rec.eventName === 'UpdateAccessKey' && req.status === 'Inactive'))
  ) {
    const keyId = req.accessKeyId as string;
    const e = startEvent(common, 'revoke', tokenOf(fingerprintIdentifier(ctx.fingerprint, AWS_KEY_NAMESPACE, keyId), keyKind(keyId, 'aws_access_key'), keyHint(keyId)));
    const issuer = cap(iamUserArn(rec, ui, str(req.userName)), 512);
    if (issuer !== undefined) e.issuer = issuer;
    const mintedBy = cap(callerPrincipal(ui), 512);
    if (mintedBy !== undefined) e.minted_by = mintedBy;
    e.authority = IAM;
    out.push(e);
  } else if (!failed && rec.eventSource === IAM && rec.eventName === 'AttachUserPolicy') {
    const policy = typeof req.policyArn === 'string' ? QUARANTINE_POLICY_RE.exec(req.policyArn) : null;
    const userArn = policy ? cap(iamUserArn(rec, ui, str(req.userName)), 512) : undefined;
    if (policy && userArn) {
      const e = startEvent(common, 'reuse_signal', tokenOf(fingerprintIdentifier(ctx.fingerprint, AWS_IAM_USER_NAMESPACE, userArn), 'aws_access_key', undefined));
      e.issuer = userArn;
      e.authority = IAM;
      e.signal = policy[1]!;
      out.push(e);
    }
  }
  return out;
}

/** What every event of one record shares. */
interface Common {
  source: 'cloudtrail' | 'security_lake';
  time: number;
  service: string | undefined;
  operation: string | undefined;
  network: TokenEvent['network'];
  user_agent: string | undefined;
  outcome: 'success' | 'failure';
}

/**
 * A new event holding only defined members, in the canonical order: event_id (set once all of a
 * record's events are known), the record's common members, action, token; the caller appends
 * the rest. Member by member rather than spreads and deletes: both are slow, and a deleted
 * property leaves a dictionary-mode object behind for every detector.
 */
function startEvent(c: Common, action: TokenEvent['action'], token: TokenEvent['token']): TokenEvent {
  const e = { event_id: '', source: c.source, platform: 'aws', time: c.time } as TokenEvent;
  if (c.service !== undefined) e.service = c.service;
  if (c.operation !== undefined) e.operation = c.operation;
  if (c.network !== undefined) e.network = c.network;
  if (c.user_agent !== undefined) e.user_agent = c.user_agent;
  e.outcome = c.outcome;
  e.action = action;
  e.token = token;
  return e;
}

function tokenOf(fp: string, kind: TokenKind, hint: string | undefined): TokenEvent['token'] {
  const token: TokenEvent['token'] = { fp, kind };
  if (hint) token.hint = hint;
  return token;
}

export const cloudtrail: VendorFormat<CloudTrailRecord> = {
  id: 'cloudtrail',
  platform: 'aws',
  description: 'AWS CloudTrail records: STS/IAM key mints and revocations, and every call signed with an access key',
  detect: (raw) =>
    typeof raw.eventSource === 'string' &&
    typeof raw.eventName === 'string' &&
    ('eventVersion' in raw || 'userIdentity' in raw),
  schema: CloudTrailRecord,
  normalize: normalizeCloudTrail,
};
