/**
 * Attack scenarios. Each one is an actor of its own plus, where the attacker steals a live
 * credential, an injection into a background replica that makes that replica mint the credential
 * (with an id chosen here, so the attack list can name it before any event is generated).
 */
import { apiCallRecord, type AwsSession } from './cloudtrail-writer.js';
import { AWS_REGION, HOUR, MIN, egressIp, type ClientSpec, type Estate, type FleetSpec } from './estate.js';
import { issueAccessToken, gatewayEvent, grantEvent, newTokenId, victimPlan, type ReplicaPlan, type SimClock } from './background.js';
import { tokenRevokeRecord } from './okta-writer.js';
import { Rng } from './prng.js';
import type { ActorSpec, SimEvent } from './types.js';

export const ATTACK_NAMES = ['mint_loop', 'sts_replay', 'ec2_credential_escape', 'scope_escalation', 'use_after_revoke'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];
/** Attacks only the realistic profile injects (hard-attacks.ts). */
export const HARD_ATTACK_NAMES = [
  'mint_slow_ramp', 'mint_peak_burst', 'refresh_token_reuse', 'stolen_sts_same_region', 'stolen_sts_other_asn',
  'scope_sensitive_read', 'use_10min_after_revoke', 'instance_credentials_private',
] as const;
export type HardAttackName = (typeof HARD_ATTACK_NAMES)[number];
export type AttackFamily = 'mint_rate_spike' | 'token_replay' | 'cross_service_reuse' | 'scope_drift' | 'credential_context';

/**
 * Detectors whose alert counts as detecting a stolen credential used from a new context: the
 * issuer-keyed credential_context, and (during its introduction) token_replay and cross_service_reuse.
 */
export const CREDENTIAL_DETECTORS: readonly string[] = ['credential_context', 'token_replay', 'cross_service_reuse'];

/**
 * What an attack's alert is keyed on, raw (the evaluation fingerprints it with the replay's
 * fingerprinter): the token (namespace as the normalizers use it: `aws` key ids, `jti` token
 * ids) and/or the issuer string the normalizers emit (OAuth client id, IAM role ARN).
 */
export interface AttackIdentity {
  token?: { namespace: 'aws' | 'jti'; id: string };
  /** Other tokens the attack produced that an alert may name (an access token minted from a stolen refresh token). */
  also_tokens?: { namespace: 'aws' | 'jti'; id: string }[];
  issuer?: string;
}

export interface InjectedAttack {
  name: AttackName | HardAttackName;
  /** The family whose alert the attack raises in the default profile (see `detectors` for all accepted). */
  family: AttackFamily;
  /** Detector ids whose alert counts as detecting this attack. */
  detectors: string[];
  identity: AttackIdentity;
  /** First and last malicious event time (epoch ms). */
  start: number;
  end: number;
  /**
   * The raw identity the family's alert is keyed on: the OAuth client id (mint_rate_spike,
   * scope_drift), the stolen access key id (ASIA…) or the token's jti (token_replay,
   * cross_service_reuse). Tests fingerprint it themselves.
   */
  issuer?: string;
  description: string;
}

/** Which background entity each attack targets (its deploys keep clear of the attack). */
export const ATTACK_VICTIM: Readonly<Record<AttackName, string>> = {
  mint_loop: 'orders-api',
  sts_replay: 'batch-worker',
  ec2_credential_escape: 'web-frontend',
  scope_escalation: 'directory-sync',
  use_after_revoke: 'payments-worker',
};

/**
 * Attack start times: after the learning period (hour 30 when the run is ≥ 48 h, else 60% in),
 * spread evenly in a fixed order, so toggling one attack never moves another.
 */
export function attackTimes(seed: number, start: number, hours: number): Record<AttackName, number> {
  const rng = new Rng(seed, 'attack-times');
  const learnEnd = hours >= 48 ? 30 : hours * 0.6;
  const span = Math.max(0, hours - 1.5 - learnEnd);
  const out = {} as Record<AttackName, number>;
  ATTACK_NAMES.forEach((name, i) => {
    const offset = learnEnd + (span * i) / ATTACK_NAMES.length;
    out[name] = Math.round(start + offset * HOUR + rng.range(0, Math.min(10 * MIN, (span * HOUR) / 20)));
  });
  return out;
}

const floorSec = (t: number): number => Math.floor(t / 1000) * 1000;

export interface Built {
  attack: InjectedAttack;
  actor: ActorSpec;
}

export function requireVictim(plans: readonly ReplicaPlan[], t: number, name: AttackName | HardAttackName): ReplicaPlan {
  const p = victimPlan(plans, t, 5 * MIN, 70 * MIN);
  if (!p) throw new RangeError(`simulate: no ${plans[0]?.entity ?? 'victim'} replica alive at the ${name} attack time; use more hours`);
  return p;
}

/** A compromised client mints in a loop: 40–80× its normal hourly rate, for an hour. */
export function mintLoop(clock: SimClock, spec: ClientSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const rng = new Rng(clock.seed, 'attack:mint_loop');
  const alive = plans.filter((p) => p.start <= t0 && p.end > t0);
  const version = alive[0]?.version ?? 0;
  const normalPerHour = Math.max(1, alive.length) * (60 / 55);
  const multiplier = 40 + rng.int(41);
  const rate = Math.max(180, normalPerHour * multiplier);
  const end = t0 + HOUR;
  const ua = spec.userAgent(version);
  const times: number[] = [];
  for (let t = t0; t < end; t += rng.exp(HOUR / rate)) times.push(Math.round(t));
  function* run(): Generator<SimEvent> {
    const r = new Rng(clock.seed, 'attack:mint_loop:events');
    for (const t of times) {
      const token = issueAccessToken(spec, newTokenId(r), t, spec.scopes);
      yield grantEvent(r, spec, t, egressIp(r, spec.egress), ua, token);
    }
  }
  return {
    attack: {
      name: 'mint_loop', family: 'mint_rate_spike', detectors: ['mint_rate_spike'], identity: { issuer: spec.client.clientId },
      start: times[0]!, end: times[times.length - 1]!, issuer: spec.client.clientId,
      description: `Okta client ${spec.client.name} minted ${times.length} client_credentials tokens in an hour (~${multiplier}× its normal rate) from its own egress pool`,
    },
    actor: { start: floorSec(t0), make: run },
  };
}

/** The attacker's calls with a stolen role session: `count` calls from one external IP. */
export function* stolenSessionCalls(
  rng: Rng,
  session: AwsSession,
  times: readonly number[],
  ip: string,
  ua: string,
  script: readonly { source: string; name: string; readOnly: boolean; data?: boolean; denied?: boolean; params: Record<string, unknown> | null }[],
): Generator<SimEvent> {
  for (let i = 0; i < times.length; i++) {
    const s = script[i % script.length]!;
    const time = times[i]!;
    const record = apiCallRecord(rng, {
      time, region: AWS_REGION, session, eventSource: s.source, eventName: s.name, readOnly: s.readOnly, data: s.data,
      requestParameters: s.params, sourceIp: ip, userAgent: ua, ...(s.denied ? { errorCode: 'AccessDenied' } : {}),
    });
    yield { format: 'cloudtrail', time, record };
  }
}

export function callTimes(rng: Rng, from: number, count: number, meanGap: number, notAfter: number): number[] {
  const out: number[] = [];
  let t = from;
  for (let i = 0; i < count && t < notAfter; i++) {
    out.push(floorSec(t));
    t += rng.range(meanGap / 2, (meanGap * 3) / 2);
  }
  return out;
}

/** A role-chained STS session (ASIA…) stolen from a batch worker and used from outside. */
export function stsReplay(clock: SimClock, fleet: FleetSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const rng = new Rng(clock.seed, 'attack:sts_replay');
  const chain = fleet.chain;
  if (!chain) throw new Error('sts_replay needs a fleet with a role chain');
  const victim = requireVictim(plans, t0, 'sts_replay');
  const keyId = `ASIA${rng.upperB32(16)}`;
  victim.injections.push({ time: t0, credentialId: keyId, target: 'chain' });
  const created = floorSec(t0);
  const session: AwsSession = {
    role: chain.role, sessionName: `botocore-session-${Math.floor(created / 1000)}`, accessKeyId: keyId, createdAt: created, expiresAt: created + HOUR,
  };
  const ip = `198.51.100.${10 + rng.int(50)}`;
  const ua = rng.pick(['python-requests/2.31.0', 'curl/8.5.0']);
  const times = callTimes(rng, t0 + rng.range(8 * MIN, 15 * MIN), 14, 2 * MIN, created + HOUR - 5 * MIN);
  const script = [
    { source: 'sts.amazonaws.com', name: 'GetCallerIdentity', readOnly: true, params: null },
    { source: 's3.amazonaws.com', name: 'ListBuckets', readOnly: true, params: { Host: 's3.amazonaws.com' } },
    { source: 's3.amazonaws.com', name: 'ListObjects', readOnly: true, data: true, params: { bucketName: 'acme-exports-prod', prefix: 'exports/' } },
    { source: 's3.amazonaws.com', name: 'GetObject', readOnly: true, data: true, params: { bucketName: 'acme-exports-prod', key: 'exports/customers-full.csv.gz' } },
    { source: 'secretsmanager.amazonaws.com', name: 'ListSecrets', readOnly: true, denied: true, params: null },
    { source: 's3.amazonaws.com', name: 'GetObject', readOnly: true, data: true, params: { bucketName: 'acme-exports-prod', key: 'exports/orders-2025.csv.gz' } },
  ];
  function* run(): Generator<SimEvent> {
    yield* stolenSessionCalls(new Rng(clock.seed, 'attack:sts_replay:events'), session, times, ip, ua, script);
  }
  return {
    attack: {
      name: 'sts_replay', family: 'token_replay', detectors: [...CREDENTIAL_DETECTORS],
      identity: { token: { namespace: 'aws', id: keyId }, issuer: chain.role.arn }, start: times[0]!, end: times[times.length - 1]!, issuer: keyId,
      description: `STS session of ${chain.role.name} (chained from ${victim.workloadId}) replayed from ${ip} with ${ua} inside its lifetime`,
    },
    actor: { start: floorSec(times[0]!), make: run },
  };
}

/** EC2 instance-role credentials lifted from the instance and used from a public IP. */
export function ec2CredentialEscape(clock: SimClock, fleet: FleetSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const rng = new Rng(clock.seed, 'attack:ec2_credential_escape');
  const victim = requireVictim(plans, t0, 'ec2_credential_escape');
  const keyId = `ASIA${rng.upperB32(16)}`;
  victim.injections.push({ time: t0, credentialId: keyId, target: 'instance' });
  const created = floorSec(t0);
  const session: AwsSession = {
    role: fleet.role, sessionName: victim.workloadId, accessKeyId: keyId, createdAt: created, expiresAt: created + 6 * HOUR, ec2RoleDelivery: '2.0',
  };
  const ip = `198.51.100.${150 + rng.int(50)}`;
  const ua = 'aws-cli/2.15.10 Python/3.11.6 Darwin/23.2.0 exe/x86_64 prompt/off command/sts.get-caller-identity';
  const times = callTimes(rng, t0 + rng.range(5 * MIN, 10 * MIN), 12, 3 * MIN, created + HOUR);
  const script = [
    { source: 'sts.amazonaws.com', name: 'GetCallerIdentity', readOnly: true, params: null },
    { source: 's3.amazonaws.com', name: 'ListBuckets', readOnly: true, params: { Host: 's3.amazonaws.com' } },
    { source: 'ec2.amazonaws.com', name: 'DescribeInstances', readOnly: true, params: { instancesSet: {}, filterSet: {} } },
    { source: 'iam.amazonaws.com', name: 'ListRoles', readOnly: true, denied: true, params: null },
    { source: 'secretsmanager.amazonaws.com', name: 'GetSecretValue', readOnly: true, params: { secretId: 'prod/web/postgres' } },
    { source: 'ssm.amazonaws.com', name: 'DescribeParameters', readOnly: true, params: null },
  ];
  function* run(): Generator<SimEvent> {
    yield* stolenSessionCalls(new Rng(clock.seed, 'attack:ec2_credential_escape:events'), session, times, ip, ua, script);
  }
  return {
    attack: {
      name: 'ec2_credential_escape', family: 'cross_service_reuse', detectors: [...CREDENTIAL_DETECTORS],
      identity: { token: { namespace: 'aws', id: keyId }, issuer: fleet.role.arn }, start: times[0]!, end: times[times.length - 1]!, issuer: keyId,
      description: `Instance-role credentials of ${victim.workloadId} (${fleet.role.name}) used from ${ip}, outside the estate`,
    },
    actor: { start: floorSec(times[0]!), make: run },
  };
}

/** A client probes for admin scopes (requested ⊋ granted), then is granted one it never had. */
export function scopeEscalation(clock: SimClock, spec: ClientSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const rng = new Rng(clock.seed, 'attack:scope_escalation');
  const alive = plans.find((p) => p.start <= t0 && p.end > t0);
  const ua = spec.userAgent(alive?.version ?? 0);
  const base = [...spec.scopes];
  const probe = [...base, 'okta.users.manage', 'okta.apps.manage'];
  const escalated = [...base, 'okta.users.manage'];
  const grantedAt = t0 + Math.round(rng.range(35 * MIN, 50 * MIN));
  const steps: { t: number; requested: string[]; granted: string[] }[] = [
    { t: t0, requested: probe, granted: base },
    { t: t0 + Math.round(rng.range(2 * MIN, 6 * MIN)), requested: probe, granted: base },
    { t: grantedAt, requested: escalated, granted: escalated },
    { t: grantedAt + Math.round(rng.range(5 * MIN, 12 * MIN)), requested: escalated, granted: escalated },
  ];
  function* run(): Generator<SimEvent> {
    const r = new Rng(clock.seed, 'attack:scope_escalation:events');
    for (const s of steps) {
      const token = issueAccessToken(spec, newTokenId(r), s.t, s.granted);
      yield grantEvent(r, spec, s.t, egressIp(r, spec.egress), ua, token, s.requested);
    }
  }
  return {
    attack: {
      name: 'scope_escalation', family: 'scope_drift', detectors: ['scope_drift'], identity: { issuer: spec.client.clientId },
      start: t0, end: steps[steps.length - 1]!.t, issuer: spec.client.clientId,
      description: `Okta client ${spec.client.name} requested okta.users.manage/okta.apps.manage beyond its grant, then was granted okta.users.manage`,
    },
    actor: { start: t0, make: run },
  };
}

/** An access token the client rotated and revoked, replayed at the gateway afterwards. */
export function useAfterRevoke(clock: SimClock, estate: Estate, spec: ClientSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const rng = new Rng(clock.seed, 'attack:use_after_revoke');
  const victim = requireVictim(plans, t0, 'use_after_revoke');
  const jti = newTokenId(rng);
  const revokeAt = t0 + 10 * MIN;
  victim.injections.push({ time: t0, credentialId: jti, target: 'oauth', rotateAt: revokeAt - 30_000 });
  const token = issueAccessToken(spec, jti, t0, victim.scopes ?? spec.scopes);
  const ua = spec.userAgent(victim.version);
  const uses: number[] = [];
  for (let t = revokeAt + rng.range(3 * MIN, 8 * MIN), i = 0; i < 8 && t < token.claims.exp * 1000 - MIN; i++, t += rng.range(90_000, 5 * MIN)) {
    uses.push(Math.round(t));
  }
  function* run(): Generator<SimEvent> {
    const r = new Rng(clock.seed, 'attack:use_after_revoke:events');
    const revoke = tokenRevokeRecord(r, {
      time: revokeAt, client: spec.client, net: { ip: egressIp(r, spec.egress), userAgent: ua }, tokenId: jti, by: { kind: 'client' },
    });
    yield { format: 'okta', time: revokeAt, record: revoke };
    for (const t of uses) yield gatewayEvent(r, estate, spec, t, egressIp(r, spec.egress), ua, token, 200);
  }
  return {
    attack: {
      name: 'use_after_revoke', family: 'token_replay', detectors: ['token_replay'], identity: { token: { namespace: 'jti', id: jti } },
      start: uses[0]!, end: uses[uses.length - 1]!, issuer: jti,
      description: `Access token of ${spec.client.name} (replica ${victim.workloadId}) revoked at rotation, then presented ${uses.length} times at the gateway`,
    },
    actor: { start: revokeAt, make: run },
  };
}
