/** cross_service_reuse cases as data: the attacks it must catch and the benign background it must not page on. */
import type { TokenEvent } from '../../schemas/token-event.js';
import { HOUR, MIN, T0, ev, fp } from '../case-helpers.js';
import type { DetectorCase } from '../types.js';
import type { CrossServiceReuseConfig } from './config.js';

const sts = (name: string): TokenEvent['token'] => ({ fp: fp(name), kind: 'sts_session', hint: 'ASIA' });
const k8s = (name: string): TokenEvent['token'] => ({ fp: fp(name), kind: 'k8s_sa_token' });
const ROLE = 'aws:arn:aws:iam::111122223333:role/orders-worker';
const INSTANCE = { kind: 'ec2_instance', id: 'i-0a1b2c3d4e5f60718' } as const;
const SDK_UA = 'aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5';

/** An instance-role session as CloudTrail shows it: minted by the EC2 service, used from inside the VPC. */
function instanceSession(name: string, from: number): TokenEvent[] {
  return [
    ev({ time: from, token: sts(name), source: 'cloudtrail', platform: 'aws', action: 'mint', issuer: ROLE, operation: 'AssumeRole', network: { ip: 'ec2.amazonaws.com', label: 'ec2.amazonaws.com' }, workload: INSTANCE, expires_at: from + 6 * HOUR }),
    ev({ time: from + MIN, token: sts(name), source: 'cloudtrail', platform: 'aws', issuer: ROLE, service: 's3.amazonaws.com', operation: 'GetObject', network: { ip: '10.0.3.17' }, user_agent: SDK_UA, workload: INSTANCE }),
    ev({ time: from + 2 * MIN, token: sts(name), source: 'cloudtrail', platform: 'aws', issuer: ROLE, service: 'kms.amazonaws.com', operation: 'Decrypt', network: { ip: 's3.amazonaws.com', label: 's3.amazonaws.com' }, workload: INSTANCE }),
  ];
}

/** An Okta client-credentials token minted for `audience` and used at the gateway for `service`. */
function gatewayToken(name: string, time: number, audience: string[], service: string): TokenEvent[] {
  return [
    ev({ time, token: name, action: 'mint', issuer: 'okta:0oa-checkout', audience }),
    ev({ time: time + MIN, token: name, source: 'kong', platform: 'gateway', issuer: 'okta:0oa-checkout', service, network: { ip: '10.1.0.8' } }),
  ];
}

export const positive: DetectorCase<CrossServiceReuseConfig>[] = [
  {
    name: 'gateway token minted for payments used at orders',
    events: gatewayToken('pay-tok', T0, ['https://payments.example.com'], 'orders.example.com'),
    expect: [{ kind: 'audience_mismatch', token_fp: fp('pay-tok') }],
  },
  {
    name: 'audience known only from the aud claim at the gateway, alerts once',
    events: [
      ev({ time: T0, token: 'aud-only', source: 'envoy', platform: 'gateway', audience: ['https://payments.example.com'], service: 'https://orders.example.com/v1/orders' }),
      ev({ time: T0 + MIN, token: 'aud-only', source: 'envoy', platform: 'gateway', audience: ['https://payments.example.com'], service: 'https://orders.example.com/v1/orders' }),
    ],
    expect: [{ kind: 'audience_mismatch', token_fp: fp('aud-only') }],
  },
  {
    name: 'EC2 instance credentials used from a public IP outside the declared workload networks, with a different user agent',
    config: { workload_networks: ['10.0.0.0/8', '198.51.100.0/28'] },
    events: [
      ...instanceSession('stolen-imds', T0),
      ev({ time: T0 + 40 * MIN, token: sts('stolen-imds'), source: 'cloudtrail', platform: 'aws', issuer: ROLE, service: 'sts.amazonaws.com', operation: 'GetCallerIdentity', network: { ip: '198.51.100.23' }, user_agent: 'aws-cli/2.15.30 Python/3.11.8 Linux/6.6.9-kali' }),
    ],
    expect: [{ kind: 'workload_escape', token_fp: fp('stolen-imds') }],
  },
  {
    name: 'pod service-account token used from outside the declared cluster networks',
    config: { cluster_networks: ['10.244.0.0/16'] },
    events: [
      ev({ time: T0, token: k8s('pod-tok'), source: 'k8s_audit', platform: 'k8s', issuer: 'k8s:orders:orders-sa', workload: { kind: 'k8s_pod', id: 'orders/orders-api-5c4f7' }, network: { ip: '10.244.1.5' } }),
      ev({ time: T0 + 10 * MIN, token: k8s('pod-tok'), source: 'k8s_audit', platform: 'k8s', issuer: 'k8s:orders:orders-sa', network: { ip: '203.0.113.9' }, operation: 'list secrets' }),
    ],
    expect: [{ kind: 'workload_escape', token_fp: fp('pod-tok') }],
  },
  {
    name: 'pod token presented by a different pod',
    events: [
      ev({ time: T0, token: k8s('pod-tok-2'), source: 'k8s_audit', platform: 'k8s', workload: { kind: 'k8s_pod', id: 'orders/orders-api-5c4f7' }, network: { ip: '10.244.1.5' } }),
      ev({ time: T0 + MIN, token: k8s('pod-tok-2'), source: 'k8s_audit', platform: 'k8s', workload: { kind: 'k8s_pod', id: 'tools/debug-shell' }, network: { ip: '10.244.7.2' } }),
    ],
    expect: [{ kind: 'workload_escape', token_fp: fp('pod-tok-2') }],
  },
  {
    name: 'CI OIDC credential used after its job window',
    events: [
      ev({ time: T0, token: sts('ci-cred'), source: 'cloudtrail', platform: 'aws', action: 'mint', issuer: 'aws:role/gha-deploy', operation: 'AssumeRoleWithWebIdentity', workload: { kind: 'ci_oidc', id: 'github:acme/shop:run/9123' }, expires_at: T0 + HOUR }),
      ev({ time: T0 + 20 * MIN, token: sts('ci-cred'), source: 'cloudtrail', platform: 'aws', issuer: 'aws:role/gha-deploy', network: { ip: '20.42.1.10' } }),
      ev({ time: T0 + 3 * HOUR, token: sts('ci-cred'), source: 'cloudtrail', platform: 'aws', issuer: 'aws:role/gha-deploy', network: { ip: '20.42.1.10' } }),
    ],
    expect: [{ kind: 'workload_escape', token_fp: fp('ci-cred') }],
  },
  {
    name: 'CI credential used from outside declared CI networks',
    config: { ci_networks: ['20.42.0.0/16'] },
    events: [
      ev({ time: T0, token: sts('ci-cred-2'), source: 'cloudtrail', platform: 'aws', action: 'mint', workload: { kind: 'ci_oidc', id: 'github:acme/shop:run/9124' }, expires_at: T0 + HOUR }),
      ev({ time: T0 + 10 * MIN, token: sts('ci-cred-2'), source: 'cloudtrail', platform: 'aws', network: { ip: '192.0.2.77' } }),
    ],
    expect: [{ kind: 'workload_escape', token_fp: fp('ci-cred-2') }],
  },
  {
    name: 'STS session key seen at the API gateway',
    events: [
      ev({ time: T0, token: sts('sts-at-gw'), source: 'cloudtrail', platform: 'aws', issuer: ROLE, service: 's3.amazonaws.com', network: { ip: '10.0.3.17' } }),
      ev({ time: T0 + 5 * MIN, token: sts('sts-at-gw'), source: 'kong', platform: 'gateway', service: 'orders.example.com', network: { ip: '198.51.100.40' } }),
    ],
    expect: [{ kind: 'cross_platform', token_fp: fp('sts-at-gw') }],
  },
  {
    name: 'GCP access token replayed against AWS',
    events: [
      ev({ time: T0, token: { fp: fp('gcp-tok'), kind: 'gcp_access' }, source: 'gcp_audit', platform: 'gcp', action: 'mint' }),
      ev({ time: T0 + MIN, token: { fp: fp('gcp-tok'), kind: 'unknown' }, source: 'cloudtrail', platform: 'aws' }),
    ],
    expect: [{ kind: 'cross_platform', token_fp: fp('gcp-tok') }],
  },
];

export const negative: DetectorCase<CrossServiceReuseConfig>[] = [
  {
    name: 'Okta-minted token used at the gateway for its own audience (host, subdomain, URL forms)',
    events: [
      ...gatewayToken('orders-tok', T0, ['https://orders.example.com'], 'orders.example.com'),
      ev({ time: T0 + 2 * MIN, token: 'orders-tok', source: 'kong', platform: 'gateway', service: 'https://api.orders.example.com:443/v2/orders' }),
    ],
    expect: [],
  },
  {
    name: "Okta default authorization server audience (api://default) is not a service and isn't compared",
    events: gatewayToken('default-aud', T0, ['api://default'], 'orders.example.com'),
    expect: [],
  },
  {
    name: 'Entra-minted token with an opaque app-id audience used at the gateway',
    events: [
      ev({ time: T0, token: 'entra-tok', source: 'entra_signin', platform: 'azure', action: 'mint', audience: ['api://7f3c1a52-2d8e-4b7a-9a0c-3f6b2e1d9c44'] }),
      ev({ time: T0 + MIN, token: 'entra-tok', source: 'envoy', platform: 'gateway', service: 'orders.example.com' }),
    ],
    expect: [],
  },
  {
    name: 'audience alias maps the payments audience to its internal service name',
    config: { audience_aliases: { 'https://payments.example.com': ['payments.svc.internal.example.net'] } },
    events: gatewayToken('alias-tok', T0, ['https://payments.example.com'], 'payments.svc.internal.example.net'),
    expect: [],
  },
  {
    name: 'tokens refreshed every 55 minutes, each used at the gateway',
    events: Array.from({ length: 30 }, (_, i) =>
      gatewayToken(`refresh-${i}`, T0 + i * 55 * MIN, ['https://orders.example.com'], 'orders.example.com'),
    ).flat(),
    expect: [],
  },
  {
    name: 'EC2 instance-role sessions used from private 10.x IPs and via AWS services',
    events: [...instanceSession('imds-a', T0), ...instanceSession('imds-b', T0 + 6 * HOUR)],
    expect: [],
  },
  {
    name: 'STS session with a role-service audience used at other AWS services (AWS sessions are not audience-bound)',
    events: [
      ev({ time: T0, token: sts('role-aud'), source: 'cloudtrail', platform: 'aws', action: 'mint', audience: ['ec2.amazonaws.com'] }),
      ev({ time: T0 + MIN, token: sts('role-aud'), source: 'cloudtrail', platform: 'aws', service: 's3.amazonaws.com', network: { ip: '10.0.0.5' } }),
    ],
    expect: [],
  },
  {
    name: 'instance-role session from a NAT egress IP declared in workload_networks',
    config: { workload_networks: ['10.0.0.0/8', '198.51.100.0/28'] },
    events: [
      ...instanceSession('nat-egress', T0),
      ev({ time: T0 + 5 * MIN, token: sts('nat-egress'), source: 'cloudtrail', platform: 'aws', service: 'sqs.amazonaws.com', network: { ip: '198.51.100.5' }, user_agent: SDK_UA }),
    ],
    expect: [],
  },
  {
    name: 'pod token used inside the cluster networks; CI credential used within its window',
    events: [
      ev({ time: T0, token: k8s('pod-ok'), source: 'k8s_audit', platform: 'k8s', workload: { kind: 'k8s_pod', id: 'orders/orders-api-5c4f7' }, network: { ip: '10.244.1.5' } }),
      ev({ time: T0 + MIN, token: sts('ci-ok'), source: 'cloudtrail', platform: 'aws', action: 'mint', workload: { kind: 'ci_oidc', id: 'github:acme/shop:run/9125' }, expires_at: T0 + HOUR }),
      ev({ time: T0 + 50 * MIN, token: sts('ci-ok'), source: 'cloudtrail', platform: 'aws', network: { ip: '20.42.1.10' } }),
      ev({ time: T0 + HOUR, token: k8s('pod-ok'), source: 'k8s_audit', platform: 'k8s', workload: { kind: 'k8s_pod', id: 'orders/orders-api-5c4f7' }, network: { ip: '10.244.1.5' } }),
    ],
    expect: [],
  },
];

export const crossServiceReuseCases = { positive, negative };
