/**
 * Okta System Log event (GET /api/v1/logs, log streaming, Event Hooks). Only the fields the
 * normalizer reads are typed; `debugContext.debugData` is deliberately `unknown` because Okta
 * documents it as unstable, so an odd debugData never fails an event. Data-lake exports
 * lowercase top-level keys ("eventtype"); those are canonicalized before validation.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';
import { canonicalizeKeys } from './entra-signin.js';

const TOP_LEVEL_KEYS = [
  'uuid', 'published', 'eventType', 'version', 'severity', 'legacyEventType', 'displayMessage', 'actor', 'client',
  'outcome', 'target', 'transaction', 'debugContext', 'authenticationContext', 'securityContext', 'request', 'device',
] as const;

const optStr = (max = 1024) => z.string().max(max).nullish();

export const OktaActor = z.looseObject({
  id: z.string().min(1).max(256),
  type: z.string().min(1).max(128),
  alternateId: optStr(),
  displayName: optStr(),
});

export const OktaTarget = z.looseObject({
  id: optStr(1024),
  type: optStr(128),
  alternateId: optStr(),
  displayName: optStr(),
});

export const OktaSystemLog = z.looseObject({
  uuid: z.string().min(1).max(128),
  published: z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp'),
  eventType: z.string().min(1).max(256),
  actor: OktaActor,
  client: z
    .looseObject({
      ipAddress: optStr(64),
      userAgent: z.looseObject({ rawUserAgent: z.string().nullish() }).nullish(),
    })
    .nullish(),
  outcome: z.looseObject({ result: optStr(64), reason: optStr() }).nullish(),
  target: z.array(OktaTarget).max(256).nullish(),
  debugContext: z.unknown().optional(),
  authenticationContext: z.looseObject({ externalSessionId: optStr(512) }).nullish(),
  securityContext: z.looseObject({ asNumber: z.union([z.number(), z.string()]).nullish() }).nullish(),
});

export const OktaSystemLogEvent = z.preprocess((v) => canonicalizeKeys(v, TOP_LEVEL_KEYS), OktaSystemLog);
export type OktaSystemLogEvent = z.output<typeof OktaSystemLog>;
