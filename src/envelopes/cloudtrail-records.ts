/**
 * A CloudTrail log file as CloudTrail writes it to S3: `{"Records":[...]}` (the file source
 * splits this wrapper itself while streaming a file; this envelope opens it when it arrives as
 * one Kafka value, e.g. an S3 object forwarded by a Lambda or a connector).
 */
import type { Envelope } from './types.js';

export const cloudtrailRecords: Envelope = {
  id: 'cloudtrail_records',
  description: 'CloudTrail S3 log file object {"Records":[…]} (one record per element)',
  detect: (v) => Array.isArray(v.Records) && Object.keys(v).length === 1,
  unwrap: (v) => ({ records: (v.Records as unknown[]).map((value) => ({ value })) }),
};
