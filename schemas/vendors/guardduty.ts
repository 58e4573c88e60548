/**
 * Amazon GuardDuty findings, as EventBridge delivers them (`{"source": "aws.guardduty",
 * "detail-type": "GuardDuty Finding", "detail": {…finding…}}`, or the bare `detail` once an envelope
 * module unwrapped it) and as the API returns them (GetFindings: camelCase on the wire, PascalCase
 * in AWS CLI / SDK output). The schema unwraps the EventBridge envelope and lower-cases the first
 * letter of every key, then validates one camelCase shape.
 * Field names: GuardDuty API reference, Finding / Resource / AccessKeyDetails / AwsApiCallAction /
 * RemoteIpDetails; finding types: "GuardDuty finding types" (IAM finding types).
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';
import { ACCESS_KEY_ID_RE, KEY_ID_MESSAGE } from './cloudtrail.js';

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** EventBridge envelope of a finding. */
export function isGuardDutyEnvelope(v: Record<string, unknown>): boolean {
  return v.source === 'aws.guardduty' && v['detail-type'] === 'GuardDuty Finding' && isRecord(v.detail);
}

/** `AccessKeyDetails` → `accessKeyDetails`, recursively (findings are small: depth-bounded by decode). */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const c = k.length > 0 && k[0]! >= 'A' && k[0]! <= 'Z' ? k[0]!.toLowerCase() + k.slice(1) : k;
    // the camelCase spelling wins when both are present
    if (c !== k && Object.hasOwn(v, c)) continue;
    out[c] = camelKeys(v[k]);
  }
  return out;
}

function canonicalFinding(v: unknown): unknown {
  if (!isRecord(v)) return v;
  return camelKeys(isGuardDutyEnvelope(v) ? v.detail : v);
}

const OptString = z.string().nullish();
const Time = z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp');

export const GuardDutyAccessKeyDetails = z.looseObject({
  accessKeyId: z.string().regex(ACCESS_KEY_ID_RE, KEY_ID_MESSAGE).nullish(),
  principalId: OptString,
  userName: OptString,
  userType: OptString,
});

export const GuardDutyFinding = z.looseObject({
  id: z.string().min(1).max(256),
  type: z.string().min(1).max(256),
  accountId: OptString,
  partition: OptString,
  region: OptString,
  arn: OptString,
  createdAt: Time.nullish(),
  updatedAt: Time.nullish(),
  resource: z
    .looseObject({
      resourceType: OptString,
      accessKeyDetails: GuardDutyAccessKeyDetails.nullish(),
    })
    .nullish(),
  service: z
    .looseObject({
      action: z
        .looseObject({
          actionType: OptString,
          awsApiCallAction: z
            .looseObject({
              api: OptString,
              serviceName: OptString,
              remoteIpDetails: z
                .looseObject({
                  ipAddressV4: OptString,
                  ipAddressV6: OptString,
                  organization: z.looseObject({ asn: z.union([z.string(), z.number()]).nullish() }).nullish(),
                })
                .nullish(),
            })
            .nullish(),
        })
        .nullish(),
      additionalInfo: z.looseObject({ sample: z.boolean().nullish() }).nullish(),
    })
    .nullish(),
}).superRefine((f, ctx) => {
  if (!f.updatedAt && !f.createdAt) ctx.addIssue({ code: 'custom', path: ['updatedAt'], message: 'a finding needs updatedAt or createdAt' });
});

export const GuardDutyEvent = z.preprocess(canonicalFinding, GuardDutyFinding);
export type GuardDutyFinding = z.output<typeof GuardDutyFinding>;
