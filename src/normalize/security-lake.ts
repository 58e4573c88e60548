/**
 * AWS Security Lake (OCSF) records of CloudTrail → the token events the cloudtrail normalizer
 * produces for the CloudTrail record they render: each record is mapped back to that record's
 * members (schemas/vendors/security-lake.ts lists the mapping) and goes through the same
 * cloudTrailTokenEvents(). Key ids use the same fingerprint namespace, so a key seen in CloudTrail
 * and in Security Lake is one token. Event ids are `security_lake:<metadata.uid>` (= CloudTrail's
 * eventID); a pipeline that reads both copies of one call sees two events.
 */
import { SecurityLakeRecord, jsonData, ocsfErrorCode, SECURITY_LAKE_CLASSES } from '../../schemas/vendors/security-lake.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { sha256Hex } from '../core/hash.js';
import { cloudTrailTokenEvents, setEventIds } from './cloudtrail.js';
import type { CloudTrailView, UserIdentity } from './cloudtrail.js';
import type { NormalizeContext, VendorFormat } from './types.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const objectData = (v: unknown): Record<string, unknown> | undefined => {
  const d = jsonData(v);
  return typeof d === 'object' ? d : undefined;
};

/** The CloudTrail userIdentity an OCSF actor renders (v2 names first, then v1's). */
function userIdentityOf(actor: NonNullable<SecurityLakeRecord['actor']>): UserIdentity {
  const user = actor.user ?? undefined;
  const session = actor.session ?? undefined;
  const uid = str(user?.uid);
  const arn = uid?.startsWith('arn:') ? uid : str(user?.uuid)?.startsWith('arn:') ? str(user?.uuid) : undefined;
  const ui: UserIdentity = {
    type: str(user?.type),
    principalId: str(user?.uid_alt) ?? (uid !== arn ? uid : undefined),
    arn,
    accountId: str(user?.account?.uid) ?? str(user?.account_uid),
    accessKeyId: str(user?.credential_uid) ?? str(session?.credential_uid),
    userName: str(user?.name),
    invokedBy: str(actor.invoked_by),
    identityProvider: str(actor.idp?.name),
  };
  const issuer = str(session?.issuer);
  if (issuer) ui.sessionContext = { sessionIssuer: { arn: issuer } };
  return ui;
}

export function cloudTrailViewOf(rec: SecurityLakeRecord): CloudTrailView {
  return {
    eventSource: rec.api.service.name,
    eventName: rec.api.operation,
    eventType: str(rec.metadata.event_code),
    sourceIPAddress: str(rec.src_endpoint?.ip) ?? str(rec.src_endpoint?.domain),
    userAgent: str(rec.http_request?.user_agent),
    errorCode: ocsfErrorCode(rec),
    requestParameters: objectData(rec.api.request?.data),
    responseElements: objectData(rec.api.response?.data),
    recipientAccountId: str(rec.cloud?.account?.uid),
    vpcEndpointId: str(rec.src_endpoint?.uid),
  };
}

export function normalizeSecurityLake(rec: SecurityLakeRecord, ctx: NormalizeContext): TokenEvent[] {
  if (!rec.actor) return []; // a service event: no caller credential
  const out = cloudTrailTokenEvents(cloudTrailViewOf(rec), userIdentityOf(rec.actor), rec.time, ctx, 'security_lake');
  if (out.length > 0) {
    const uid = str(rec.metadata.uid);
    setEventIds(out, `security_lake:${uid && uid.length <= 200 ? uid : `h${sha256Hex(JSON.stringify(rec))}`}`);
  }
  return out;
}

export const securityLake: VendorFormat<SecurityLakeRecord> = {
  id: 'security_lake',
  platform: 'aws',
  description: 'AWS Security Lake OCSF records of CloudTrail (API Activity 6003, Authentication 3002, Account Change 3001; v1 API Activity 3005)',
  detect(raw) {
    if (typeof raw.class_uid !== 'number' || !SECURITY_LAKE_CLASSES.has(raw.class_uid) || !isRecord(raw.api)) return false;
    const product = isRecord(raw.metadata) ? raw.metadata.product : undefined;
    return isRecord(product) && typeof product.name === 'string' && product.name.toLowerCase() === 'cloudtrail';
  },
  schema: SecurityLakeRecord,
  normalize: normalizeSecurityLake,
};
