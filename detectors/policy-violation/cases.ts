/** policy_violation cases as data: mints outside a declared rule, and mints inside it or not judged. */
import type { Policy } from '../../schemas/policy.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { HOUR, MIN, T0, ev, fp } from '../case-helpers.js';
import type { DetectorCase } from '../types.js';
import type { PolicyViolationConfig } from './config.js';

const OKTA_CLIENT = 'okta:0oa-orders-worker';
const ROLE = 'aws:arn:aws:iam::111122223333:role/orders-worker';

const POLICY: Policy = {
  version: 1,
  default: 'allow',
  rules: [
    {
      id: 'orders-worker-okta',
      issuer: OKTA_CLIENT,
      token_kinds: ['oauth_access'],
      scopes: ['orders:*', 'inventory:read'],
      audiences: ['https://orders.example.com'],
      max_lifetime_seconds: 3600,
      networks: ['203.0.113.0/24'],
    },
    {
      id: 'orders-role',
      issuer: 'aws:arn:aws:iam::111122223333:role/orders-*',
      token_kinds: ['sts_session'],
      max_lifetime_seconds: 6 * 3600,
      asns: ['AS16509'],
      network_labels: ['ec2.amazonaws.com'],
    },
  ],
};
const config = { policy: POLICY };

/** An Okta client-credentials mint as the okta normalizer emits it. */
function oktaMint(name: string, over: Partial<TokenEvent> = {}): TokenEvent {
  return ev({
    time: T0,
    token: name,
    action: 'mint',
    issuer: OKTA_CLIENT,
    operation: 'app.oauth2.as.token.grant.access_token',
    scopes_granted: ['orders:read', 'orders:write'],
    audience: ['https://orders.example.com'],
    issued_at: T0,
    expires_at: T0 + HOUR,
    network: { ip: '203.0.113.7' },
    outcome: 'success',
    ...over,
  });
}

const sts = (name: string): TokenEvent['token'] => ({ fp: fp(name), kind: 'sts_session', hint: 'ASIA' });
function roleMint(name: string, over: Partial<TokenEvent> = {}): TokenEvent {
  return ev({ time: T0, token: sts(name), source: 'cloudtrail', platform: 'aws', action: 'mint', issuer: ROLE, operation: 'AssumeRole', network: { ip: 'ec2.amazonaws.com', label: 'ec2.amazonaws.com' }, expires_at: T0 + 6 * HOUR, ...over });
}

export const positive: DetectorCase<PolicyViolationConfig>[] = [
  {
    name: 'client granted an admin scope outside its rule',
    config,
    events: [oktaMint('ok-1'), oktaMint('admin-tok', { time: T0 + MIN, scopes_granted: ['orders:read', 'admin:users'] })],
    expect: [{ kind: 'scope_not_allowed', token_fp: fp('admin-tok'), issuer: OKTA_CLIENT }],
  },
  {
    name: 'client mints from an address outside its network',
    config,
    events: [oktaMint('net-tok', { network: { ip: '198.51.100.23', asn: '64500' } })],
    expect: [{ kind: 'network_not_allowed', token_fp: fp('net-tok'), issuer: OKTA_CLIENT }],
  },
  {
    name: 'client mints for a foreign audience',
    config,
    events: [oktaMint('aud-tok', { audience: ['https://payments.example.com'] })],
    expect: [{ kind: 'audience_not_allowed', token_fp: fp('aud-tok') }],
  },
  {
    name: 'client mints a token living a day',
    config,
    events: [oktaMint('long-tok', { expires_at: T0 + 24 * HOUR })],
    expect: [{ kind: 'lifetime_exceeded', token_fp: fp('long-tok') }],
  },
  {
    name: 'client mints a refresh token its rule does not allow',
    config,
    events: [oktaMint('refresh-tok', { token: { fp: fp('refresh-tok'), kind: 'oauth_refresh', one_time: true } })],
    expect: [{ kind: 'token_kind_not_allowed', token_fp: fp('refresh-tok') }],
  },
  {
    name: 'role assumed from outside AWS (a public IP of another ASN)',
    config,
    events: [roleMint('role-ok'), roleMint('role-out', { time: T0 + MIN, network: { ip: '192.0.2.50', asn: '64501' } })],
    expect: [{ kind: 'network_not_allowed', token_fp: fp('role-out'), issuer: ROLE }],
  },
  {
    name: 'default deny: an issuer no rule names mints',
    config: { policy: { ...POLICY, default: 'deny' } },
    events: [oktaMint('rogue-tok', { issuer: 'okta:0oa-unknown-client' })],
    expect: [{ kind: 'unlisted_issuer', issuer: 'okta:0oa-unknown-client' }],
  },
];

export const negative: DetectorCase<PolicyViolationConfig>[] = [
  {
    name: 'mints inside their rules (scope glob, AWS ASN, service-principal label)',
    config,
    events: [
      oktaMint('in-1'),
      oktaMint('in-2', { time: T0 + MIN, scopes_granted: ['inventory:read', 'orders:refund'] }),
      roleMint('in-3', { time: T0 + 2 * MIN }),
      roleMint('in-4', { time: T0 + 3 * MIN, network: { ip: '52.95.110.1', asn: '16509' } }),
    ],
    expect: [],
  },
  {
    name: 'uses are not judged, only mints',
    config,
    events: [oktaMint('use-tok', { action: 'use', scopes_used: ['admin:users'], network: { ip: '198.51.100.9' } })],
    expect: [],
  },
  {
    name: 'a refused mint minted nothing',
    config,
    events: [oktaMint('refused', { outcome: 'failure', scopes_requested: ['admin:users'], scopes_granted: undefined })],
    expect: [],
  },
  {
    name: 'default allow: an issuer no rule names is not judged',
    config,
    events: [oktaMint('other-client', { issuer: 'okta:0oa-reporting', scopes_granted: ['admin:users'] })],
    expect: [],
  },
  {
    name: 'no policy configured: nothing is judged',
    events: [oktaMint('nopolicy', { scopes_granted: ['admin:users'], network: { ip: '198.51.100.23' } })],
    expect: [],
  },
];

export const policyViolationCases = { positive, negative };
