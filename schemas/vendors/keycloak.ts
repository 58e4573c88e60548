/**
 * Keycloak events, in the two shapes they leave Keycloak as JSON:
 *
 *  1. The event object itself (Admin REST API `GET /admin/realms/{realm}/events` and
 *     `/admin-events`, and event-listener SPIs that serialize Event / AdminEvent):
 *       user event  {id?, time (epoch ms), type, realmId, realmName?, clientId, userId, sessionId,
 *                    ipAddress, error?, details: {token_id, refresh_token_id, grant_type, …}}
 *       admin event {id?, time, realmId, operationType, resourceType, resourcePath, authDetails:
 *                    {realmId, clientId, userId, ipAddress}, error?, representation?}
 *  2. A JSON log record of the built-in `jboss-logging` listener (Quarkus JSON logging,
 *     `loggerName: "org.keycloak.events"`, or the ECS format's `log.logger`), whose `message`
 *     is the event as `type="REFRESH_TOKEN", realmId="…", clientId="…", …, token_id="…"`
 *     (unquoted before Keycloak 24). Details are flattened into that list; the record's
 *     `timestamp` (ECS: `@timestamp`) is the time.
 *     The schema turns it into shape 1 first, so the normalizer sees one shape.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

const optStr = (max = 512) => z.string().max(max).nullish();

/** Top-level members of a user or admin event; every other `key=value` of a log line is a detail. */
const EVENT_KEYS = new Set(['id', 'type', 'realmId', 'realmName', 'clientId', 'userId', 'sessionId', 'ipAddress', 'error', 'operationType', 'resourceType', 'resourcePath']);
const PAIR_RE = /(?:^|,\s*)([A-Za-z_][\w.-]{0,63})=("(?:[^"\\]|\\.)*"|[^,]*)/g;

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The logger of a JSON log record: Quarkus' default JSON format, or ECS (`log.logger`, flat or nested). */
function loggerOf(v: Record<string, unknown>): unknown {
  if (v.loggerName !== undefined) return v.loggerName;
  if (v['log.logger'] !== undefined) return v['log.logger'];
  return isRecord(v.log) ? v.log.logger : undefined;
}

export function isKeycloakLogRecord(v: Record<string, unknown>): boolean {
  const logger = loggerOf(v);
  return typeof logger === 'string' && logger.startsWith('org.keycloak.events') && typeof v.message === 'string';
}

/** A jboss-logging listener record → the event object it describes; anything else is returned as is. */
export function unwrapKeycloakLogRecord(v: unknown): unknown {
  if (!isRecord(v) || !isKeycloakLogRecord(v)) return v;
  const message = (v.message as string).slice(0, 64 * 1024);
  const event: Record<string, unknown> = { time: v.timestamp ?? v['@timestamp'] };
  const details: Record<string, string> = {};
  for (const m of message.matchAll(PAIR_RE)) {
    const key = m[1]!;
    let value = m[2]!.trim();
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    if (value === '' || value === 'null') continue;
    if (EVENT_KEYS.has(key)) event[key] = value;
    else details[key] = value;
  }
  // The listener writes an admin event's actor (its authDetails) at the top level of the message.
  if (typeof event.operationType === 'string') {
    event.authDetails = { realmId: event.realmId, clientId: event.clientId, userId: event.userId, ipAddress: event.ipAddress };
    delete event.clientId;
    delete event.userId;
    delete event.ipAddress;
  }
  if (Object.keys(details).length > 0) event.details = details;
  return event;
}

/** Epoch ms (the event object) or an ISO timestamp (a log record's time). */
const EventTime = z.union([z.number().int().positive(), z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp')]);

export const KeycloakEventObject = z
  .looseObject({
    id: optStr(128),
    time: EventTime,
    /** User events: LOGIN, CODE_TO_TOKEN, REFRESH_TOKEN_ERROR, … */
    type: z.string().regex(/^[A-Z][A-Z0-9_]{1,63}$/, 'must be a Keycloak event type').nullish(),
    /** Admin events: CREATE, UPDATE, DELETE, ACTION. */
    operationType: z.string().regex(/^[A-Z][A-Z0-9_]{1,31}$/, 'must be a Keycloak operation type').nullish(),
    realmId: z.string().min(1).max(256),
    realmName: optStr(256),
    clientId: optStr(),
    userId: optStr(),
    sessionId: optStr(),
    ipAddress: optStr(64),
    error: optStr(256),
    details: z.record(z.string(), z.unknown()).nullish(),
    resourceType: optStr(128),
    resourcePath: optStr(2048),
    authDetails: z.looseObject({ realmId: optStr(256), clientId: optStr(), userId: optStr(), ipAddress: optStr(64) }).nullish(),
  })
  .superRefine((e, ctx) => {
    if (!e.type && !e.operationType) ctx.addIssue({ code: 'custom', path: ['type'], message: 'a Keycloak event needs type (user event) or operationType (admin event)' });
  });

export const KeycloakEvent = z.preprocess(unwrapKeycloakLogRecord, KeycloakEventObject);
export type KeycloakEvent = z.output<typeof KeycloakEventObject>;
