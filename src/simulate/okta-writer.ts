/**
 * Builders for Okta System Log events (the LogEvent objects `/api/v1/logs` returns) for
 * OAuth 2.0 service clients: client_credentials token grants and token revocations.
 */
import type { Rng } from './prng.js';

export interface OktaClient {
  /** The OAuth client id (0oa…). */
  clientId: string;
  name: string;
  /** Authorization server: a custom one (aus…) or the org server for okta.* scopes. */
  authServer: { id: string; name: string; issuer: string; orgServer: boolean };
}

export interface OktaNetwork {
  ip: string;
  userAgent: string;
}

const GEO = {
  city: 'Ashburn',
  state: 'Virginia',
  country: 'United States',
  postalCode: '20149',
  geolocation: { lat: 39.0469, lon: -77.4903 },
};

const okTime = (ms: number): string => new Date(ms).toISOString();

function clientBlock(c: OktaClient, net: OktaNetwork): Record<string, unknown> {
  return {
    userAgent: { rawUserAgent: net.userAgent, os: 'Unknown', browser: 'UNKNOWN' },
    zone: 'null',
    device: 'Unknown',
    id: c.clientId,
    ipAddress: net.ip,
    geographicalContext: GEO,
  };
}

export function envelope(rng: Rng, time: number, c: OktaClient, net: OktaNetwork, actor: Record<string, unknown>): Record<string, unknown> {
  return {
    actor,
    client: clientBlock(c, net),
    device: null,
    authenticationContext: {
      authenticationProvider: null,
      credentialProvider: null,
      credentialType: null,
      issuer: null,
      interface: null,
      authenticationStep: 0,
      externalSessionId: 'unknown',
    },
    published: okTime(time),
    securityContext: { asNumber: 14618, asOrg: 'amazon.com  inc.', isp: 'amazon.com  inc.', domain: 'amazonaws.com', isProxy: false },
    severity: 'INFO',
    transaction: { type: 'WEB', id: rng.alnum(27), detail: {} },
    uuid: rng.uuid(),
    version: '0',
    request: { ipChain: [{ ip: net.ip, geographicalContext: GEO, version: 'V4', source: null }] },
  };
}

const clientActor = (c: OktaClient): Record<string, unknown> => ({
  id: c.clientId,
  type: 'PublicClientApp',
  alternateId: c.clientId,
  displayName: c.name,
  detailEntry: null,
});

export const tokenPath = (c: OktaClient): string => (c.authServer.orgServer ? '/oauth2/v1/token' : `/oauth2/${c.authServer.id}/v1/token`);
const revokePath = (c: OktaClient): string => (c.authServer.orgServer ? '/oauth2/v1/revoke' : `/oauth2/${c.authServer.id}/v1/revoke`);

export function authServerTarget(c: OktaClient): Record<string, unknown> {
  return {
    id: c.authServer.id,
    type: 'AuthorizationServer',
    alternateId: c.authServer.name,
    displayName: c.authServer.name,
    detailEntry: { policyType: 'OAUTH_AUTHORIZATION_POLICY' },
  };
}

export interface GrantArgs {
  time: number;
  client: OktaClient;
  net: OktaNetwork;
  /** The access token's id: `AT.…`, also its JWT `jti`. */
  tokenId: string;
  expiresAt: number;
  requestedScopes: readonly string[];
  grantedScopes: readonly string[];
}

/** app.oauth2.as.token.grant.access_token for a client_credentials request. */
export function tokenGrantRecord(rng: Rng, a: GrantArgs): Record<string, unknown> {
  const path = tokenPath(a.client);
  return {
    ...envelope(rng, a.time, a.client, a.net, clientActor(a.client)),
    displayMessage: 'OAuth2 access token is granted',
    eventType: 'app.oauth2.as.token.grant.access_token',
    legacyEventType: 'app.oauth2.as.token.grant.access_token_success',
    outcome: { result: 'SUCCESS', reason: null },
    debugContext: {
      debugData: {
        clientAuthType: 'client_secret_basic',
        grantType: 'client_credentials',
        requestedScopes: a.requestedScopes.join(', '),
        grantedScopes: a.grantedScopes.join(', '),
        requestId: rng.alnum(27),
        requestUri: path,
        url: `${path}?`,
        dtHash: rng.hex(64),
      },
    },
    target: [
      {
        id: a.tokenId,
        type: 'access_token',
        alternateId: null,
        displayName: 'Access Token',
        detailEntry: { expires: okTime(a.expiresAt), subject: a.client.clientId, hash: rng.b64url(22) },
      },
      authServerTarget(a.client),
    ],
  };
}

export interface RevokeArgs {
  time: number;
  client: OktaClient;
  net: OktaNetwork;
  tokenId: string;
  /** Who revoked it: the client itself (its /revoke call) or an admin user. */
  by: { kind: 'client' } | { kind: 'user'; id: string; login: string; name: string };
}

/** app.oauth2.as.token.revoke: a token revoked through the /revoke endpoint. */
export function tokenRevokeRecord(rng: Rng, a: RevokeArgs): Record<string, unknown> {
  const path = revokePath(a.client);
  const actor =
    a.by.kind === 'client'
      ? clientActor(a.client)
      : { id: a.by.id, type: 'User', alternateId: a.by.login, displayName: a.by.name, detailEntry: null };
  return {
    ...envelope(rng, a.time, a.client, a.net, actor),
    displayMessage: 'OAuth2 token revocation request',
    eventType: 'app.oauth2.as.token.revoke',
    legacyEventType: 'app.oauth2.as.token.revoke_success',
    outcome: { result: 'SUCCESS', reason: null },
    debugContext: {
      debugData: { requestId: rng.alnum(27), requestUri: path, url: `${path}?`, tokenTypeHint: 'access_token', clientId: a.client.clientId },
    },
    target: [
      { id: a.tokenId, type: 'access_token', alternateId: null, displayName: 'Access Token', detailEntry: { subject: a.client.clientId } },
      authServerTarget(a.client),
    ],
  };
}
