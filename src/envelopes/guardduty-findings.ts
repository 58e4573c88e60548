/**
 * `aws guardduty get-findings` output (the GetFindings API response): `{"Findings":[{SchemaVersion,
 * AccountId, Arn, Id, Type, Resource, Service, CreatedAt, UpdatedAt, …}]}`. Each finding is then
 * read by the guardduty format (credential findings become reuse signals on the access key).
 * An empty page (`{"Findings":[]}`) is a valid envelope with no records.
 * Shape: https://docs.aws.amazon.com/guardduty/latest/APIReference/API_GetFindings.html
 */
import { TokenwatchError } from '../core/errors.js';
import type { Envelope, InnerRecord } from './types.js';
import { isObject } from './types.js';

/** A GuardDuty finding in the API's PascalCase shape (the CLI prints it as the API returns it). */
const isFinding = (f: unknown): boolean => isObject(f) && typeof f.Type === 'string' && (typeof f.Arn === 'string' || typeof f.Id === 'string');

function inner(f: unknown): InnerRecord {
  if (isObject(f)) return { value: f };
  return { error: new TokenwatchError('schema_violation', 'guardduty_findings: Findings[] element is not an object'), raw: f };
}

export const guarddutyFindings: Envelope = {
  id: 'guardduty_findings',
  description: '`aws guardduty get-findings` output {"Findings":[…]} (one GuardDuty finding per element)',
  detect: (v) => Array.isArray(v.Findings) && (v.Findings.length === 0 ? Object.keys(v).length === 1 : isFinding(v.Findings[0])),
  unwrap: (v) => ({ records: (v.Findings as unknown[]).map(inner) }),
};
