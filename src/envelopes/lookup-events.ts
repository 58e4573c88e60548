/**
 * `aws cloudtrail lookup-events` output (the LookupEvents API response): `{"Events":[{EventId,
 * EventName, …, "CloudTrailEvent": "<the CloudTrail record as a JSON string>"}], "NextToken"}`,
 * or one element of Events on its own (`--query 'Events[]'` written as a JSON array or NDJSON).
 * Shape: https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
 */
import { TokenwatchError } from '../core/errors.js';
import type { Envelope, InnerRecord } from './types.js';
import { isObject } from './types.js';

function inner(e: unknown): InnerRecord {
  if (isObject(e) && typeof e.CloudTrailEvent === 'string') return { text: e.CloudTrailEvent };
  return { error: new TokenwatchError('schema_violation', 'cloudtrail_lookup_events: Events[] element without a CloudTrailEvent string'), raw: e };
}

export const lookupEvents: Envelope = {
  id: 'cloudtrail_lookup_events',
  description: '`aws cloudtrail lookup-events` output {"Events":[{"CloudTrailEvent":"<json>"}]} or one Events[] element',
  detect: (v) =>
    typeof v.CloudTrailEvent === 'string' ||
    (Array.isArray(v.Events) && (v.Events.length === 0 ? 'NextToken' in v || Object.keys(v).length === 1 : isObject(v.Events[0]) && 'CloudTrailEvent' in v.Events[0])),
  unwrap: (v) => ({ records: typeof v.CloudTrailEvent === 'string' ? [{ text: v.CloudTrailEvent }] : (v.Events as unknown[]).map(inner) }),
};
