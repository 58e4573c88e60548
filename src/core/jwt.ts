/**
 * Decode (never verify, never keep) a bearer JWT's claims. Gateways see the token; we keep
 * only the claims detectors need and a fingerprint of the token itself.
 */
export interface JwtClaims {
  jti?: string;
  iss?: string;
  sub?: string;
  aud?: string[];
  azp?: string;
  client_id?: string;
  scopes?: string[];
  iat?: number; // epoch ms
  exp?: number; // epoch ms
  kid?: string;
  typ?: string;
}

const JWT_RE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;
const MAX_JWT_LEN = 16 * 1024;

export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_JWT_LEN && JWT_RE.test(token);
}

function b64json(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v.slice(0, 512) : undefined);
const secs = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v * 1000) : undefined);

/** Returns undefined when the string is not a decodable JWT. */
export function decodeJwtClaims(token: string): JwtClaims | undefined {
  if (!looksLikeJwt(token)) return undefined;
  const [h, p] = token.split('.');
  const header = h ? b64json(h) : undefined;
  const payload = p ? b64json(p) : undefined;
  if (!header || !payload) return undefined;
  const aud = payload.aud;
  const scopeRaw = payload.scope ?? payload.scp;
  const scopes = typeof scopeRaw === 'string'
    ? scopeRaw.split(/\s+/).filter(Boolean)
    : Array.isArray(scopeRaw) ? scopeRaw.filter((s): s is string => typeof s === 'string') : undefined;
  return {
    jti: str(payload.jti),
    iss: str(payload.iss),
    sub: str(payload.sub),
    aud: typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string').slice(0, 64) : undefined,
    azp: str(payload.azp),
    client_id: str(payload.client_id) ?? str(payload.cid) ?? str(payload.appid),
    scopes: scopes?.slice(0, 256),
    iat: secs(payload.iat),
    exp: secs(payload.exp),
    kid: str(header.kid)?.slice(0, 32),
    typ: str(header.typ)?.slice(0, 32),
  };
}

/** Extract the token from an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
