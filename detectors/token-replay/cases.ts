/**
 * token_replay cases as data: attacks that must alert and the simulator's benign background
 * (NAT pools, refresh, autoscaling, AWS service calls, SDK upgrades) that must not.
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { DAY, ev, fp, HOUR, MIN, T0 } from '../case-helpers.js';
import type { DetectorCase } from '../types.js';
import type { TokenReplayConfig } from './config.js';

const SEC = 1000;
const GO_SDK = 'aws-sdk-go/1.50.0 (go1.21.5; linux; amd64)';
const BOTO3 = 'Boto3/1.34.10 md/Botocore#1.34.10 ua/2.0 os/linux#6.1 lang/python#3.11.7';
const OKHTTP = 'okhttp/4.12.0';
const REQUESTS = 'python-requests/2.31.0';
const NAT = { egress_ranges: [{ name: 'corp-nat', cidrs: ['203.0.113.0/28', '2001:db8:100::/48'] }] };

const sts = (name: string): TokenEvent['token'] => ({ fp: fp(name), kind: 'sts_session', hint: 'ASIA' });
const access = (name: string): TokenEvent['token'] => ({ fp: fp(name), kind: 'oauth_access' });
const refresh = (name: string): TokenEvent['token'] => ({ fp: fp(name), kind: 'oauth_refresh', one_time: true });

/** A CloudTrail API call authenticated by an STS session key. */
const awsUse = (time: number, token: TokenEvent['token'], ip: string | undefined, ua: string, extra: Partial<TokenEvent> = {}): TokenEvent =>
  ev({
    time,
    token,
    source: 'cloudtrail',
    platform: 'aws',
    action: 'use',
    service: 's3.amazonaws.com',
    operation: 'GetObject',
    outcome: 'success',
    ...(ip !== undefined && { network: { ip } }),
    user_agent: ua,
    ...extra,
  });

/** A gateway (Kong) call with an OAuth access token. */
const gatewayUse = (time: number, token: TokenEvent['token'], ip: string, ua: string, extra: Partial<TokenEvent> = {}): TokenEvent =>
  ev({ time, token, source: 'kong', platform: 'gateway', action: 'use', service: 'orders-api', outcome: 'success', network: { ip }, user_agent: ua, ...extra });

/** An Okta token grant; `parent` is the redeemed refresh token. */
const oktaMint = (time: number, token: TokenEvent['token'], ip: string, ua: string, parent?: string, extra: Partial<TokenEvent> = {}): TokenEvent =>
  ev({
    time,
    token,
    action: 'mint',
    issuer: 'client:0oa-orders-worker',
    operation: parent ? 'app.oauth2.as.token.grant.refresh_token' : 'app.oauth2.as.token.grant',
    network: { ip },
    user_agent: ua,
    // Access tokens live an hour, refresh tokens 30 days.
    expires_at: time + (token.kind === 'oauth_refresh' ? 30 * DAY : 60 * MIN),
    ...(parent !== undefined && { parent_fp: fp(parent) }),
    ...extra,
  });

const STS_MINT = (time: number, token: TokenEvent['token'], workload?: string): TokenEvent =>
  ev({
    time,
    token,
    source: 'cloudtrail',
    platform: 'aws',
    action: 'mint',
    operation: 'AssumeRole',
    issuer: 'arn:aws:iam::111122223333:role/orders-worker',
    network: { label: 'ec2.amazonaws.com' },
    user_agent: 'ec2.amazonaws.com',
    expires_at: time + 60 * MIN,
    ...(workload !== undefined && { workload: { kind: 'ec2_instance' as const, id: workload } }),
  });

/** One NAT-pool IP per call: 203.0.113.1 … 203.0.113.14. */
const natIp = (i: number): string => `203.0.113.${(i % 14) + 1}`;

// Refresh-token rotation: R1 redeemed at +55 min for A2 + R2 (one Okta event, two token events).
const rotation = (): TokenEvent[] => [
  oktaMint(T0, refresh('rt-1'), '203.0.113.5', OKHTTP),
  oktaMint(T0 + 55 * MIN, access('at-2'), '203.0.113.5', OKHTTP, 'rt-1', { event_id: 'okta:grant-2:0' }),
  oktaMint(T0 + 55 * MIN, refresh('rt-2'), '203.0.113.5', OKHTTP, 'rt-1', { event_id: 'okta:grant-2:1' }),
];

/**
 * A gateway fleet whose clocks run `offsetMin` behind the IdP on some nodes: tokens minted at the
 * IdP are logged as used before their mint. Returns the events of `n` such tokens from `start`.
 */
function skewedFleet(start: number, offsetMin: number, n: number): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (let i = 0; i < n; i++) {
    const tok = access(`skew-${offsetMin}-${i}`);
    out.push(oktaMint(start + i * MIN, tok, '203.0.113.5', OKHTTP), gatewayUse(start + i * MIN + 5 * SEC - offsetMin * MIN, tok, '203.0.113.5', OKHTTP));
  }
  return out.sort((a, b) => a.time - b.time);
}

/** A token minted, used, revoked at +30 min, and presented again `afterRevokeSec` after the revoke (gateway clock). */
function revokedThenPresented(name: string, afterRevokeSec: number): TokenEvent[] {
  const tok = access(name);
  return [
    oktaMint(T0 + 2 * HOUR, tok, '203.0.113.7', OKHTTP),
    gatewayUse(T0 + 2 * HOUR + MIN, tok, '203.0.113.7', OKHTTP),
    ev({ time: T0 + 2 * HOUR + 30 * MIN, token: tok, action: 'revoke', operation: 'app.oauth2.as.token.revoke' }),
    gatewayUse(T0 + 2 * HOUR + 30 * MIN + afterRevokeSec * SEC, tok, '203.0.113.7', OKHTTP),
  ];
}

export const positiveCases: readonly DetectorCase<TokenReplayConfig>[] = [
  {
    name: 'use 10 minutes after revocation at a gateway fleet whose clocks run 4 min off (learned) still alerts',
    events: [...skewedFleet(T0, 4, 5), ...revokedThenPresented('at-late-10', 600)],
    expect: [{ kind: 'use_after_revocation', token_fp: fp('at-late-10') }],
  },
  {
    name: 'Okta access token revoked, then still accepted at the gateway',
    events: [
      oktaMint(T0, access('at-revoked'), '203.0.113.7', OKHTTP),
      gatewayUse(T0 + 2 * MIN, access('at-revoked'), '203.0.113.7', OKHTTP),
      ev({ time: T0 + 10 * MIN, token: access('at-revoked'), action: 'revoke', operation: 'app.oauth2.as.token.revoke' }),
      gatewayUse(T0 + 20 * MIN, access('at-revoked'), '203.0.113.7', OKHTTP),
    ],
    expect: [{ kind: 'use_after_revocation', token_fp: fp('at-revoked') }],
  },
  {
    // the IdP's revocation is delivered after the gateway's later use (another source, logged late):
    // processed in this order, the use is judged when the revocation arrives
    name: 'revocation logged after an accepted use it precedes still alerts',
    events: [
      oktaMint(T0, access('at-revoked-late'), '203.0.113.7', OKHTTP),
      gatewayUse(T0 + 2 * MIN, access('at-revoked-late'), '203.0.113.7', OKHTTP),
      gatewayUse(T0 + 20 * MIN, access('at-revoked-late'), '198.51.100.40', REQUESTS),
      ev({ time: T0 + 10 * MIN, token: access('at-revoked-late'), action: 'revoke', operation: 'app.oauth2.as.token.revoke' }),
    ],
    expect: [{ kind: 'use_after_revocation', token_fp: fp('at-revoked-late') }],
  },
  {
    name: 'revoked token presented from elsewhere is flagged even when refused',
    events: [
      gatewayUse(T0, access('at-revoked-2'), '203.0.113.7', OKHTTP),
      ev({ time: T0 + 10 * MIN, token: access('at-revoked-2'), action: 'revoke' }),
      // Home context refused: the revocation working, no alert.
      gatewayUse(T0 + 12 * MIN, access('at-revoked-2'), '203.0.113.7', OKHTTP, { outcome: 'failure' }),
      gatewayUse(T0 + 15 * MIN, access('at-revoked-2'), '198.51.100.40', REQUESTS, { outcome: 'failure' }),
    ],
    expect: [{ kind: 'use_after_revocation', token_fp: fp('at-revoked-2') }],
  },
  {
    name: 'STS session accepted after its mint-time expiry',
    events: [
      STS_MINT(T0, sts('sess-expired')),
      awsUse(T0 + 5 * MIN, sts('sess-expired'), '10.0.3.14', GO_SDK),
      // Refused after expiry: AWS working as designed.
      awsUse(T0 + 62 * MIN, sts('sess-expired'), '10.0.3.14', GO_SDK, { outcome: 'failure' }),
      awsUse(T0 + 75 * MIN, sts('sess-expired'), '10.0.3.14', GO_SDK),
    ],
    expect: [{ kind: 'use_after_expiry', token_fp: fp('sess-expired') }],
  },
  {
    name: 'gateway accepts a JWT past its own exp',
    events: [
      gatewayUse(T0, access('jwt-exp'), '10.1.0.8', OKHTTP, { expires_at: T0 + 30 * MIN }),
      gatewayUse(T0 + 45 * MIN, access('jwt-exp'), '10.1.0.8', OKHTTP, { expires_at: T0 + 30 * MIN }),
    ],
    expect: [{ kind: 'use_after_expiry', token_fp: fp('jwt-exp') }],
  },
  {
    name: 'rotating refresh token redeemed again after rotation',
    events: [
      ...rotation(),
      oktaMint(T0 + 120 * MIN, access('at-x'), '198.51.100.77', REQUESTS, 'rt-1', { event_id: 'okta:grant-x:0' }),
      oktaMint(T0 + 120 * MIN, refresh('rt-x'), '198.51.100.77', REQUESTS, 'rt-1', { event_id: 'okta:grant-x:1' }),
    ],
    expect: [{ kind: 'one_time_reuse', token_fp: fp('rt-1') }],
  },
  {
    name: 'one-time token used twice (second use well after the refresh grace)',
    events: [
      gatewayUse(T0, { fp: fp('code-1'), kind: 'unknown', one_time: true }, '10.1.0.8', OKHTTP),
      gatewayUse(T0 + 3 * MIN, { fp: fp('code-1'), kind: 'unknown', one_time: true }, '10.1.0.8', OKHTTP),
    ],
    expect: [{ kind: 'one_time_reuse', token_fp: fp('code-1') }],
  },
  {
    name: 'Okta token.detect_reuse surfaced',
    events: [
      ...rotation(),
      ev({
        time: T0 + 90 * MIN,
        token: refresh('rt-1'),
        action: 'reuse_signal',
        operation: 'app.oauth2.as.token.detect_reuse',
        signal: 'token.detect_reuse',
        network: { ip: '198.51.100.77' },
      }),
    ],
    expect: [{ kind: 'vendor_reuse_signal', token_fp: fp('rt-1') }],
  },
  {
    name: 'Auth0 ferrt (failed exchange: rotating refresh token reused) surfaced',
    events: [
      ev({
        time: T0,
        token: refresh('auth0-rt'),
        source: 'auth0',
        platform: 'auth0',
        action: 'reuse_signal',
        operation: 'ferrt',
        signal: 'ferrt',
        outcome: 'failure',
      }),
    ],
    expect: [{ kind: 'vendor_reuse_signal', token_fp: fp('auth0-rt') }],
  },
];

export const negativeCases: readonly DetectorCase<TokenReplayConfig>[] = [
  {
    name: 'revocation logged late: uses before it, and a refused retry after it, are not findings',
    events: [
      oktaMint(T0, access('at-revoked-late-ok'), '203.0.113.7', OKHTTP),
      gatewayUse(T0 + 9 * MIN, access('at-revoked-late-ok'), '203.0.113.7', OKHTTP),
      gatewayUse(T0 + 20 * MIN, access('at-revoked-late-ok'), '203.0.113.7', OKHTTP, { outcome: 'failure' }),
      ev({ time: T0 + 10 * MIN, token: access('at-revoked-late-ok'), action: 'revoke', operation: 'app.oauth2.as.token.revoke' }),
    ],
    expect: [],
  },
  {
    name: 'gateway node 90 s ahead: a request drained at pod shutdown is logged 90 s after the revoke',
    events: revokedThenPresented('at-drained-90', 90),
    expect: [],
  },
  {
    name: 'gateway fleet 4 min off (learned from uses logged before their mint): a drained request 4 min after the revoke',
    events: [...skewedFleet(T0, 4, 5), ...revokedThenPresented('at-drained-240', 240)],
    expect: [],
  },
  {
    name: 'NAT pool: egress IP rotates inside one declared range, same UA',
    config: NAT,
    events: Array.from({ length: 12 }, (_, i) => awsUse(T0 + i * 5 * MIN, sts('sess-nat'), natIp(i), BOTO3)),
    expect: [],
  },
  {
    name: 'two tools behind one declared IPv6 egress range',
    config: NAT,
    events: [
      gatewayUse(T0, access('at-nat6'), '2001:db8:100:1::10', OKHTTP),
      gatewayUse(T0 + 1 * MIN, access('at-nat6'), '2001:db8:100:ffff::2', 'curl/8.4.0'),
      gatewayUse(T0 + 2 * MIN, access('at-nat6'), '::ffff:203.0.113.3', REQUESTS),
    ],
    expect: [],
  },
  {
    name: 'IP change outside declared ranges with the same ASN and UA',
    events: [
      gatewayUse(T0, access('at-asn'), '198.51.100.10', OKHTTP, { network: { ip: '198.51.100.10', asn: 'AS64500' } }),
      gatewayUse(T0 + 5 * MIN, access('at-asn'), '192.0.2.44', OKHTTP, { network: { ip: '192.0.2.44', asn: 'AS64500' } }),
    ],
    expect: [],
  },
  {
    name: 'same /24 treated as one network when configured (different UA)',
    config: { same_subnet_is_same_network: true },
    events: [
      gatewayUse(T0, access('at-subnet'), '10.2.7.10', OKHTTP),
      gatewayUse(T0 + 5 * MIN, access('at-subnet'), '10.2.7.200', 'curl/8.4.0'),
    ],
    expect: [],
  },
  {
    name: 'STS refresh every 55 min: old session used a few seconds after the new one is minted',
    events: [
      STS_MINT(T0, sts('sess-r1')),
      awsUse(T0 + 1 * MIN, sts('sess-r1'), '10.0.3.14', GO_SDK),
      awsUse(T0 + 50 * MIN, sts('sess-r1'), '10.0.3.14', GO_SDK),
      STS_MINT(T0 + 55 * MIN, sts('sess-r2')),
      awsUse(T0 + 55 * MIN + 4 * SEC, sts('sess-r1'), '10.0.3.14', GO_SDK),
      awsUse(T0 + 56 * MIN, sts('sess-r2'), '10.0.3.14', GO_SDK),
      STS_MINT(T0 + 110 * MIN, sts('sess-r3')),
      awsUse(T0 + 110 * MIN + 3 * SEC, sts('sess-r2'), '10.0.3.14', GO_SDK),
      awsUse(T0 + 111 * MIN, sts('sess-r3'), '10.0.3.14', GO_SDK),
    ],
    expect: [],
  },
  {
    name: 'refresh grace: rotated (and revoked) refresh token retried from the same client',
    events: [
      ...rotation(),
      ev({ time: T0 + 55 * MIN, token: refresh('rt-1'), action: 'revoke', operation: 'app.oauth2.as.token.revoke' }),
      oktaMint(T0 + 55 * MIN + 12 * SEC, access('at-2b'), '203.0.113.6', OKHTTP, 'rt-1', { event_id: 'okta:grant-2b:0' }),
      gatewayUse(T0 + 56 * MIN, access('at-2'), '203.0.113.5', OKHTTP),
    ],
    config: { ...NAT, clock_skew_seconds: 5 },
    expect: [],
  },
  {
    name: 'one Okta refresh grant emitted as two token events is one redemption (no grace)',
    events: rotation(),
    config: { refresh_grace_seconds: 0 },
    expect: [],
  },
  {
    name: 'mint routed to both keys and delivered twice is one redemption',
    events: (() => {
      const redeem = oktaMint(T0 + 55 * MIN, refresh('rt-dup-2'), '203.0.113.5', OKHTTP, 'rt-dup-1');
      return [oktaMint(T0, refresh('rt-dup-1'), '203.0.113.5', OKHTTP), redeem, redeem];
    })(),
    config: { refresh_grace_seconds: 0 },
    expect: [],
  },
  {
    name: 'issuer sees the public egress and token SDK at mint, the gateway sees the private IP and app UA',
    events: [
      oktaMint(T0, access('at-vantage'), '198.51.100.60', 'okta-sdk-java/8.2.0'),
      gatewayUse(T0 + 1 * SEC, access('at-vantage'), '10.1.2.3', OKHTTP),
      gatewayUse(T0 + 5 * MIN, access('at-vantage'), '10.1.2.3', OKHTTP),
    ],
    expect: [],
  },
  {
    name: 'autoscaling: new replicas get new tokens',
    events: Array.from({ length: 6 }, (_, i) => [
      STS_MINT(T0 + i * 3 * MIN, sts(`sess-replica-${i}`)),
      awsUse(T0 + i * 3 * MIN + 20 * SEC, sts(`sess-replica-${i}`), `10.0.4.${20 + i}`, GO_SDK),
      awsUse(T0 + i * 3 * MIN + 80 * SEC, sts(`sess-replica-${i}`), `10.0.4.${20 + i}`, GO_SDK),
    ]).flat(),
    expect: [],
  },
  {
    name: 'AWS service-to-service calls (no IP) between the workload calls',
    events: [
      awsUse(T0, sts('sess-svc'), '10.0.3.14', GO_SDK),
      awsUse(T0 + 1 * MIN, sts('sess-svc'), undefined, 'ec2.amazonaws.com', { network: { label: 'ec2.amazonaws.com' } }),
      awsUse(T0 + 2 * MIN, sts('sess-svc'), undefined, 'cloudformation.amazonaws.com', {
        network: { label: 'cloudformation.amazonaws.com' },
      }),
      awsUse(T0 + 3 * MIN, sts('sess-svc'), 'AWS Internal', 'AWS Internal'),
      awsUse(T0 + 4 * MIN, sts('sess-svc'), '10.0.3.14', GO_SDK),
    ],
    expect: [],
  },
  {
    name: 'SDK upgrade and pod reschedule (new IP, same UA family)',
    events: [
      awsUse(T0, sts('sess-upg'), '10.0.5.10', 'aws-sdk-go/1.44.0 (go1.20; linux; amd64)'),
      awsUse(T0 + 10 * MIN, sts('sess-upg'), '10.0.9.77', 'aws-sdk-go/1.50.3 (go1.21.5; linux; amd64)'),
      awsUse(T0 + 11 * MIN, sts('sess-upg'), '10.0.9.77', '[aws-sdk-go/1.50.3 (go1.21.5; linux; amd64) exec-env/AWS_ECS_EC2]'),
    ],
    expect: [],
  },
  {
    name: 'expired STS session refused by AWS',
    events: [
      STS_MINT(T0, sts('sess-refused')),
      awsUse(T0 + 10 * MIN, sts('sess-refused'), '10.0.3.14', GO_SDK),
      awsUse(T0 + 70 * MIN, sts('sess-refused'), '10.0.3.14', GO_SDK, { outcome: 'failure' }),
    ],
    expect: [],
  },
  {
    name: 'static key moves to a new host after the old one went quiet beyond the window',
    events: [
      gatewayUse(T0, { fp: fp('api-key-move'), kind: 'api_key' }, '10.7.0.5', 'Go-http-client/1.1'),
      gatewayUse(T0 + 30 * MIN, { fp: fp('api-key-move'), kind: 'api_key' }, '10.7.0.5', 'Go-http-client/1.1'),
      gatewayUse(T0 + 3 * 60 * MIN, { fp: fp('api-key-move'), kind: 'api_key' }, '10.9.1.12', 'python-httpx/0.27.0'),
    ],
    expect: [],
  },
  {
    name: 'use just inside the clock skew after revocation',
    events: [
      gatewayUse(T0, access('at-skew'), '10.1.0.8', OKHTTP),
      ev({ time: T0 + 10 * MIN, token: access('at-skew'), action: 'revoke' }),
      gatewayUse(T0 + 10 * MIN + 30 * SEC, access('at-skew'), '10.1.0.8', OKHTTP),
    ],
    expect: [],
  },
];
