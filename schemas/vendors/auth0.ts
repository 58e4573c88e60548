/**
 * Auth0 tenant log event (Management API GET /api/v2/logs, or a log stream). Log streams wrap
 * the event as `{log_id, data: {...}}`; the schema unwraps that first, so the normalizer sees
 * one shape. `type` is Auth0's short event code (seccft, ferrt, srrt, …).
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `{log_id, data:{…}}` → the inner event, keeping the wrapper's log_id when the inner lacks one. */
export function unwrapAuth0(v: unknown): unknown {
  if (!isRecord(v) || !isRecord(v.data) || typeof v.data.type !== 'string') return v;
  const inner: Record<string, unknown> = { ...v.data };
  inner.log_id ??= v.log_id ?? v.data._id;
  return inner;
}

const optStr = (max = 1024) => z.string().max(max).nullish();

export const Auth0Log = z
  .looseObject({
    type: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be an Auth0 event code'),
    date: z.string().max(64).refine((s) => parseTime(s) !== undefined, 'not a parseable timestamp'),
    log_id: optStr(128),
    _id: optStr(128),
    client_id: optStr(256),
    client_name: optStr(),
    user_id: optStr(),
    user_name: optStr(),
    ip: optStr(64),
    user_agent: z.string().nullish(),
    hostname: optStr(),
    audience: optStr(),
    scope: z.union([z.string(), z.array(z.string())]).nullish(),
    description: z.string().nullish(),
    details: z.unknown().optional(),
  })
  .superRefine((e, ctx) => {
    if (!e.log_id && !e._id) ctx.addIssue({ code: 'custom', path: ['log_id'], message: 'an Auth0 log event needs log_id or _id' });
  });

export const Auth0LogEvent = z.preprocess(unwrapAuth0, Auth0Log);
export type Auth0LogEvent = z.output<typeof Auth0Log>;
