/**
 * Azure Monitor diagnostic settings streamed to Event Hubs (the usual way Entra ID sign-in and
 * audit logs reach Kafka, through the Event Hubs Kafka endpoint or a connector): every message is
 * `{"records":[{time, resourceId, operationName, category, properties, …}, …]}`, one Azure Monitor
 * log record per element. Each record is then read by its own format (entra_signin, entra_audit, …).
 * Shape: https://learn.microsoft.com/azure/azure-monitor/essentials/stream-monitoring-data-event-hubs
 */
import { TokenwatchError } from '../core/errors.js';
import type { Envelope, InnerRecord } from './types.js';
import { isObject } from './types.js';

/** Azure Monitor's common log schema: every record names its time and category or operation. */
const isMonitorRecord = (r: unknown): boolean => isObject(r) && typeof r.time === 'string' && (typeof r.category === 'string' || typeof r.operationName === 'string');

function inner(r: unknown): InnerRecord {
  if (isObject(r)) return { value: r };
  return { error: new TokenwatchError('schema_violation', 'azure_event_hubs: records[] element is not an object'), raw: r };
}

export const azureEventHubs: Envelope = {
  id: 'azure_event_hubs',
  description: 'Azure Monitor diagnostic settings via Event Hubs {"records":[…]} (Entra sign-in and audit logs, one record per element)',
  detect: (v) => Array.isArray(v.records) && (v.records.length === 0 ? Object.keys(v).length === 1 : isMonitorRecord(v.records[0])),
  unwrap: (v) => ({ records: (v.records as unknown[]).map(inner) }),
};
