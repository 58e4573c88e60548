/**
 * AWS API Gateway access log record in JSON format (REST, HTTP and WebSocket APIs). The keys are
 * whatever the stage's access-log format names them; this schema expects the names of the format
 * documented at the top of src/normalize/aws-apigw.ts. Strict on what the normalizer maps: a
 * requestId, a parseable requestTimeEpoch or requestTime, and httpMethod or routeKey.
 * API Gateway writes "-" for a variable with no value; that counts as absent.
 */
import { z } from 'zod';
import { parseTime } from '../../src/core/time.js';

const CLF_TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;
const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/** `$context.requestTime`: CLF "dd/MMM/yyyy:HH:mm:ss +hhmm". */
export function clfTimeMs(v: string): number | undefined {
  const m = CLF_TIME.exec(v);
  if (!m) return undefined;
  const [, d, mon, y, hh, mm, ss, sign, oh, om] = m;
  const month = MONTHS[mon!];
  if (month === undefined) return undefined;
  const offsetMs = (Number(oh) * 60 + Number(om)) * 60_000 * (sign === '-' ? -1 : 1);
  return Date.UTC(Number(y), month, Number(d), Number(hh), Number(mm), Number(ss)) - offsetMs;
}

/** `requestTimeEpoch` (ms) when logged, else `requestTime`. */
export function apigwTimeMs(rec: { requestTimeEpoch?: unknown; requestTime?: unknown }): number | undefined {
  const epoch = rec.requestTimeEpoch;
  if ((typeof epoch === 'number' || typeof epoch === 'string') && epoch !== '-') {
    const t = parseTime(epoch);
    if (t !== undefined) return t;
  }
  return typeof rec.requestTime === 'string' ? (clfTimeMs(rec.requestTime) ?? parseTime(rec.requestTime)) : undefined;
}

const OptString = z.string().nullish();
const OptScalar = z.union([z.string(), z.number()]).nullish();
const Claims = z.record(z.string(), z.unknown());

export const AwsApigwAccessLog = z
  .looseObject({
    requestId: z.string().min(1).refine((s) => s !== '-', 'requestId is "-"'),
    extendedRequestId: OptString,
    ip: OptString,
    sourceIp: OptString,
    requestTime: OptString,
    requestTimeEpoch: OptScalar,
    httpMethod: OptString,
    routeKey: OptString,
    resourcePath: OptString,
    path: OptString,
    status: OptScalar,
    protocol: OptString,
    userAgent: OptString,
    apiId: OptString,
    domainName: OptString,
    stage: OptString,
    jti: OptString,
    sub: OptString,
    client_id: OptString,
    clientId: OptString,
    scope: OptString,
    iss: OptString,
    iat: OptScalar,
    exp: OptScalar,
    tokenHash: OptString,
    claims: Claims.nullish(),
    authorizer: z.looseObject({ claims: Claims.nullish() }).nullish(),
  })
  .superRefine((rec, ctx) => {
    if (apigwTimeMs(rec) === undefined) {
      ctx.addIssue({ code: 'custom', path: ['requestTimeEpoch'], message: 'requestTimeEpoch or requestTime must be a parseable time' });
    }
    const has = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && v !== '-';
    if (!has(rec.httpMethod) && !has(rec.routeKey)) {
      ctx.addIssue({ code: 'custom', path: ['httpMethod'], message: 'httpMethod or routeKey is required' });
    }
  });
export type AwsApigwAccessLog = z.infer<typeof AwsApigwAccessLog>;
