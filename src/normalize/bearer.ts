/**
 * Token identity at API gateways (Kong, Envoy) and small parsing helpers shared by the IdP
 * normalizers. A gateway may log the raw `Authorization` header (rare: Kong redacts it by
 * default), the JWT payload (Envoy jwt_authn `payload_in_metadata`), or only a jti / sha256 the
 * operator chose to log. Every path must land on the same fingerprint for the same token:
 *
 *   1. JWT with `jti`            → jtiFingerprint(jti): the same namespace the IdP normalizers use for
 *                                  the token ids they log (Okta's token id is the JWT's jti), so a
 *                                  token minted at the IdP and used at a gateway is one token
 *   2. Entra JWT with `uti`      → the Entra sign-in namespace (correlates with entra_signin mints)
 *   3. JWT without jti/uti       → fingerprint('jwt_claims', iss|sub|aud|iat|exp): the payload is
 *                                  all a payload-only log has, so the raw-token path uses it too
 *   4. opaque bearer token       → fingerprint('bearer', token)
 *   5. only a sha256 was logged  → fingerprint('bearer_sha256', sha) (cannot match rule 4: the
 *                                  HMAC of a token cannot be derived from its sha256)
 *
 * Nothing here keeps the token: callers get a fingerprint and the non-secret claims.
 */
import { bearerToken, decodeJwtClaims, looksLikeJwt } from '../core/jwt.js';
import type { JwtClaims } from '../core/jwt.js';
import { fingerprintIdentifier, type Fingerprinter } from '../core/fingerprint.js';
import type { TokenEvent, TokenKind } from '../../schemas/token-event.js';

/** Namespace of Entra `uniqueTokenIdentifier` / `signInActivityId` / JWT `uti` fingerprints. */
export const ENTRA_UTI_NAMESPACE = 'entra:uti';

/** Namespace of token ids (JWT `jti`, Okta System Log token ids), shared by every normalizer. */
export const JTI_NAMESPACE = 'jti';

export function jtiFingerprint(fingerprint: Fingerprinter, jti: string): string {
  return fingerprintIdentifier(fingerprint, JTI_NAMESPACE, jti);
}

/** Entra writes the identifier unpadded in sign-in logs and sometimes `=`-padded elsewhere. */
export function entraUtiFingerprint(fingerprint: Fingerprinter, uti: string): string {
  return fingerprintIdentifier(fingerprint, ENTRA_UTI_NAMESPACE, uti.replace(/=+$/, ''));
}

const ENTRA_ISSUER_RE = /^https:\/\/(login\.microsoftonline\.(com|us)|sts\.windows\.net|login\.chinacloudapi\.cn|login\.partner\.microsoftonline\.cn)\//i;

// ---------------------------------------------------------------- small value helpers

/**
 * The top-level members whose lower-cased key is one of `names` (all lower case), as
 * `new Map(Object.keys(raw).map((k) => [k.toLowerCase(), raw[k]]))` would hold them (the last
 * spelling wins), without building that map of every key: format detection runs this on every
 * record of every other vendor.
 */
export function lowerCaseMembers(raw: Record<string, unknown>, names: ReadonlySet<string>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const k of Object.keys(raw)) {
    const lower = lowerCaseKey(k);
    if (names.has(lower)) out.set(lower, raw[k]);
  }
  return out;
}

/** Field names repeat from record to record: remember their lower-case forms (bounded, short names only). */
let lowerCaseKeys = new Map<string, string>();
function lowerCaseKey(k: string): string {
  if (k.length > 64) return k.toLowerCase();
  let lower = lowerCaseKeys.get(k);
  if (lower === undefined) {
    lower = k.toLowerCase();
    if (lowerCaseKeys.size >= 4096) lowerCaseKeys = new Map();
    lowerCaseKeys.set(k, lower);
  }
  return lower;
}

export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** A non-empty string, cut to `max`; anything else is undefined. */
export function str(v: unknown, max = 512): string | undefined {
  return typeof v === 'string' && v.trim().length > 0 ? v.trim().slice(0, max) : undefined;
}

/** A string or a finite number rendered as a string. */
export function strOrNum(v: unknown, max = 512): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return str(v, max);
}

/**
 * Scopes as vendors spell them: "a b", "a,b", "a, b", or an array. Anything odder (numbers,
 * objects) yields undefined rather than an error: scope fields are often undocumented.
 */
export function splitScopes(v: unknown): string[] | undefined {
  let parts: string[];
  if (typeof v === 'string') parts = v.split(/[\s,]+/);
  else if (Array.isArray(v)) parts = v.filter((s): s is string => typeof s === 'string').flatMap((s) => s.split(/[\s,]+/));
  else return undefined;
  const out = [...new Set(parts.map((s) => s.trim()).filter((s) => s.length > 0 && s.length <= 256))].slice(0, 256);
  return out.length > 0 ? out : undefined;
}

export function mergeScopes(...lists: (string[] | undefined)[]): string[] | undefined {
  let n = 0;
  for (const l of lists) n += l?.length ?? 0;
  if (n === 0) return undefined;
  if (n > 32) return [...new Set(lists.flatMap((l) => l ?? []))].slice(0, 256);
  // the common handful of scopes: the same first-seen order without the intermediate arrays and Set
  const out: string[] = [];
  for (const l of lists) {
    if (l === undefined) continue;
    for (const s of l) if (!out.includes(s)) out.push(s);
  }
  return out;
}

/** HTTP status → auth outcome: only 401/403 mean the token was refused. */
export function outcomeFromHttpStatus(status: unknown): 'success' | 'failure' | undefined {
  const n = typeof status === 'number' ? status : typeof status === 'string' && /^\d{3}$/.test(status) ? Number(status) : undefined;
  if (n === undefined) return undefined;
  return n === 401 || n === 403 ? 'failure' : 'success';
}

/** "1.2.3.4:5678" / "[::1]:443" / "1.2.3.4" → the address without port. */
export function stripPort(addr: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (v6) return v6[1]!;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(addr);
  return v4 ? v4[1]! : addr;
}

/** The request path without its query string (queries can carry PII or secrets). */
export function pathOnly(uri: string): string {
  const noQuery = uri.split(/[?#]/, 1)[0] ?? uri;
  try {
    return /^https?:\/\//i.test(noQuery) ? new URL(noQuery).pathname : noQuery;
  } catch {
    return noQuery;
  }
}

// ---------------------------------------------------------------- claims

/** JwtClaims plus Entra's `uti` and `roles`, which src/core/jwt.ts does not surface. */
export interface GatewayClaims extends JwtClaims {
  uti?: string;
}

/**
 * Claims from an already-decoded payload object (Envoy jwt_authn metadata, a Kong `tw_claims`
 * custom field). Mirrors decodeJwtClaims so both paths yield the same fields.
 */
export function claimsFromPayload(payload: Record<string, unknown>): GatewayClaims {
  const aud = payload.aud;
  const scopes = mergeScopes(splitSpaceScopes(payload.scope ?? payload.scp), splitSpaceScopes(payload.roles));
  const secs = (v: unknown): number | undefined => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
    return n !== undefined && Number.isFinite(n) && n > 0 ? Math.round(n * 1000) : undefined;
  };
  return {
    jti: str(payload.jti),
    uti: str(payload.uti),
    iss: str(payload.iss),
    sub: str(payload.sub),
    aud: typeof aud === 'string' ? [aud.slice(0, 512)] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string').map((a) => a.slice(0, 512)).slice(0, 64) : undefined,
    azp: str(payload.azp),
    client_id: str(payload.client_id) ?? str(payload.cid) ?? str(payload.appid),
    scopes,
    iat: secs(payload.iat),
    exp: secs(payload.exp),
  };
}

// OAuth `scope` is space-delimited (RFC 6749 §3.3); a comma is a legal scope character.
function splitSpaceScopes(v: unknown): string[] | undefined {
  if (typeof v === 'string') return v.split(/\s+/).filter((s) => s.length > 0 && s.length <= 256).slice(0, 256);
  if (Array.isArray(v)) return v.filter((s): s is string => typeof s === 'string' && s.length > 0 && s.length <= 256).slice(0, 256);
  return undefined;
}

function jwtPayloadOf(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    return asRecord(JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  } catch {
    return undefined;
  }
}

/** A decoded payload logged as an object, or as a JSON string by untyped log formats. */
function payloadRecord(v: unknown): Record<string, unknown> | undefined {
  if (typeof v === 'string' && v.length <= 16 * 1024 && v.trimStart().startsWith('{')) {
    try {
      return asRecord(JSON.parse(v));
    } catch {
      return undefined;
    }
  }
  return asRecord(v);
}

// ---------------------------------------------------------------- identity

export interface GatewayTokenInputs {
  /** The Authorization header value (string, or the array some loggers emit for repeats). */
  authorization?: unknown;
  /** Decoded JWT payload: object or JSON string. */
  payload?: unknown;
  /** Separately logged jti / iss (e.g. Kong custom fields). */
  jti?: unknown;
  iss?: unknown;
  /** Hex sha256 of the raw token, when the gateway logs that instead of the token. */
  tokenSha256?: unknown;
}

export interface GatewayTokenIdentity {
  fp: string;
  kind: TokenKind;
  hint?: string;
  claims?: GatewayClaims;
}

const REDACTED_RE = /^(redacted|\[redacted\]|<redacted>|\*+|x+|-)$/i;

function headerValue(v: unknown): string | undefined {
  if (Array.isArray(v)) return headerValue(v[0]);
  return typeof v === 'string' && v.length <= 16 * 1024 ? v : undefined;
}

/** A usable raw token from the Authorization header, or undefined when absent/redacted/not Bearer. */
export function rawBearer(authorization: unknown): string | undefined {
  const tok = bearerToken(headerValue(authorization));
  if (!tok || REDACTED_RE.test(tok) || tok.includes('***')) return undefined;
  return tok;
}

function jwtIdentity(fingerprint: Fingerprinter, claims: GatewayClaims): string | undefined {
  if (claims.jti) return jtiFingerprint(fingerprint, claims.jti);
  if (claims.uti && claims.iss && ENTRA_ISSUER_RE.test(claims.iss)) return entraUtiFingerprint(fingerprint, claims.uti);
  if (claims.iss && (claims.iat !== undefined || claims.exp !== undefined)) {
    return fingerprintIdentifier(fingerprint, 'jwt_claims', [claims.iss, claims.sub ?? '', (claims.aud ?? []).join(' '), claims.iat ?? '', claims.exp ?? ''].join('|'));
  }
  return undefined;
}

/** Resolve a token identity from whatever the gateway logged; undefined when there is none. */
export function gatewayTokenIdentity(inputs: GatewayTokenInputs, fingerprint: Fingerprinter): GatewayTokenIdentity | undefined {
  const token = rawBearer(inputs.authorization);
  if (token) {
    if (looksLikeJwt(token)) {
      const decoded = decodeJwtClaims(token);
      if (decoded) {
        const extra = jwtPayloadOf(token);
        const claims: GatewayClaims = { ...decoded, uti: str(extra?.uti) };
        if (extra?.roles !== undefined) claims.scopes = mergeScopes(decoded.scopes, splitSpaceScopes(extra.roles));
        const fp = jwtIdentity(fingerprint, claims) ?? fingerprint('bearer', token);
        return { fp, kind: 'oauth_access', hint: decoded.kid ?? decoded.typ, claims };
      }
    }
    return { fp: fingerprint('bearer', token), kind: 'oauth_access' };
  }

  const payload = payloadRecord(inputs.payload);
  const claims: GatewayClaims = payload ? claimsFromPayload(payload) : {};
  claims.jti ??= str(inputs.jti);
  claims.iss ??= str(inputs.iss);
  const fp = jwtIdentity(fingerprint, claims);
  if (fp) return { fp, kind: 'oauth_access', claims };

  const sha = str(inputs.tokenSha256, 128);
  if (sha && /^[0-9a-f]{64}$/i.test(sha)) {
    return { fp: fingerprint('bearer_sha256', sha.toLowerCase()), kind: 'oauth_access', claims: payload ? claims : undefined };
  }
  return undefined;
}

/** The TokenEvent fields a JWT's claims supply at a gateway. */
export function claimFields(claims: GatewayClaims | undefined): Partial<TokenEvent> {
  const out: Partial<TokenEvent> = {};
  assignClaimFields(out, claims);
  return out;
}

/**
 * claimFields() written straight into an event under construction, in the same order (an
 * object spread of them costs more than the rest of a gateway normalizer).
 */
export function assignClaimFields(out: Partial<TokenEvent>, claims: GatewayClaims | undefined): void {
  if (!claims) return;
  const issuer = claims.azp ?? claims.client_id;
  if (issuer) out.issuer = issuer;
  if (claims.iss) out.authority = claims.iss;
  if (claims.sub) out.subject = claims.sub;
  if (claims.aud?.length) out.audience = claims.aud;
  if (claims.scopes?.length) out.scopes_used = claims.scopes;
  if (claims.iat !== undefined) out.issued_at = claims.iat;
  if (claims.exp !== undefined) out.expires_at = claims.exp;
}

/**
 * A copy without undefined members (and without an empty `network`), nested objects too, so
 * events compare and serialize cleanly. Copies rather than `delete`s: an object that lost a
 * property is a slow dictionary-mode object for every detector that reads it afterwards.
 */
export function compact<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  const src = o as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    let v = src[k];
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) v = compact(v);
    if (k === 'network' && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return out as T;
}
