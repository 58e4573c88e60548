/**
 * Benign background actors: EC2/ECS instances with hourly-refreshed role sessions (and role
 * chains), and Okta service-client replicas minting client_credentials tokens and calling the
 * Kong gateway from NAT pools. Replica counts follow a diurnal curve with autoscaling steps and
 * daily rolling deploys (new agent versions, one deploy-time read scope).
 */
import { apiCallRecord, assumeRoleRecord, type AwsSession } from './cloudtrail-writer.js';
import {
  AWS_REGION, HOUR, MIN, OKTA_ORG, diurnalLoad, egressIp,
  type ApiCall, type ClientSpec, type Estate, type FleetSpec,
} from './estate.js';
import { createHash } from 'node:crypto';
import { kongRequestRecord, type AccessTokenClaims, type IssuedToken } from './kong-writer.js';
import { tokenGrantRecord, tokenRevokeRecord } from './okta-writer.js';
import { Rng, hash32 } from './prng.js';
import type { Injection, SimEvent } from './types.js';

export interface SimClock {
  seed: number;
  start: number;
  end: number;
}

/** One replica (instance, task or pod) alive over [start, end) running one software version. */
export interface ReplicaPlan {
  entity: string;
  slot: number;
  start: number;
  end: number;
  version: number;
  /** Instance id (i-0…), ECS task id, or pod name. */
  workloadId: string;
  /** 10.20.x.y for AWS workloads. */
  privateIp: string;
  /** OAuth clients: the scopes this replica's build requests. */
  scopes?: readonly string[];
  injections: Injection[];
}

const floorSec = (t: number): number => Math.floor(t / 1000) * 1000;

/**
 * Replica lifetimes for an entity: slot k is alive during the hours the desired count exceeds k
 * (scale-out a few minutes into the hour, scale-in a few minutes after it), split at every rolling
 * deploy (slots restart 90 s apart, on the next version).
 */
export interface PlanOptions {
  load?: (t: number) => number;
  scheduledExtra?: (hourStart: number) => number;
  restartStaggerMs?: number;
  /** No replicas before this time (an entity deployed mid-stream). */
  from?: number;
}

export function replicaPlans(
  clock: SimClock,
  entity: string,
  baseSize: number,
  diurnal: boolean,
  deploys: readonly number[],
  workload: (rng: Rng) => { id: string; ip: string },
  opts: PlanOptions = {},
): ReplicaPlan[] {
  const rng = new Rng(clock.seed, `plan:${entity}`);
  const hours = Math.ceil((clock.end - clock.start) / HOUR);
  const load = opts.load ?? diurnalLoad;
  const desired: number[] = [];
  for (let h = 0; h < hours; h++) {
    const hourStart = clock.start + h * HOUR;
    if (opts.from !== undefined && hourStart < opts.from) {
      desired.push(0);
      continue;
    }
    const extra = opts.scheduledExtra ? opts.scheduledExtra(hourStart) : 0;
    if (!diurnal) {
      desired.push(baseSize + extra);
      continue;
    }
    let n = Math.round(baseSize * load(hourStart + 30 * MIN));
    // Autoscaling step: a traffic burst holds one more tier of replicas for an hour.
    if (rng.chance(0.08)) n = Math.ceil(n * 1.5);
    desired.push(Math.max(1, n) + extra);
  }
  const stagger = opts.restartStaggerMs ?? 90_000;
  const maxSlots = Math.max(...desired, 1);
  const runs: { slot: number; start: number; end: number }[] = [];
  for (let slot = 0; slot < maxSlots; slot++) {
    let h = 0;
    while (h < hours) {
      if (desired[h]! <= slot) {
        h++;
        continue;
      }
      const h0 = h;
      while (h < hours && desired[h]! > slot) h++;
      const start = h0 === 0 ? clock.start + rng.range(0, 4 * MIN) : clock.start + h0 * HOUR + rng.range(1 * MIN, 8 * MIN);
      const end = h >= hours ? clock.end : clock.start + h * HOUR + rng.range(2 * MIN, 10 * MIN);
      runs.push({ slot, start, end });
    }
  }
  const plans: ReplicaPlan[] = [];
  for (const run of runs) {
    let segStart = run.start;
    for (const d of deploys) {
      const restart = d + run.slot * stagger;
      if (restart <= segStart + MIN || restart >= run.end - MIN) continue;
      plans.push(makePlan(rng, entity, run.slot, segStart, restart, deploys, workload));
      segStart = restart + 20_000;
    }
    plans.push(makePlan(rng, entity, run.slot, segStart, run.end, deploys, workload));
  }
  plans.sort((a, b) => a.start - b.start || a.slot - b.slot);
  return plans;
}

function makePlan(
  rng: Rng,
  entity: string,
  slot: number,
  start: number,
  end: number,
  deploys: readonly number[],
  workload: (rng: Rng) => { id: string; ip: string },
): ReplicaPlan {
  const version = deploys.filter((d) => d < start).length;
  const w = workload(rng);
  return { entity, slot, start, end, version, workloadId: w.id, privateIp: w.ip, injections: [] };
}

/** The plan of `entity`'s slot 0 alive around `t` (with margin), for attack injection. */
export function victimPlan(plans: readonly ReplicaPlan[], t: number, before: number, after: number): ReplicaPlan | undefined {
  return (
    plans.find((p) => p.slot === 0 && p.start <= t - before && p.end >= t + after) ??
    plans.find((p) => p.start <= t - before && p.end >= t + after)
  );
}

export function awsWorkload(fleet: FleetSpec): (rng: Rng) => { id: string; ip: string } {
  return (rng) => ({
    id: fleet.kind === 'ec2' ? `i-0${rng.hex(16)}` : rng.hex(32),
    ip: `10.20.${fleet.subnet * 16 + rng.int(16)}.${4 + rng.int(250)}`,
  });
}

export function podWorkload(spec: ClientSpec): (rng: Rng) => { id: string; ip: string } {
  return (rng) => ({ id: `${spec.client.name}-${rng.hex(10)}-${rng.alnum(5).toLowerCase()}`, ip: '' });
}

// ------------------------------------------------------------------------------- AWS

function pickCall(rng: Rng, calls: readonly ApiCall[]): ApiCall {
  let total = 0;
  for (const c of calls) total += c.weight;
  let x = rng.next() * total;
  for (const c of calls) {
    x -= c.weight;
    if (x < 0) return c;
  }
  return calls[calls.length - 1]!;
}

const KEY_ID = (rng: Rng): string => `ASIA${rng.upperB32(16)}`;

/** An EC2 instance or ECS task: role session refreshed every 55–60 min, calls from its private IP. */
export function* awsReplica(clock: SimClock, fleet: FleetSpec, plan: ReplicaPlan): Generator<SimEvent> {
  const rng = new Rng(clock.seed, `aws:${fleet.name}:${plan.workloadId}`);
  const ua = fleet.userAgent(plan.version);
  const real = fleet.realistic;
  // Realistic-profile draws come from their own streams: the default profile's are untouched.
  const lagRng = real ? new Rng(clock.seed, `lag:${plan.workloadId}`) : undefined;
  const agentRng = real?.agent ? new Rng(clock.seed, `agent:${plan.workloadId}`) : undefined;
  const natIp = real ? real.egress.natIps[hash32(plan.privateIp) % real.egress.natIps.length]! : plan.privateIp;
  const lagged = (ev: SimEvent): SimEvent => {
    if (lagRng) ev.delay = Math.round(lagRng.range(real!.deliveryLagMs[0], real!.deliveryLagMs[1]));
    return ev;
  };
  /** Where a call to `eventSource` comes from: the NAT gateway, or the private IP through a gateway endpoint. */
  const via = (eventSource: string): { sourceIp: string; vpcEndpointId?: string } =>
    !real ? { sourceIp: plan.privateIp }
    : real.egress.endpointServices.includes(eventSource) ? { sourceIp: plan.privateIp, vpcEndpointId: real.egress.vpceId }
    : { sourceIp: natIp };
  const principal = fleet.kind === 'ec2' ? 'ec2.amazonaws.com' : 'ecs-tasks.amazonaws.com';
  const stop = Math.min(plan.end, clock.end);
  const injections = [...plan.injections].sort((a, b) => a.time - b.time);
  let inj = 0;

  const mintInstance = (t: number, keyId: string): { session: AwsSession; ev: SimEvent } => {
    const time = floorSec(t);
    const session: AwsSession = {
      role: fleet.role,
      sessionName: plan.workloadId,
      accessKeyId: keyId,
      createdAt: time,
      expiresAt: time + 6 * HOUR,
      ...(fleet.kind === 'ec2' ? { ec2RoleDelivery: '2.0' as const } : {}),
    };
    const record = assumeRoleRecord(rng, {
      time, region: AWS_REGION, role: fleet.role, sessionName: plan.workloadId, newKeyId: keyId, expiresAt: session.expiresAt,
      caller: { service: principal },
    });
    return { session, ev: lagged({ format: 'cloudtrail', time, record }) };
  };

  const mintChain = (t: number, keyId: string, caller: AwsSession): { session: AwsSession; ev: SimEvent } => {
    const chain = fleet.chain!;
    const time = floorSec(t);
    const sessionName = `botocore-session-${Math.floor(time / 1000)}`;
    const session: AwsSession = { role: chain.role, sessionName, accessKeyId: keyId, createdAt: time, expiresAt: time + HOUR };
    const record = assumeRoleRecord(rng, {
      time, region: AWS_REGION, role: chain.role, sessionName, newKeyId: keyId, expiresAt: session.expiresAt, durationSeconds: 3600,
      caller: { session: caller, sourceIp: via('sts.amazonaws.com').sourceIp, userAgent: ua },
    });
    return { session, ev: lagged({ format: 'cloudtrail', time, record }) };
  };

  const call = (t: number, session: AwsSession, c: ApiCall, callerUa = ua, r = rng): SimEvent => {
    const time = floorSec(t);
    const denied = r.chance(0.003);
    const record = apiCallRecord(r, {
      time, region: AWS_REGION, session, eventSource: c.eventSource, eventName: c.eventName, readOnly: c.readOnly,
      data: c.data, requestParameters: c.params(r), userAgent: callerUa, ...via(c.eventSource),
      ...(denied ? { errorCode: 'AccessDenied' } : {}),
    });
    return lagged({ format: 'cloudtrail', time, record });
  };

  /** KMS decrypt a service ran on the session's behalf: labelled source, same key. */
  const fas = (t: number, session: AwsSession, via: string): SimEvent => {
    const time = floorSec(t);
    const record = apiCallRecord(rng, {
      time, region: AWS_REGION, session, eventSource: 'kms.amazonaws.com', eventName: 'Decrypt', readOnly: true,
      requestParameters: { encryptionAlgorithm: 'SYMMETRIC_DEFAULT', encryptionContext: { SecretARN: `arn:aws:${via.split('.')[0]}:us-east-1` } },
      sourceIp: via, userAgent: via, invokedBy: via,
    });
    return lagged({ format: 'cloudtrail', time, record });
  };

  let t = plan.start;
  let m = mintInstance(t, KEY_ID(rng));
  yield m.ev;
  let session = m.session;
  let nextRefresh = t + rng.range(55 * MIN, 60 * MIN);
  let nextCall = t + rng.range(5_000, 60_000) + rng.exp(HOUR / fleet.ratePerHour);

  let chain: AwsSession | undefined;
  let nextChainRefresh = Infinity;
  let nextChainCall = Infinity;
  if (fleet.chain) nextChainRefresh = t + rng.range(30_000, 3 * MIN);
  const agent = real?.agent;
  const agentUa = agent?.userAgent(plan.version);
  let nextAgentCall = agent && agentRng ? t + agentRng.range(20_000, 90_000) : Infinity;

  for (;;) {
    const nextInj = injections[inj]?.time ?? Infinity;
    t = Math.min(nextCall, nextRefresh, nextChainRefresh, nextChainCall, nextInj, nextAgentCall);
    if (t >= stop) return;
    if (t === nextAgentCall) {
      nextAgentCall = t + agentRng!.exp(HOUR / agent!.ratePerHour);
      yield call(t, session, pickCall(agentRng!, agent!.calls), agentUa, agentRng);
    } else if (t === nextInj) {
      const j = injections[inj++]!;
      if (j.target === 'chain' && fleet.chain) {
        const c = mintChain(t, j.credentialId, session);
        chain = c.session;
        nextChainRefresh = t + rng.range(55 * MIN, 58 * MIN);
        yield c.ev;
      } else {
        m = mintInstance(t, j.credentialId);
        session = m.session;
        nextRefresh = t + rng.range(55 * MIN, 60 * MIN);
        yield m.ev;
      }
    } else if (t === nextRefresh) {
      m = mintInstance(t, KEY_ID(rng));
      session = m.session;
      nextRefresh = t + rng.range(55 * MIN, 60 * MIN);
      yield m.ev;
    } else if (t === nextChainRefresh) {
      const c = mintChain(t, KEY_ID(rng), session);
      chain = c.session;
      nextChainRefresh = t + rng.range(55 * MIN, 58 * MIN);
      if (nextChainCall === Infinity) nextChainCall = t + rng.exp(HOUR / fleet.chain!.ratePerHour);
      yield c.ev;
    } else if (t === nextChainCall) {
      nextChainCall = t + rng.exp(HOUR / fleet.chain!.ratePerHour);
      yield call(t, chain!, pickCall(rng, fleet.chain!.calls));
    } else {
      nextCall = t + rng.exp(HOUR / fleet.ratePerHour);
      const c = pickCall(rng, fleet.calls);
      yield call(t, session, c);
      if (c.kmsVia && rng.chance(0.6)) yield fas(t, session, c.kmsVia); // same second as the call that caused it
    }
  }
}

// ------------------------------------------------------------------------------- OAuth clients

const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

/**
 * An Okta access token for a client_credentials grant: its claims, the compact JWT's sha256, and
 * the claim subset the recommended Kong Lua logs (including Okta's client id claim `cid`). The
 * signature derives from the jti, so whoever holds the token presents byte-identical copies.
 */
export function issueAccessToken(spec: ClientSpec, jti: string, t: number, scopes: readonly string[], subject?: string): IssuedToken {
  const iat = Math.floor(t / 1000);
  const claims: AccessTokenClaims = {
    ver: 1,
    jti,
    iss: spec.client.authServer.issuer,
    aud: spec.client.authServer.orgServer ? OKTA_ORG : 'api://default',
    iat,
    exp: iat + 3600,
    cid: spec.client.clientId,
    scp: [...scopes],
    sub: subject ?? spec.client.clientId,
  };
  const jwt = `${b64json({ kid: spec.client.authServer.id.slice(-12), alg: 'RS256' })}.${b64json(claims)}.${new Rng(hash32(jti), 'jwt-signature').b64url(342)}`;
  const loggedClaims = { jti: claims.jti, iss: claims.iss, sub: claims.sub, aud: claims.aud, cid: claims.cid, scp: claims.scp, iat: claims.iat, exp: claims.exp };
  return { claims, loggedClaims, sha256: createHash('sha256').update(jwt).digest('hex') };
}

export const newTokenId = (rng: Rng): string => `AT.${rng.b64url(43)}`;

export function grantEvent(rng: Rng, spec: ClientSpec, t: number, ip: string, ua: string, token: IssuedToken, requested?: readonly string[]): SimEvent {
  const claims = token.claims;
  const time = Math.floor(t);
  const record = tokenGrantRecord(rng, {
    time, client: spec.client, net: { ip, userAgent: ua }, tokenId: claims.jti, expiresAt: claims.exp * 1000,
    requestedScopes: requested ?? claims.scp, grantedScopes: claims.scp,
  });
  return { format: 'okta', time, record };
}

function requestStatus(rng: Rng, method: string): number {
  const x = rng.next();
  if (x < 0.015) return 404;
  if (x < 0.02) return 500;
  if (x < 0.025) return 429;
  return method === 'POST' ? 201 : 200;
}

export function gatewayEvent(rng: Rng, estate: Estate, spec: ClientSpec, t: number, ip: string, ua: string, token: IssuedToken, status?: number): SimEvent {
  const at = Math.floor(t);
  // A request lands on one gateway node, which stamps it with its own (possibly skewed) clock.
  const skew = estate.gatewayNodes ? rng.pick(estate.gatewayNodes).skewMs : 0;
  const time = at + skew;
  const route = rng.pick(spec.routes);
  const call = rng.pick(route.calls);
  const record = kongRequestRecord(rng, {
    time, route, call, clientIp: ip, userAgent: ua, token, status: status ?? requestStatus(rng, call.method),
    workspaceId: estate.workspaceId, upstreamIp: `10.30.${4 + route.path.length}.${10 + rng.int(40)}`,
  });
  return skew === 0 ? { format: 'kong', time, record } : { format: 'kong', time, record, at };
}

/**
 * One replica of an OAuth service client: mints on start and every 53–57 min (tokens live 60),
 * calls the gateway with the current token, and on scale-in sometimes revokes it on the way out.
 */
export function* clientReplica(clock: SimClock, estate: Estate, spec: ClientSpec, plan: ReplicaPlan): Generator<SimEvent> {
  const rng = new Rng(clock.seed, `pod:${plan.workloadId}`);
  const ua = spec.userAgent(plan.version);
  const scopes = plan.scopes ?? spec.scopes;
  const stop = Math.min(plan.end, clock.end);
  const injections = [...plan.injections].sort((a, b) => a.time - b.time);
  let inj = 0;
  // Autoscaled clients keep per-replica load flat; fixed-size ones see the daily curve.
  const load = spec.realistic?.load ?? diurnalLoad;
  const rateAt = (at: number): number => (spec.diurnal ? spec.ratePerHour : (spec.ratePerHour * load(at)) / 2);
  const rate = spec.ratePerHour;
  const sidecar = spec.realistic?.sidecar;
  const sidecarUa = sidecar?.userAgent(plan.version);
  const realRng = spec.realistic ? new Rng(clock.seed, `pod-real:${plan.workloadId}`) : undefined;
  const storms = estate.refreshStorms ?? [];
  let storm = 0;
  while (storm < storms.length && storms[storm]! <= plan.start) storm++;
  const nextStormAt = (): number => (storm < storms.length ? storms[storm]! + realRng!.range(0, 60_000) : Infinity);
  let stormAt = realRng ? nextStormAt() : Infinity;

  const mint = (t: number, jti: string): { token: IssuedToken; ev: SimEvent } => {
    const token = issueAccessToken(spec, jti, t, scopes);
    return { token, ev: grantEvent(rng, spec, t, egressIp(rng, spec.egress), ua, token) };
  };

  let t = plan.start;
  let m = mint(t, newTokenId(rng));
  yield m.ev;
  let token = m.token;
  let last = t;
  let nextRefresh = t + rng.range(53 * MIN, 57 * MIN);
  let nextReq = rate > 0 ? t + rng.range(200, 3000) + rng.exp(HOUR / rate) : Infinity;
  let rotateAt = Infinity;

  for (;;) {
    const nextInj = injections[inj]?.time ?? Infinity;
    t = Math.min(nextReq, nextRefresh, nextInj, rotateAt, stormAt);
    if (t >= stop) break;
    last = t;
    if (t === stormAt) {
      // Signing-key rollover: every replica drops its cached token and mints a new one.
      storm++;
      stormAt = nextStormAt();
      m = mint(t, newTokenId(rng));
      token = m.token;
      nextRefresh = t + rng.range(53 * MIN, 57 * MIN);
      yield m.ev;
    } else if (t === nextInj) {
      const j = injections[inj++]!;
      m = mint(t, j.credentialId);
      token = m.token;
      nextRefresh = t + rng.range(53 * MIN, 57 * MIN);
      if (j.rotateAt !== undefined) rotateAt = j.rotateAt;
      yield m.ev;
    } else if (t === rotateAt || t === nextRefresh) {
      if (t === rotateAt) rotateAt = Infinity;
      m = mint(t, newTokenId(rng));
      token = m.token;
      nextRefresh = t + rng.range(53 * MIN, 57 * MIN);
      yield m.ev;
    } else {
      nextReq = t + rng.exp(HOUR / rateAt(t));
      const callerUa = sidecar && realRng!.chance(sidecar.share) ? sidecarUa! : ua;
      yield gatewayEvent(rng, estate, spec, t, egressIp(rng, spec.egress), callerUa, token);
    }
  }
  // Graceful shutdown on scale-in/deploy: some SDKs revoke their token; it is never used again.
  if (plan.end < clock.end && rng.chance(0.4)) {
    const at = Math.floor(Math.max(last + 250, plan.end));
    if (at < clock.end) {
      const record = tokenRevokeRecord(rng, {
        time: at, client: spec.client, net: { ip: egressIp(rng, spec.egress), userAgent: ua }, tokenId: token.claims.jti, by: { kind: 'client' },
      });
      yield { format: 'okta', time: at, record };
      // Realistic profile: a request already in flight is drained through the gateway just after the revoke.
      if (realRng && rate > 0 && realRng.chance(0.5)) {
        const drained = at + realRng.range(500, 4000);
        if (drained < clock.end) yield gatewayEvent(rng, estate, spec, drained, egressIp(rng, spec.egress), ua, token);
      }
    }
  }
}
