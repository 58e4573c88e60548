/**
 * credential_context cases as data: estates shaped like production that must stay quiet (NAT pools
 * across /24s, app + sidecar with two SDKs, VPC endpoint + NAT, CGNAT mobile clients, a NAT move,
 * a new fleet) and thefts that must alert (same region and SDK, foreign ASN, a private address).
 */
import type { TokenEvent } from '../../schemas/token-event.js';
import { ev, fp, HOUR, MIN, T0 } from '../case-helpers.js';
import type { DetectorCase } from '../types.js';
import type { CredentialContextConfig } from './config.js';

const BOTO3 = 'Boto3/1.34.10 md/Botocore#1.34.10 ua/2.0 os/linux#6.1 lang/python#3.11.7';
const GO_SDK = 'aws-sdk-go-v2/1.25.0 os/linux lang/go#1.22';
const OKHTTP = 'okhttp/4.12.0';
const ROLE = 'arn:aws:iam::111122223333:role/batch-worker';

interface Net {
  ip: string;
  asn?: string;
  cloud_provider?: string;
  cloud_region?: string;
}
const aws = (ip: string): Net => ({ ip, asn: 'AS16509', cloud_provider: 'aws', cloud_region: 'us-east-1' });

let n = 0;
/** One CloudTrail call with an STS session of `issuer`. */
const call = (time: number, token: string, net: Net, ua: string, extra: Partial<TokenEvent> = {}): TokenEvent =>
  ev({
    event_id: `cc:${++n}`,
    time,
    token: { fp: fp(token), kind: 'sts_session', hint: 'ASIA' },
    source: 'cloudtrail',
    platform: 'aws',
    action: 'use',
    issuer: ROLE,
    service: 's3.amazonaws.com',
    operation: 'GetObject',
    outcome: 'success',
    network: net as TokenEvent['network'],
    user_agent: ua,
    ...extra,
  });

/**
 * A fleet of `instances` behind NAT egress `nets` (chosen per call), a new session per instance every
 * hour, a call every 10 minutes, from `start` for `hours`. Instance i's session h is `${tag}-i-h`.
 */
function fleet(tag: string, start: number, hours: number, instances: number, nets: (i: number, k: number) => Net, ua: (i: number, k: number) => string, workload = false): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (let h = 0; h < hours; h++) {
    for (let i = 0; i < instances; i++) {
      for (let k = 0; k < 6; k++) {
        const extra: Partial<TokenEvent> = workload ? { workload: { kind: 'ec2_instance', id: `i-0${tag}${i}` } } : {};
        out.push(call(start + h * HOUR + k * 10 * MIN + i * 7_000, `${tag}-${i}-${h}`, nets(i, k), ua(i, k), extra));
      }
    }
  }
  return out;
}

const byTime = (events: TokenEvent[]): TokenEvent[] => events.sort((a, b) => a.time - b.time);
const natPool = (i: number, k: number): Net => aws(k % 2 === 0 ? `52.1.2.${10 + i}` : `54.9.8.${20 + i}`);
const boto = (): string => BOTO3;
/** Background long enough to pass the learning period. */
const LEARN_H = 30;
const ATTACK = T0 + LEARN_H * HOUR;

/** The legit instance keeps using its session while the thief uses a copy. */
function theft(tag: string, net: Net, ua: string, workload = false): TokenEvent[] {
  const bg = fleet(tag, T0, LEARN_H + 2, 3, natPool, boto, workload);
  const victim = `${tag}-0-${LEARN_H}`;
  const extra: Partial<TokenEvent> = workload ? { workload: { kind: 'ec2_instance', id: `i-0${tag}0` } } : {};
  const thief = [5, 15, 25].map((m) => call(ATTACK + m * MIN + 30_000, victim, net, ua, extra));
  return byTime([...bg, ...thief]);
}

export const positiveCases: DetectorCase<Partial<CredentialContextConfig>>[] = [
  {
    name: 'stolen STS session used from another AWS customer in the same region with the same SDK, while the instance keeps using it',
    events: theft('same-region', aws('3.80.10.5'), BOTO3),
    expect: [{ kind: 'new_context', token_fp: fp(`same-region-0-${LEARN_H}`) }],
  },
  {
    name: 'stolen STS session used from a residential ISP with another client',
    events: theft('foreign', { ip: '81.2.69.160', asn: 'AS20712' }, 'python-requests/2.31.0'),
    expect: [{ kind: 'new_context', token_fp: fp(`foreign-0-${LEARN_H}`) }],
  },
  {
    name: "a stolen refresh token redeemed from a hosting ASN: the new token's first use is elsewhere while the user's app keeps working",
    events: mobileUsers(true),
    expect: [{ kind: 'new_context', token_fp: fp('mu-stolen') }],
  },
  {
    name: 'instance credentials used from a private address in another /16 (VPN, peered VPC)',
    events: theft('vpn', { ip: '10.99.4.7' }, BOTO3, true),
    expect: [{ kind: 'workload_credential_exfiltration', token_fp: fp(`vpn-0-${LEARN_H}`) }],
  },
];

/** Mobile clients on CGNAT: every token hops carrier IPs across /16s and between IPv4 and IPv6. */
function mobile(): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (let u = 0; u < 60; u++) {
    for (let k = 0; k < 4; k++) {
      const v6 = (u + k) % 3 === 0;
      const ip = v6 ? `2607:fb90:${(u * 7 + k) % 97}:${k}::${u}` : `172.${56 + ((u * 13 + k * 29) % 8)}.${(u * 31 + k) % 250}.${(u + k * 17) % 250}`;
      out.push(
        ev({
          event_id: `cc:m${u}:${k}`,
          time: T0 + u * 40 * MIN + k * 8 * MIN,
          token: { fp: fp(`mobile-${u}`), kind: 'oauth_access' },
          source: 'kong',
          platform: 'gateway',
          action: 'use',
          issuer: 'mobile-app',
          service: 'orders-api',
          network: { ip, asn: 'AS21928' } as TokenEvent['network'],
          user_agent: OKHTTP,
        }),
      );
    }
  }
  return byTime(out);
}

/**
 * Users of a mobile app on two carriers (CGNAT, addresses change every call); each user's app gets a
 * new access token every hour. With `thief`, user 0's refresh token is redeemed from a hosting
 * provider and the new access token is used from there while the user's own app keeps working.
 */
function mobileUsers(thief: boolean): TokenEvent[] {
  const out: TokenEvent[] = [];
  const carriers = [
    { asn: 'AS21928', v4: (x: number, y: number) => `172.${56 + (x % 8)}.${y % 250}.${(x * 7 + y) % 250}` },
    { asn: 'AS6167', v4: (x: number, y: number) => `174.${192 + (x % 32)}.${y % 250}.${(x * 3 + y) % 250}` },
  ];
  const use = (time: number, token: string, user: number, ip: string, asn: string): TokenEvent =>
    ev({
      event_id: `cc:mu${++n}`,
      time,
      token: { fp: fp(token), kind: 'oauth_access' },
      source: 'kong',
      platform: 'gateway',
      action: 'use',
      issuer: 'client:mobile-app',
      subject: `user-${user}`,
      service: 'orders-api',
      network: { ip, asn } as TokenEvent['network'],
      user_agent: OKHTTP,
    });
  for (let h = 0; h < LEARN_H + 2; h++) {
    for (let u = 0; u < 12; u++) {
      const c = carriers[u % 2]!;
      for (let k = 0; k < 4; k++) out.push(use(T0 + h * HOUR + k * 15 * MIN + u * 11_000, `mu-${u}-${h}`, u, c.v4(h * 4 + k + u, u * 13 + h), c.asn));
    }
  }
  if (thief) for (const m of [3, 9, 14]) out.push(use(ATTACK + m * MIN, 'mu-stolen', 0, `95.216.10.${m}`, 'AS24940'));
  return byTime(out);
}

export const negativeCases: DetectorCase<Partial<CredentialContextConfig>>[] = [
  {
    name: 'NAT pool across two /24s, app and sidecar with two SDKs on one session',
    events: fleet('nat', T0, LEARN_H + 6, 3, natPool, (i, k) => (k % 3 === 0 ? GO_SDK : BOTO3)),
    expect: [],
  },
  {
    name: 'autoscaling fleet reaching AWS through a VPC endpoint (private IP) and a NAT gateway',
    events: fleet('vpce', T0, LEARN_H + 6, 4, (i, k) => (k % 2 === 0 ? { ip: `10.0.${i}.${40 + k}` } : aws('52.1.2.10')), boto, true),
    expect: [],
  },
  {
    name: 'the NAT gateway is replaced: every session moves to the new egress and the old one falls silent',
    events: byTime([
      ...fleet('move', T0, LEARN_H, 3, natPool, boto),
      ...fleet('move', T0 + LEARN_H * HOUR, 6, 3, (i) => aws(`34.200.1.${i + 1}`), boto).map((e) => ({ ...e, event_id: `${e.event_id}:moved` })),
    ]),
    expect: [],
  },
  {
    name: 'mobile users on two carriers get a new access token every hour (first uses from ever-new CGNAT addresses)',
    events: mobileUsers(false),
    expect: [],
  },
  {
    name: 'mobile clients on CGNAT hopping carrier IPs (v4 and v6) and a new device fleet',
    events: mobile(),
    expect: [],
  },
  {
    name: 'a new fleet in a new region appears after learning (first contexts of new sessions)',
    events: byTime([
      ...fleet('old', T0, LEARN_H + 4, 2, natPool, boto),
      ...fleet('new', T0 + LEARN_H * HOUR, 4, 3, (i) => ({ ip: `18.130.0.${i + 5}`, asn: 'AS16509', cloud_provider: 'aws', cloud_region: 'eu-west-2' }), boto),
    ]),
    expect: [],
  },
];
