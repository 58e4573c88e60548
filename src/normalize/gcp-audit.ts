/**
 * Google Cloud audit logs → token events.
 *  - iamcredentials GenerateAccessToken / GenerateIdToken / SignJwt / SignBlob mint a credential
 *    for the target service account;
 *  - IAM CreateServiceAccountKey mints a key; DeleteServiceAccountKey / DisableServiceAccountKey
 *    revoke one;
 *  - any call authenticated with a service-account key (`authenticationInfo.serviceAccountKeyName`)
 *    is a use of that key.
 */
import { isIP } from 'node:net';
import {
  GcpAuditLogEntry,
  IAMCREDENTIALS_MINTS,
  KEY_REVOKES,
  gcpTimeMs,
  keyIdOf,
  shortMethod,
  successful,
} from '../../schemas/vendors/gcp-audit.js';
import { TokenwatchError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';
import type { NormalizeContext, VendorFormat } from './types.js';
import { compact } from './bearer.js';

const IAMCREDENTIALS = 'iamcredentials.googleapis.com';
const IAM = 'iam.googleapis.com';
/** GenerateAccessToken's default lifetime; Google ID tokens are valid for one hour. */
const ONE_HOUR_MS = 3600_000;
/** User-managed keys report a validBeforeTime of 9999-12-31: no expiry. */
const NO_EXPIRY_AFTER_MS = Date.UTC(9000, 0, 1);

const MINT_KIND: Record<string, TokenKind> = {
  GenerateAccessToken: 'gcp_access',
  GenerateIdToken: 'id_token',
  SignJwt: 'id_token',
  // A signature over arbitrary bytes (signed URLs, custom tokens): a credential of unknown shape.
  SignBlob: 'unknown',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const cap = (v: string | undefined, n: number): string | undefined => (v === undefined ? undefined : v.slice(0, n));

/** `projects/<p>/serviceAccounts/<sa>[/keys/<k>]` → `<sa>` (an email or a numeric unique id). */
function serviceAccountOf(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const m = /serviceAccounts\/([^/]+)/.exec(name);
  return m?.[1];
}

/** Prefer the email form: uses report `principalEmail`, so mints must name the account the same way. */
function pickServiceAccount(...candidates: (string | undefined)[]): string | undefined {
  const present = candidates.filter((c): c is string => Boolean(c));
  return present.find((c) => c.includes('@')) ?? present[0];
}

/** Proto Duration as JSON: "3600s" (or `{ seconds }`). */
function durationMs(v: unknown): number | undefined {
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(v);
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  }
  if (v && typeof v === 'object' && 'seconds' in v) {
    const s = Number((v as { seconds: unknown }).seconds);
    return Number.isFinite(s) && s > 0 ? s * 1000 : undefined;
  }
  return undefined;
}

/** Proto Timestamp as JSON: RFC 3339 string (or `{ seconds }`). */
function timestampMs(v: unknown): number | undefined {
  if (typeof v === 'string') return gcpTimeMs(v);
  if (v && typeof v === 'object' && 'seconds' in v) {
    // Always seconds here (no unit guessing: 9999-12-31 in seconds would pass for milliseconds).
    const s = Number((v as { seconds: unknown }).seconds);
    return Number.isFinite(s) && s > 0 ? Math.round(s * 1000) : undefined;
  }
  return undefined;
}

function stringArray(v: unknown, maxItems: number, maxLen: number): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out = v.filter((s): s is string => typeof s === 'string' && s.length > 0).slice(0, maxItems).map((s) => s.slice(0, maxLen));
  return out.length > 0 ? out : undefined;
}

/** Key identity: the key id is unique per key, and stable across the `//iam.googleapis.com/projects/…`
 * (serviceAccountKeyName), `projects/<p>/…` and `projects/-/…` spellings of the same key name. */
function keyFingerprint(ctx: NormalizeContext, keyName: string): string {
  return ctx.fingerprint('gcp_sa_key', keyIdOf(keyName) ?? keyName);
}

export function normalizeGcpAudit(entry: GcpAuditLogEntry, ctx: NormalizeContext): TokenEvent[] {
  const time = gcpTimeMs(entry.timestamp);
  if (time === undefined) throw new TokenwatchError('normalize_failed', 'gcp_audit: timestamp did not parse');
  const p = entry.protoPayload;
  const auth = p.authenticationInfo ?? undefined;
  const meta = p.requestMetadata ?? undefined;
  const request = p.request ?? {};
  const response = p.response ?? {};
  const ok = successful(p);
  const method = shortMethod(p.methodName);

  const callerIp = str(meta?.callerIp) ?? str(meta?.callerIP);
  // callerIp is an address, or a label such as "private" / "gce-internal-ip" for internal callers.
  const network: TokenEvent['network'] = callerIp ? (isIP(callerIp) ? { ip: callerIp } : { label: callerIp.slice(0, 128) }) : undefined;
  const common = {
    source: 'gcp_audit' as const,
    platform: 'gcp' as const,
    time,
    service: cap(p.serviceName, 512),
    operation: cap(p.methodName, 256),
    network,
    user_agent: cap(str(meta?.callerSuppliedUserAgent), 1024),
    outcome: ok ? ('success' as const) : ('failure' as const),
  };
  // The original principal of a delegation chain comes first in serviceAccountDelegationInfo.
  const delegator = auth?.serviceAccountDelegationInfo?.map((d) => str(d.firstPartyPrincipal?.principalEmail)).find(Boolean);
  const caller = str(auth?.principalEmail) ?? str(auth?.principalSubject);
  const out: Omit<TokenEvent, 'event_id'>[] = [];

  const usedKey = str(auth?.serviceAccountKeyName);
  const usedKeyFp = usedKey ? keyFingerprint(ctx, usedKey) : undefined;
  if (usedKey && usedKeyFp) {
    out.push({
      ...common,
      action: 'use',
      token: { fp: usedKeyFp, kind: 'gcp_sa_key' },
      issuer: cap(caller ?? serviceAccountOf(usedKey), 512),
    });
  }

  const insertId = str(entry.insertId);
  // insertId is always set by Cloud Logging; an entry without one gets a content hash (of the
  // schema's output, in its key order: decode may hand over the raw entry rather than zod's copy).
  const logId = insertId && insertId.length <= 200 ? insertId : `h${sha256Hex(JSON.stringify(GcpAuditLogEntry.parse(entry)))}`;
  const labels = entry.resource?.labels ?? undefined;
  if (ok && p.serviceName === IAMCREDENTIALS && IAMCREDENTIALS_MINTS.has(method)) {
    const target = pickServiceAccount(serviceAccountOf(request.name), str(labels?.email_id), serviceAccountOf(p.resourceName));
    // GCP never logs the issued token, and its uses are logged only by principal, so no later
    // event can name it. The mint still needs a stable, unique identity: derive it from the log
    // entry's identity (log name + insertId + timestamp, unique per entry in Cloud Logging).
    const fp = ctx.fingerprint('gcp_mint', `${entry.logName ?? ''}|${logId}|${entry.timestamp}`);
    const lifetime = method === 'GenerateAccessToken' ? (durationMs(request.lifetime) ?? ONE_HOUR_MS) : method === 'GenerateIdToken' ? ONE_HOUR_MS : undefined;
    const audience = str(request.audience);
    out.push({
      ...common,
      action: 'mint',
      token: { fp, kind: MINT_KIND[method] ?? 'unknown' },
      parent_fp: usedKeyFp,
      issuer: cap(target, 512),
      // request.delegates (intermediate accounts) are not kept: the event has one minted_by.
      minted_by: cap(delegator ?? caller, 512),
      authority: IAMCREDENTIALS,
      audience: audience ? [audience.slice(0, 512)] : undefined,
      scopes_requested: stringArray(request.scope, 256, 256),
      issued_at: time,
      expires_at: lifetime !== undefined ? time + lifetime : undefined,
    });
  } else if (ok && p.serviceName === IAM && method === 'CreateServiceAccountKey') {
    const keyName = str(response.name) && keyIdOf(response.name) ? (response.name as string) : (p.resourceName as string);
    const expires = timestampMs(response.valid_before_time ?? response.validBeforeTime);
    out.push({
      ...common,
      action: 'mint',
      token: { fp: keyFingerprint(ctx, keyName), kind: 'gcp_sa_key' },
      parent_fp: usedKeyFp,
      issuer: cap(pickServiceAccount(serviceAccountOf(keyName), serviceAccountOf(request.name), str(labels?.email_id), serviceAccountOf(p.resourceName)), 512),
      minted_by: cap(delegator ?? caller, 512),
      authority: IAM,
      issued_at: time,
      expires_at: expires !== undefined && expires < NO_EXPIRY_AFTER_MS ? expires : undefined,
    });
  } else if (ok && p.serviceName === IAM && KEY_REVOKES.has(method)) {
    const keyName = keyIdOf(p.resourceName) ? (p.resourceName as string) : (request.name as string);
    out.push({
      ...common,
      action: 'revoke',
      token: { fp: keyFingerprint(ctx, keyName), kind: 'gcp_sa_key' },
      issuer: cap(pickServiceAccount(serviceAccountOf(request.name), str(labels?.email_id), serviceAccountOf(keyName)), 512),
      minted_by: cap(delegator ?? caller, 512),
      authority: IAM,
    });
  }

  const base = `gcp_audit:${logId}`;
  return out.map((e) => compact({ event_id: out.length > 1 ? `${base}:${e.action}` : base, ...e }));
}

export const gcpAudit: VendorFormat<GcpAuditLogEntry> = {
  id: 'gcp_audit',
  platform: 'gcp',
  description: 'Google Cloud audit logs: iamcredentials token mints, service-account key lifecycle and key-authenticated calls',
  detect: (raw) => {
    const pp = raw.protoPayload;
    if (pp && typeof pp === 'object' && !Array.isArray(pp)) {
      const p = pp as Record<string, unknown>;
      if (typeof p.serviceName === 'string' || typeof p.methodName === 'string') return true;
    }
    return typeof raw.logName === 'string' && raw.logName.includes('cloudaudit.googleapis.com');
  },
  schema: GcpAuditLogEntry,
  normalize: normalizeGcpAudit,
};
