/**
 * Okta System Log events for a user-facing (mobile) OAuth client: authorization_code and
 * refresh_token grants, one event per issued token (`…grant.access_token`, `…grant.refresh_token`),
 * with the device's network and its carrier's AS in `securityContext`.
 */
import { authServerTarget, envelope, tokenPath, type OktaClient, type OktaNetwork } from './okta-writer.js';
import type { Rng } from './prng.js';

export interface OktaUser {
  id: string;
  login: string;
  name: string;
}

export interface CarrierAs {
  asNumber: number;
  asOrg: string;
  isp: string;
  domain: string;
}

export interface UserGrantArgs {
  time: number;
  client: OktaClient;
  user: OktaUser;
  net: OktaNetwork;
  carrier: CarrierAs;
  grantType: 'authorization_code' | 'refresh_token';
  token: { type: 'access_token' | 'refresh_token'; id: string; expiresAt: number };
  scopes: readonly string[];
}

const okTime = (ms: number): string => new Date(ms).toISOString();

/** app.oauth2.as.token.grant.{access_token|refresh_token} for a user's client. */
export function userTokenGrantRecord(rng: Rng, a: UserGrantArgs): Record<string, unknown> {
  const path = tokenPath(a.client);
  const actor = { id: a.user.id, type: 'User', alternateId: a.user.login, displayName: a.user.name, detailEntry: null };
  const base = envelope(rng, a.time, a.client, a.net, actor);
  const v6 = a.net.ip.includes(':');
  base.securityContext = { asNumber: a.carrier.asNumber, asOrg: a.carrier.asOrg, isp: a.carrier.isp, domain: a.carrier.domain, isProxy: false };
  base.request = { ipChain: [{ ip: a.net.ip, version: v6 ? 'V6' : 'V4', source: null }] };
  return {
    ...base,
    displayMessage: a.token.type === 'access_token' ? 'OAuth2 access token is granted' : 'OAuth2 refresh token is granted',
    eventType: `app.oauth2.as.token.grant.${a.token.type}`,
    legacyEventType: `app.oauth2.as.token.grant.${a.token.type}_success`,
    outcome: { result: 'SUCCESS', reason: null },
    debugContext: {
      debugData: {
        clientAuthType: 'none',
        grantType: a.grantType,
        requestedScopes: a.scopes.join(', '),
        grantedScopes: a.scopes.join(', '),
        requestId: rng.alnum(27),
        requestUri: path,
        url: `${path}?`,
      },
    },
    target: [
      {
        id: a.token.id,
        type: a.token.type,
        alternateId: null,
        displayName: a.token.type === 'access_token' ? 'Access Token' : 'Refresh Token',
        detailEntry: { expires: okTime(a.token.expiresAt), subject: a.user.id },
      },
      { id: a.client.clientId, type: 'AppInstance', alternateId: a.client.name, displayName: a.client.name, detailEntry: null },
      authServerTarget(a.client),
    ],
  };
}
