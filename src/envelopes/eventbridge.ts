/**
 * Amazon EventBridge events that carry a CloudTrail record: `detail-type` "AWS API Call via
 * CloudTrail" (also the Console Sign In / Service Event / Console Action variants), the record
 * in `detail` — how CloudTrail is usually streamed into Kafka (EventBridge → Firehose/Lambda/
 * connector). Other EventBridge events (GuardDuty findings, …) are left whole for their format.
 * Shape: https://docs.aws.amazon.com/eventbridge/latest/ref/events-structure.html
 */
import type { Envelope } from './types.js';
import { isObject } from './types.js';

const VIA_CLOUDTRAIL = / via CloudTrail$/;

export const eventbridge: Envelope = {
  id: 'eventbridge',
  description: 'Amazon EventBridge event "AWS API Call via CloudTrail" (and other "… via CloudTrail"): the record in detail',
  detect: (v) => typeof v['detail-type'] === 'string' && VIA_CLOUDTRAIL.test(v['detail-type']) && isObject(v.detail),
  unwrap: (v) => ({ records: [{ value: v.detail }] }),
};
