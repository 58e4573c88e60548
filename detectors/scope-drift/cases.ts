/** scope_drift cases as data: the attacks it must catch and the benign background it must not page on. */
import type { TokenEvent } from '../../schemas/token-event.js';
import { HOUR, MIN, T0, ev, fp } from '../case-helpers.js';
import type { DetectorCase } from '../types.js';
import type { ScopeDriftConfig } from './config.js';

const CLIENT = 'okta:0oa-orders-sync';
const BASE_SCOPES = ['orders:read', 'orders:write', 'openid'];

/**
 * A client refreshing its token every ~55 minutes for `hours`, each token used 5 minutes after
 * minting — the steady background that builds (and must not disturb) the baseline.
 */
function refreshLoop(issuer: string, from: number, hours: number, scopes: readonly string[], tag = 'base'): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (let i = 0, t = from; t < from + hours * HOUR; i++, t += 55 * MIN) {
    const token = `${issuer}:${tag}:${i}`;
    out.push(
      ev({ time: t, token, action: 'mint', issuer, scopes_requested: [...scopes], scopes_granted: [...scopes] }),
      ev({ time: t + 5 * MIN, token, action: 'use', issuer, service: 'orders.example.com', scopes_used: [scopes[0]!] }),
    );
  }
  return out;
}

/** Learning (26 h of refreshes) is over by this time. */
const AFTER = T0 + 26 * HOUR;

/** Several actors' events interleaved in event-time order (stable for equal times). */
const byTime = (...streams: TokenEvent[][]): TokenEvent[] => streams.flat().sort((a, b) => a.time - b.time);

/** Clients of one app (one per environment/region), all learned, for rollout cases. */
const APP_CLIENTS = ['okta:0oa-crm-eu', 'okta:0oa-crm-us', 'okta:0oa-crm-ap', 'okta:0oa-crm-stg', 'okta:0oa-crm-dev'];
const CRM_SCOPES = ['contacts:read', 'openid'];

export const positive: DetectorCase<ScopeDriftConfig>[] = [
  {
    name: 'client requests admin scopes it is refused (probing), once per scope',
    events: [
      ev({ time: T0, token: 'probe-1', action: 'mint', issuer: CLIENT, scopes_requested: ['orders:read', 'okta.users.manage'], scopes_granted: ['orders:read'] }),
      ev({ time: T0 + HOUR, token: 'probe-2', action: 'mint', issuer: CLIENT, scopes_requested: ['orders:read', 'okta.users.manage'], scopes_granted: ['orders:read'] }),
    ],
    expect: [{ kind: 'requested_not_granted', issuer: CLIENT }],
  },
  {
    name: 'after learning, a mint grants a write scope the client never had; alerts once',
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ev({ time: AFTER + HOUR, token: 'esc-1', action: 'mint', issuer: CLIENT, scopes_granted: [...BASE_SCOPES, 'payments:write'] }),
      ev({ time: AFTER + 2 * HOUR, token: 'esc-2', action: 'mint', issuer: CLIENT, scopes_granted: [...BASE_SCOPES, 'payments:write'] }),
    ],
    expect: [{ kind: 'granted_beyond_baseline', issuer: CLIENT }],
  },
  {
    name: 'escalation: probing for admin scopes, then granted an admin scope it never had',
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ev({ time: AFTER + HOUR, token: 'atk-1', action: 'mint', issuer: CLIENT, scopes_requested: [...BASE_SCOPES, 'okta.apps.manage', 'okta.users.manage'], scopes_granted: BASE_SCOPES }),
      ev({ time: AFTER + 2 * HOUR, token: 'atk-2', action: 'mint', issuer: CLIENT, scopes_requested: [...BASE_SCOPES, 'okta.apps.manage'], scopes_granted: [...BASE_SCOPES, 'okta.apps.manage'] }),
      // The granted admin scope used by the token it was granted to: already reported via the grant.
      ev({ time: AFTER + 2 * HOUR + MIN, token: 'atk-2', action: 'use', issuer: CLIENT, scopes_used: ['okta.apps.manage'] }),
    ],
    expect: [
      { kind: 'requested_not_granted', issuer: CLIENT },
      { kind: 'granted_beyond_baseline', issuer: CLIENT },
    ],
  },
  {
    name: 'after learning, a use exercises an admin scope outside the baseline',
    events: [
      ...refreshLoop('aws:role/etl', T0, 26, ['s3:GetObject', 's3:PutObject']),
      ev({ time: AFTER + HOUR, token: { fp: fp('etl-key'), kind: 'sts_session' }, source: 'cloudtrail', platform: 'aws', issuer: 'aws:role/etl', scopes_used: ['iam:CreateAccessKey'] }),
    ],
    expect: [{ kind: 'used_beyond_baseline', issuer: 'aws:role/etl' }],
  },
  {
    name: 'a token uses a scope it was not granted, even during learning',
    events: [
      ev({ time: T0, token: 'narrow', action: 'mint', issuer: CLIENT, scopes_granted: ['orders:read'] }),
      ev({ time: T0 + MIN, token: 'narrow', issuer: CLIENT, scopes_used: ['orders:read', 'orders:write'] }),
      ev({ time: T0 + 2 * MIN, token: 'narrow', issuer: CLIENT, scopes_used: ['orders:write'] }),
    ],
    expect: [{ kind: 'used_beyond_baseline', issuer: CLIENT }],
  },
  {
    name: 'with alert_on_read_scopes, a new read scope after learning alerts (low)',
    config: { alert_on_read_scopes: true },
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ev({ time: AFTER + HOUR, token: 'deploy-1', action: 'mint', issuer: CLIENT, scopes_granted: [...BASE_SCOPES, 'inventory.read'] }),
    ],
    expect: [{ kind: 'granted_beyond_baseline', issuer: CLIENT }],
  },
  {
    name: 'after learning, one new PII read scope granted to the client alerts once, though read-only',
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ev({ time: AFTER + HOUR, token: 'pii-1', action: 'mint', issuer: CLIENT, scopes_granted: [...BASE_SCOPES, 'customers.pii.read'] }),
      ev({ time: AFTER + HOUR + MIN, token: 'pii-1', issuer: CLIENT, service: 'crm.example.com', scopes_used: ['customers.pii.read'] }),
      // the client keeps the scope from then on: no repeat
      ...refreshLoop(CLIENT, AFTER + 2 * HOUR, 4, [...BASE_SCOPES, 'customers.pii.read'], 'after'),
    ],
    expect: [{ kind: 'granted_beyond_baseline', issuer: CLIENT }],
  },
  {
    name: 'after learning, a token exercises a secrets read scope its issuer never used (gateway only, no grant seen)',
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ev({ time: AFTER + HOUR, token: 'gw-only', issuer: CLIENT, service: 'vault.example.com', scopes_used: ['vault.secrets.read'] }),
    ],
    expect: [{ kind: 'used_beyond_baseline', issuer: CLIENT }],
  },
  {
    name: 'a client holding light customer data is granted a heavier PII scope (SSN)',
    events: [
      ...refreshLoop(CLIENT, T0, 26, [...BASE_SCOPES, 'customers:read']),
      ev({ time: AFTER + HOUR, token: 'ssn-1', action: 'mint', issuer: CLIENT, scopes_granted: [...BASE_SCOPES, 'customers:read', 'customers.ssn.read'] }),
    ],
    expect: [{ kind: 'granted_beyond_baseline', issuer: CLIENT }],
  },
  {
    name: 'after learning, a client probes for an export scope it is refused',
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ev({ time: AFTER + HOUR, token: 'exp-1', action: 'mint', issuer: CLIENT, scopes_requested: [...BASE_SCOPES, 'reports.export'], scopes_granted: BASE_SCOPES }),
    ],
    expect: [{ kind: 'requested_not_granted', issuer: CLIENT }],
  },
  {
    name: "an estate's own sensitive pattern (ledger → finance) makes its read scope alert",
    config: { sensitive_patterns: [{ pattern: 'ledger', class: 'finance', weight: 0.8 }] },
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ev({ time: AFTER + HOUR, token: 'ledger-1', action: 'mint', issuer: CLIENT, scopes_granted: [...BASE_SCOPES, 'ledger.read'] }),
    ],
    expect: [{ kind: 'granted_beyond_baseline', issuer: CLIENT }],
  },
  {
    name: 'a sensitive read scope reaching only two clients of an app is not a rollout: both alert',
    events: byTime(
      ...APP_CLIENTS.slice(0, 2).map((c) => refreshLoop(c, T0, 26, CRM_SCOPES)),
      ...APP_CLIENTS.slice(0, 2).map((c, i) => [
        ev({ time: AFTER + HOUR + i * 2 * MIN, token: `${c}:new`, action: 'mint', issuer: c, scopes_granted: [...CRM_SCOPES, 'customers.pii.read'] }),
      ]),
      [ev({ time: AFTER + 3 * HOUR, token: 'tick', action: 'mint', issuer: APP_CLIENTS[0], scopes_granted: CRM_SCOPES })],
    ),
    expect: APP_CLIENTS.slice(0, 2).map((issuer) => ({ kind: 'granted_beyond_baseline', issuer })),
  },
];

export const negative: DetectorCase<ScopeDriftConfig>[] = [
  {
    name: 'deploy adds a non-sensitive read scope (shipments.read) after learning',
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ...refreshLoop(CLIENT, AFTER, 6, [...BASE_SCOPES, 'shipments.read'], 'deployed'),
    ],
    expect: [],
  },
  {
    name: 'a deploy adds customers.pii.read to the five clients of one app within minutes: a rollout, no page',
    events: byTime(
      ...APP_CLIENTS.map((c) => refreshLoop(c, T0, 26, CRM_SCOPES)),
      ...APP_CLIENTS.map((c, i) => refreshLoop(c, AFTER + i * 3 * MIN, 6, [...CRM_SCOPES, 'customers.pii.read'], 'deployed')),
    ),
    expect: [],
  },
  {
    name: 'a client that already reads PII gains a lighter PII read scope',
    events: [
      ...refreshLoop(CLIENT, T0, 26, [...BASE_SCOPES, 'customers.pii.read']),
      ev({ time: AFTER + HOUR, token: 'light', action: 'mint', issuer: CLIENT, scopes_granted: [...BASE_SCOPES, 'customers.pii.read', 'customers.email.read'] }),
      ev({ time: AFTER + 2 * HOUR, token: 'tick', action: 'mint', issuer: CLIENT, scopes_granted: BASE_SCOPES }),
    ],
    expect: [],
  },
  {
    name: "a brand-new issuer's first grants (PII, secrets, export) only build its baseline",
    events: [
      ...refreshLoop('okta:0oa-new-reporting', T0, 3, ['reports.export', 'openid']),
      ev({ time: T0 + 4 * HOUR, token: 'new-1', action: 'mint', issuer: 'okta:0oa-new-reporting', scopes_granted: ['reports.export', 'openid', 'customers.pii.read', 'vault.secrets.read'] }),
      ev({ time: T0 + 4 * HOUR + MIN, token: 'new-1', issuer: 'okta:0oa-new-reporting', scopes_used: ['customers.pii.read'] }),
      ...refreshLoop('okta:0oa-new-reporting', T0 + 5 * HOUR, 30, ['reports.export', 'openid', 'customers.pii.read', 'vault.secrets.read'], 'later'),
    ],
    expect: [],
  },
  {
    name: 'an OIDC client refused the phone scope while learning is not probing',
    events: [
      ev({ time: T0, token: 'oidc-phone', action: 'mint', issuer: CLIENT, scopes_requested: ['openid', 'email', 'phone'], scopes_granted: ['openid', 'email'] }),
      ...refreshLoop(CLIENT, T0 + HOUR, 30, ['openid', 'email']),
      ev({ time: T0 + 31 * HOUR, token: 'oidc-phone-2', action: 'mint', issuer: CLIENT, scopes_requested: ['openid', 'email', 'phone'], scopes_granted: ['openid', 'email'] }),
    ],
    expect: [],
  },
  {
    name: 'deploy adds a read scope after learning: absorbed without paging',
    events: [
      ...refreshLoop(CLIENT, T0, 26, BASE_SCOPES),
      ...refreshLoop(CLIENT, AFTER, 6, [...BASE_SCOPES, 'inventory.read'], 'deployed'),
      ev({ time: AFTER + 7 * HOUR, token: 'after-deploy', issuer: CLIENT, scopes_used: ['inventory.read'] }),
    ],
    expect: [],
  },
  {
    name: 'tokens refreshed every 55 minutes for three days with the same scopes',
    events: refreshLoop(CLIENT, T0, 72, BASE_SCOPES),
    expect: [],
  },
  {
    name: 'new write scope during the learning period only builds the baseline',
    events: [
      ...refreshLoop(CLIENT, T0, 4, BASE_SCOPES),
      ev({ time: T0 + 5 * HOUR, token: 'early', action: 'mint', issuer: CLIENT, scopes_granted: [...BASE_SCOPES, 'payments:write'] }),
      ...refreshLoop(CLIENT, T0 + 6 * HOUR, 24, [...BASE_SCOPES, 'payments:write'], 'later'),
    ],
    expect: [],
  },
  {
    name: 'events without an issuer are ignored',
    events: [
      ev({ time: T0, token: 'anon', action: 'mint', scopes_requested: ['okta.users.manage'], scopes_granted: [] }),
      ev({ time: T0 + MIN, token: 'anon', scopes_used: ['okta.users.manage'] }),
    ],
    expect: [],
  },
  {
    name: 'a refused read-only scope (offline_access dropped by policy) is not probing worth a page',
    events: [
      ev({ time: T0, token: 'oidc-1', action: 'mint', issuer: CLIENT, scopes_requested: ['openid', 'profile', 'offline_access'], scopes_granted: ['openid', 'profile'] }),
    ],
    expect: [],
  },
  {
    name: 'a mint without a reported grant is not a refusal',
    events: [ev({ time: T0, token: 'nogrant', action: 'mint', issuer: CLIENT, scopes_requested: ['okta.users.manage'] })],
    expect: [],
  },
];

export const scopeDriftCases = { positive, negative };
