/**
 * Hard attacks for the realistic profile: each one hides inside what the estate does anyway
 * (same egress, same SDK, same region, rates a few times normal). Every builder returns the
 * ground truth (identity, accepted detectors) with the actor; start/end are fixed afterwards
 * from the events themselves (gateway clocks are skewed).
 */
import { apiCallRecord, type AwsSession } from './cloudtrail-writer.js';
import { AWS_REGION, DAY, HOUR, MIN, egressIp, type ClientSpec, type Estate, type FleetSpec } from './estate.js';
import { gatewayEvent, grantEvent, issueAccessToken, newTokenId, type ReplicaPlan, type SimClock } from './background.js';
import { CREDENTIAL_DETECTORS, callTimes, requireVictim, type Built, type HardAttackName } from './attacks.js';
import { tokenRevokeRecord } from './okta-writer.js';
import { userTokenGrantRecord } from './okta-user-writer.js';
import { newRefreshTokenId, type MobileDevice, type RefreshInjection } from './realistic-mobile.js';
import { Rng } from './prng.js';
import type { SimEvent } from './types.js';

const floorSec = (t: number): number => Math.floor(t / 1000) * 1000;
const actorOf = (events: SimEvent[]): Built['actor'] => ({ start: events[0]!.at ?? events[0]!.time, make: () => events[Symbol.iterator]() });
const aliveAt = (plans: readonly ReplicaPlan[], t: number): ReplicaPlan[] => plans.filter((p) => p.start <= t && p.end > t);

/** Another AWS customer's EC2 instance in us-east-1 (AWS EC2 space 54.160.0.0/12, AS14618). */
export const OTHER_ACCOUNT_EC2_PREFIX = '54.166.23.';
/** DigitalOcean NYC (AS14061). */
export const DIGITALOCEAN_PREFIX = '159.203.114.';
/** Hetzner Ashburn (AS24940). */
export const HETZNER_PREFIX = '5.161.97.';
/** A peered VPC / VPN range: private, but not the estate's VPC (10.40.0.0/16). */
export const PEERED_VPC_PREFIX = '10.99.';

/** Extra mints from the client's own egress and SDK at (multiplier − 1) × its normal rate. */
function extraMints(clock: SimClock, stream: string, spec: ClientSpec, plans: readonly ReplicaPlan[], from: number, to: number, extraFactor: number): SimEvent[] {
  const rng = new Rng(clock.seed, stream);
  const out: SimEvent[] = [];
  to = Math.min(to, clock.end - HOUR);
  for (let t = from; t < to; ) {
    const alive = aliveAt(plans, t);
    const perHour = Math.max(1, alive.length) * (60 / 55) * extraFactor;
    t += rng.exp(HOUR / perHour);
    if (t >= to) break;
    const version = aliveAt(plans, t)[0]?.version ?? alive[0]?.version ?? 0;
    const scopes = aliveAt(plans, t)[0]?.scopes ?? spec.scopes;
    const token = issueAccessToken(spec, newTokenId(rng), t, scopes);
    out.push(grantEvent(rng, spec, t, egressIp(rng, spec.egress), spec.userAgent(version), token));
  }
  return out;
}

/** A slow mint ramp: ×2 the first day, ×4 the second, ×8 the third. */
export function mintSlowRamp(clock: SimClock, spec: ClientSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const events = [1, 3, 7].flatMap((extra, d) =>
    extraMints(clock, `attack:mint_slow_ramp:${d}`, spec, plans, t0 + d * DAY, t0 + (d + 1) * DAY, extra));
  return built('mint_slow_ramp', ['mint_rate_spike'], { issuer: spec.client.clientId }, events,
    `Okta client ${spec.client.name} minting ×2, ×4, ×8 its rate on three consecutive days, from its own egress with its own SDK`);
}

/** ~3.5× the client's mints, spread over its daily peak hour. */
export function mintPeakBurst(clock: SimClock, spec: ClientSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const events = extraMints(clock, 'attack:mint_peak_burst', spec, plans, t0, t0 + HOUR, 2.5);
  return built('mint_peak_burst', ['mint_rate_spike'], { issuer: spec.client.clientId }, events,
    `Okta client ${spec.client.name} minting ~3.5× its rate during its daily peak hour`);
}

/** One extra sensitive read scope, requested and granted, from the client's own pods. */
export function scopeSensitiveRead(clock: SimClock, spec: ClientSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const rng = new Rng(clock.seed, 'attack:scope_sensitive_read');
  const events: SimEvent[] = [];
  for (let i = 0, t = t0; i < 3; i++, t += rng.range(10 * MIN, 20 * MIN)) {
    const p = aliveAt(plans, t)[0];
    const scopes = [...(p?.scopes ?? spec.scopes), 'customers.pii.read'];
    events.push(grantEvent(rng, spec, t, egressIp(rng, spec.egress), spec.userAgent(p?.version ?? 0), issueAccessToken(spec, newTokenId(rng), t, scopes)));
  }
  return built('scope_sensitive_read', ['scope_drift'], { issuer: spec.client.clientId }, events,
    `Okta client ${spec.client.name} granted customers.pii.read on top of its usual scopes`);
}

/** An admin revokes a pod's token; the token is presented again 10 minutes later, same egress and SDK. */
export function useTenMinutesAfterRevoke(clock: SimClock, estate: Estate, spec: ClientSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const rng = new Rng(clock.seed, 'attack:use_10min_after_revoke');
  const victim = requireVictim(plans, t0, 'use_10min_after_revoke');
  const jti = newTokenId(rng);
  const revokeAt = t0 + 20 * MIN;
  victim.injections.push({ time: t0, credentialId: jti, target: 'oauth', rotateAt: revokeAt - 30_000 });
  const token = issueAccessToken(spec, jti, t0, victim.scopes ?? spec.scopes);
  const ua = spec.userAgent(victim.version);
  const revoke: SimEvent = {
    format: 'okta', time: revokeAt,
    record: tokenRevokeRecord(rng, {
      time: revokeAt, client: spec.client, net: { ip: '198.18.0.1', userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15' },
      tokenId: jti, by: { kind: 'user', id: `00u${rng.alnum(17)}`, login: 'secops@acme.example', name: 'SecOps Admin' },
    }),
  };
  const uses = [revokeAt + 10 * MIN + rng.range(0, 20_000), revokeAt + 12 * MIN + rng.range(0, 60_000)]
    .map((t) => gatewayEvent(rng, estate, spec, t, egressIp(rng, spec.egress), ua, token, 200));
  return built('use_10min_after_revoke', ['token_replay'], { token: { namespace: 'jti', id: jti } }, [revoke, ...uses],
    `Access token of ${spec.client.name} (replica ${victim.workloadId}) revoked by an admin, presented again 10 minutes later`, uses);
}

/** A stolen role-chain session (ASIA…) used from `ip` with the victim's exact SDK, same region. */
function stolenChainKey(
  name: 'stolen_sts_same_region' | 'stolen_sts_other_asn', clock: SimClock, fleet: FleetSpec, plans: readonly ReplicaPlan[], t0: number, ip: string, where: string,
): Built {
  const rng = new Rng(clock.seed, `attack:${name}`);
  const chain = fleet.chain;
  if (!chain) throw new Error(`${name} needs a fleet with a role chain`);
  const victim = requireVictim(plans, t0, name);
  const keyId = `ASIA${rng.upperB32(16)}`;
  victim.injections.push({ time: t0, credentialId: keyId, target: 'chain' });
  const created = floorSec(t0);
  const session: AwsSession = { role: chain.role, sessionName: `botocore-session-${Math.floor(created / 1000)}`, accessKeyId: keyId, createdAt: created, expiresAt: created + HOUR };
  const ua = fleet.userAgent(victim.version);
  const times = callTimes(rng, t0 + rng.range(6 * MIN, 12 * MIN), 10, 3 * MIN, created + HOUR - 5 * MIN);
  const events = times.map((time, i): SimEvent => {
    const c = chain.calls[i % chain.calls.length]!;
    const record = apiCallRecord(rng, {
      time, region: AWS_REGION, session, eventSource: c.eventSource, eventName: c.eventName, readOnly: c.readOnly, data: c.data,
      requestParameters: c.params(rng), sourceIp: ip, userAgent: ua,
    });
    return { format: 'cloudtrail', time, record };
  });
  return built(name, [...CREDENTIAL_DETECTORS], { token: { namespace: 'aws', id: keyId }, issuer: chain.role.arn }, events,
    `STS session of ${chain.role.name} (chained from ${victim.workloadId}) used from ${ip} (${where}) with the workload's own SDK, same region`);
}

export const stolenStsSameRegion = (clock: SimClock, fleet: FleetSpec, plans: readonly ReplicaPlan[], t0: number): Built =>
  stolenChainKey('stolen_sts_same_region', clock, fleet, plans, t0, `${OTHER_ACCOUNT_EC2_PREFIX}${10 + new Rng(clock.seed, 'ip:same-region').int(200)}`, "another AWS account's EC2, us-east-1");
export const stolenStsOtherAsn = (clock: SimClock, fleet: FleetSpec, plans: readonly ReplicaPlan[], t0: number): Built =>
  stolenChainKey('stolen_sts_other_asn', clock, fleet, plans, t0, `${DIGITALOCEAN_PREFIX}${10 + new Rng(clock.seed, 'ip:other-asn').int(200)}`, 'DigitalOcean NYC');

/** Instance-role credentials used from a private address outside the VPC (peered VPC / VPN). */
export function instanceCredentialsPrivate(clock: SimClock, fleet: FleetSpec, plans: readonly ReplicaPlan[], t0: number): Built {
  const rng = new Rng(clock.seed, 'attack:instance_credentials_private');
  const victim = requireVictim(plans, t0, 'instance_credentials_private');
  const keyId = `ASIA${rng.upperB32(16)}`;
  victim.injections.push({ time: t0, credentialId: keyId, target: 'instance' });
  const created = floorSec(t0);
  const session: AwsSession = { role: fleet.role, sessionName: victim.workloadId, accessKeyId: keyId, createdAt: created, expiresAt: created + 6 * HOUR, ec2RoleDelivery: '2.0' };
  const ip = `${PEERED_VPC_PREFIX}${rng.int(256)}.${4 + rng.int(250)}`;
  const ua = 'aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1017-aws exe/x86_64.ubuntu.22 prompt/off';
  const times = callTimes(rng, t0 + rng.range(5 * MIN, 10 * MIN), 10, 3 * MIN, created + HOUR);
  const script = [
    { source: 'sts.amazonaws.com', name: 'GetCallerIdentity', readOnly: true, params: null },
    { source: 'ec2.amazonaws.com', name: 'DescribeInstances', readOnly: true, params: { instancesSet: {}, filterSet: {} } },
    { source: 'secretsmanager.amazonaws.com', name: 'GetSecretValue', readOnly: true, params: { secretId: 'prod/web/postgres' } },
    { source: 'ssm.amazonaws.com', name: 'GetParametersByPath', readOnly: true, params: { path: '/prod/web', withDecryption: true } },
  ];
  const events = times.map((time, i): SimEvent => {
    const s = script[i % script.length]!;
    const record = apiCallRecord(rng, {
      time, region: AWS_REGION, session, eventSource: s.source, eventName: s.name, readOnly: s.readOnly, requestParameters: s.params, sourceIp: ip, userAgent: ua,
    });
    return { format: 'cloudtrail', time, record };
  });
  return built('instance_credentials_private', [...CREDENTIAL_DETECTORS], { token: { namespace: 'aws', id: keyId }, issuer: fleet.role.arn }, events,
    `Instance-role credentials of ${victim.workloadId} (${fleet.role.name}) used from ${ip}, a private address outside the VPC`);
}

/**
 * A mobile device's refresh token, stolen, redeemed from a VPS with the app's user agent; the
 * new access token is used at the gateway. Rotation makes the device's next redemption a
 * reuse, but the IdP raises no reuse event.
 */
export function refreshTokenReuse(clock: SimClock, estate: Estate, spec: ClientSpec, device: MobileDevice, t0: number): Built & { injection: RefreshInjection } {
  const rng = new Rng(clock.seed, 'attack:refresh_token_reuse');
  const refreshTokenId = newRefreshTokenId(rng);
  const ip = `${HETZNER_PREFIX}${10 + rng.int(200)}`;
  const time = floorSec(t0);
  const token = issueAccessToken(spec, newTokenId(rng), time, spec.scopes, device.user.id);
  const common = {
    time, client: spec.client, user: device.user, net: { ip, userAgent: device.userAgent }, grantType: 'refresh_token' as const, scopes: spec.scopes,
    carrier: { asNumber: 24940, asOrg: 'hetzner online gmbh', isp: 'hetzner online gmbh', domain: 'your-server.de' },
  };
  const events: SimEvent[] = [
    { format: 'okta', time, record: userTokenGrantRecord(rng, { ...common, token: { type: 'access_token', id: token.claims.jti, expiresAt: time + HOUR } }) },
    { format: 'okta', time, record: userTokenGrantRecord(rng, { ...common, token: { type: 'refresh_token', id: newRefreshTokenId(rng), expiresAt: time + 30 * DAY } }) },
  ];
  for (let i = 0, t = time + rng.range(30_000, 2 * MIN); i < 6; i++, t += rng.range(2 * MIN, 5 * MIN)) {
    events.push(gatewayEvent(rng, estate, spec, t, ip, device.userAgent, token, 200));
  }
  events.sort((a, b) => (a.at ?? a.time) - (b.at ?? b.time));
  const b = built('refresh_token_reuse', ['token_replay', 'credential_context', 'mint_rate_spike'], { token: { namespace: 'jti', id: refreshTokenId }, also_tokens: [{ namespace: 'jti', id: token.claims.jti }], issuer: spec.client.clientId }, events,
    `Refresh token of ${device.user.login}'s ${spec.client.name} redeemed from ${ip} (Hetzner) with the app's user agent; no vendor reuse signal`);
  return { ...b, injection: { time: time - 2 * MIN, refreshTokenId } };
}

function built(
  name: HardAttackName, detectors: string[], identity: Built['attack']['identity'], events: SimEvent[], description: string, acts: readonly SimEvent[] = events,
): Built {
  events.sort((a, b) => (a.at ?? a.time) - (b.at ?? b.time));
  let start = Infinity;
  let end = -Infinity;
  for (const e of acts) {
    start = Math.min(start, e.time);
    end = Math.max(end, e.time);
  }
  const family = detectors.length > 1 ? 'credential_context' : (detectors[0] as Built['attack']['family']);
  return { attack: { name, family, detectors, identity, start, end, description }, actor: actorOf(events) };
}
