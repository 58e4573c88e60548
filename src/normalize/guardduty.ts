/**
 * Amazon GuardDuty findings → reuse signals on AWS access keys. GuardDuty's credential findings
 * name the key they are about (`resource.accessKeyDetails.accessKeyId`); the signal is keyed by
 * that key's fingerprint in CloudTrail's namespace, so it lands on the same token as the
 * CloudTrail/Security Lake mints and uses of the key (token_replay raises vendor_reuse_signal).
 *  - UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS | .InsideAWS: EC2
 *    instance credentials used from another account or from outside AWS;
 *  - CredentialAccess:* (e.g. CredentialAccess:IAMUser/AnomalousBehavior).
 * Other finding types, findings without a key, and sample findings (`additionalInfo.sample`)
 * normalize to []. The event time is `updatedAt` (else `createdAt`): GuardDuty re-sends a finding
 * when it updates, so the event id includes it and each update is one signal.
 */
import { GuardDutyEvent, isGuardDutyEnvelope } from '../../schemas/vendors/guardduty.js';
import type { GuardDutyFinding } from '../../schemas/vendors/guardduty.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { fingerprintIdentifier } from '../core/fingerprint.js';
import { sha256Hex } from '../core/hash.js';
import { parseTime } from '../core/time.js';
import { AWS_KEY_NAMESPACE, keyHint, keyKind } from './cloudtrail.js';
import type { NormalizeContext, VendorFormat } from './types.js';

const CREDENTIAL_FINDING_RE = /^(UnauthorizedAccess:IAMUser\/InstanceCredentialExfiltration\.(OutsideAWS|InsideAWS)|CredentialAccess:.+)$/;

const str = (v: unknown, max = 512): string | undefined => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined);
const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function isCredentialFinding(type: string): boolean {
  return CREDENTIAL_FINDING_RE.test(type);
}

/** The role or IAM user holding the key, spelled as CloudTrail's issuer (role / user arn). */
function issuerOf(f: GuardDutyFinding): string | undefined {
  const d = f.resource?.accessKeyDetails;
  const name = str(d?.userName);
  const account = str(f.accountId);
  const partition = str(f.partition) ?? 'aws';
  if (name && account && d?.userType === 'AssumedRole') return `arn:${partition}:iam::${account}:role/${name}`;
  if (name && account && d?.userType === 'IAMUser') return `arn:${partition}:iam::${account}:user/${name}`;
  return str(d?.principalId) ?? name;
}

export function normalizeGuardDuty(f: GuardDutyFinding, ctx: NormalizeContext): TokenEvent[] {
  const keyId = str(f.resource?.accessKeyDetails?.accessKeyId);
  if (!keyId || !isCredentialFinding(f.type) || f.service?.additionalInfo?.sample === true) return [];
  const time = parseTime(f.updatedAt ?? f.createdAt)!;
  const call = f.service?.action?.awsApiCallAction ?? undefined;
  const remote = call?.remoteIpDetails ?? undefined;
  const e = {
    event_id: `guardduty:${f.id.length <= 128 ? f.id : sha256Hex(f.id)}:${time}`,
    source: 'guardduty',
    platform: 'aws',
    action: 'reuse_signal',
    time,
    token: { fp: fingerprintIdentifier(ctx.fingerprint, AWS_KEY_NAMESPACE, keyId), kind: keyKind(keyId, 'unknown') },
  } as TokenEvent;
  const hint = keyHint(keyId);
  if (hint) e.token.hint = hint;
  const issuer = issuerOf(f);
  if (issuer) e.issuer = issuer;
  const service = str(call?.serviceName);
  if (service) e.service = service;
  const ip = str(remote?.ipAddressV4, 64) ?? str(remote?.ipAddressV6, 64);
  const asn = remote?.organization?.asn;
  if (ip || (asn !== undefined && asn !== null)) {
    e.network = {};
    if (ip) e.network.ip = ip;
    if (asn !== undefined && asn !== null && String(asn).length > 0) e.network.asn = String(asn).slice(0, 64);
  }
  const operation = str(call?.api, 256);
  if (operation) e.operation = operation;
  e.signal = f.type.slice(0, 256);
  return [e];
}

export const guardduty: VendorFormat<GuardDutyFinding> = {
  id: 'guardduty',
  platform: 'aws',
  description: 'Amazon GuardDuty findings (EventBridge "GuardDuty Finding" events or API/CLI output): credential findings become reuse signals on the access key',
  detect(raw) {
    if (isGuardDutyEnvelope(raw)) return true;
    const arn = raw.arn ?? raw.Arn;
    const type = raw.type ?? raw.Type;
    return typeof arn === 'string' && arn.includes(':guardduty:') && typeof type === 'string' && (isRecord(raw.resource) || isRecord(raw.Resource));
  },
  schema: GuardDutyEvent,
  normalize: normalizeGuardDuty,
};
