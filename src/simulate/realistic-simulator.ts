/**
 * `simulate({ profile: 'realistic' })`: weeks of the realistic estate (realistic-estate.ts,
 * realistic-mobile.ts) with the default attacks and the hard ones (hard-attacks.ts) injected
 * after a learning week. Records come out in arrival order (CloudTrail minutes late), each
 * attacker record marked with its attack's name.
 */
import {
  ATTACK_NAMES, HARD_ATTACK_NAMES, ec2CredentialEscape, mintLoop, scopeEscalation, stsReplay, useAfterRevoke,
  type AttackName, type Built, type HardAttackName, type InjectedAttack,
} from './attacks.js';
import { inArrivalOrder } from './arrival.js';
import { awsReplica, clientReplica, podWorkload, replicaPlans, type ReplicaPlan, type SimClock } from './background.js';
import { DAY, HOUR, MIN, type ClientSpec, type FleetSpec } from './estate.js';
import {
  instanceCredentialsPrivate, mintPeakBurst, mintSlowRamp, refreshTokenReuse, scopeSensitiveRead, stolenStsOtherAsn, stolenStsSameRegion, useTenMinutesAfterRevoke,
} from './hard-attacks.js';
import { mergeActors } from './merge.js';
import { Rng } from './prng.js';
import { CLOUDTRAIL_LAG_MS, PEAK_HOUR, buildRealisticEstate, isWeekend, realisticTimeline } from './realistic-estate.js';
import { mobileDevice, mobileDevices, type RefreshInjection } from './realistic-mobile.js';
import type { ActorSpec, SimEvent } from './types.js';

export type RealisticAttackName = AttackName | HardAttackName;
export const REALISTIC_ATTACK_NAMES: readonly RealisticAttackName[] = [...ATTACK_NAMES, ...HARD_ATTACK_NAMES];

/** The background entity each attack targets (`mobile:0` is the first mobile device). */
export const REALISTIC_VICTIM: Readonly<Record<RealisticAttackName, string>> = {
  mint_loop: 'orders-api',
  sts_replay: 'batch-worker',
  ec2_credential_escape: 'web-frontend',
  scope_escalation: 'directory-sync',
  use_after_revoke: 'payments-worker',
  mint_slow_ramp: 'reporting-etl',
  mint_peak_burst: 'notifications',
  refresh_token_reuse: 'mobile:0',
  stolen_sts_same_region: 'batch-worker',
  stolen_sts_other_asn: 'batch-worker',
  scope_sensitive_read: 'orders-worker',
  use_10min_after_revoke: 'catalog-sync',
  instance_credentials_private: 'web-frontend',
};

/** Attacks spread evenly (fixed order) after the learning days; the ramp and the peak burst at their own times. */
export function realisticAttackTimes(seed: number, start: number, days: number): Record<RealisticAttackName, number> {
  const rng = new Rng(seed, 'realistic-attack-times');
  const { learnDays } = realisticTimeline(start, days);
  const out = {} as Record<RealisticAttackName, number>;
  out.mint_slow_ramp = start + learnDays * DAY + 30 * MIN;
  let d = learnDays + 1;
  while (isWeekend(start + d * DAY) && d < days - 1) d++;
  out.mint_peak_burst = start + d * DAY + PEAK_HOUR * HOUR + Math.round(rng.range(0, 5 * MIN));
  const spread = REALISTIC_ATTACK_NAMES.filter((n) => n !== 'mint_slow_ramp' && n !== 'mint_peak_burst');
  const from = start + learnDays * DAY + 2 * HOUR;
  const span = start + days * DAY - 3 * HOUR - from;
  spread.forEach((name, i) => {
    let t = from + (span * i) / spread.length + rng.range(0, 10 * MIN);
    // Keep clear of the peak burst's hour so two mint attacks never share a bucket.
    if (Math.abs(t - out.mint_peak_burst) < 2 * HOUR) t = out.mint_peak_burst + 2 * HOUR;
    out[name] = Math.round(t);
  });
  return out;
}

export interface RealisticOptions {
  seed: number;
  start: number;
  days: number;
  scale: number;
  attacks: readonly RealisticAttackName[];
}

export function simulateRealistic(opts: RealisticOptions): { events: Iterable<SimEvent>; attacks: InjectedAttack[] } {
  const clock: SimClock = { seed: opts.seed >>> 0, start: opts.start, end: opts.start + opts.days * DAY };
  const times = realisticAttackTimes(clock.seed, clock.start, opts.days);
  const victimTimes = new Map<string, number[]>();
  for (const name of REALISTIC_ATTACK_NAMES) {
    const v = REALISTIC_VICTIM[name];
    victimTimes.set(v, [...(victimTimes.get(v) ?? []), times[name]]);
  }
  const estate = buildRealisticEstate(clock.seed, opts.scale, clock.start, opts.days, victimTimes);

  const fleetPlans = new Map<string, { fleet: FleetSpec; plans: ReplicaPlan[] }>();
  for (const fleet of estate.fleets) {
    const r = fleet.realistic!;
    const plans = replicaPlans(clock, fleet.name, fleet.baseSize, fleet.diurnal, fleet.deploys, vpcWorkload(fleet), {
      load: r.load, scheduledExtra: r.scheduledExtra, restartStaggerMs: r.restartStaggerMs, from: r.from,
    });
    fleetPlans.set(fleet.name, { fleet, plans });
  }
  const clientPlans = new Map<string, { spec: ClientSpec; plans: ReplicaPlan[] }>();
  for (const spec of estate.clients) {
    const r = spec.realistic!;
    const plans = replicaPlans(clock, spec.client.name, spec.baseReplicas, spec.diurnal, spec.deploys, podWorkload(spec), {
      load: r.load, restartStaggerMs: r.restartStaggerMs, from: r.from,
    });
    if (spec.addedReadScope && r.scopeChangeAt !== undefined) {
      const at = spec.deploys.findIndex((d) => d >= r.scopeChangeAt!);
      if (at >= 0) for (const p of plans) if (p.version > at) p.scopes = [...spec.scopes, spec.addedReadScope];
    }
    clientPlans.set(spec.client.name, { spec, plans });
  }
  const fleet = (name: string) => fleetPlans.get(name)!;
  const client = (name: string) => clientPlans.get(name)!;
  const devices = mobileDevices(clock.seed, Math.max(2, Math.round(30 * opts.scale)), clock.start);

  const attacks: InjectedAttack[] = [];
  const attackActors: ActorSpec[] = [];
  let refreshInjection: RefreshInjection | undefined;
  const enabled = new Set(opts.attacks);
  for (const name of REALISTIC_ATTACK_NAMES) {
    if (!enabled.has(name)) continue;
    const t0 = times[name];
    const v = REALISTIC_VICTIM[name];
    let b: Built;
    switch (name) {
      case 'mint_loop': b = mintLoop(clock, client(v).spec, client(v).plans, t0); break;
      case 'sts_replay': b = stsReplay(clock, fleet(v).fleet, fleet(v).plans, t0); break;
      case 'ec2_credential_escape': b = ec2CredentialEscape(clock, fleet(v).fleet, fleet(v).plans, t0); break;
      case 'scope_escalation': b = scopeEscalation(clock, client(v).spec, client(v).plans, t0); break;
      case 'use_after_revoke': b = useAfterRevoke(clock, estate, client(v).spec, client(v).plans, t0); break;
      case 'mint_slow_ramp': b = mintSlowRamp(clock, client(v).spec, client(v).plans, t0); break;
      case 'mint_peak_burst': b = mintPeakBurst(clock, client(v).spec, client(v).plans, t0); break;
      case 'scope_sensitive_read': b = scopeSensitiveRead(clock, client(v).spec, client(v).plans, t0); break;
      case 'use_10min_after_revoke': b = useTenMinutesAfterRevoke(clock, estate, client(v).spec, client(v).plans, t0); break;
      case 'stolen_sts_same_region': b = stolenStsSameRegion(clock, fleet(v).fleet, fleet(v).plans, t0); break;
      case 'stolen_sts_other_asn': b = stolenStsOtherAsn(clock, fleet(v).fleet, fleet(v).plans, t0); break;
      case 'instance_credentials_private': b = instanceCredentialsPrivate(clock, fleet(v).fleet, fleet(v).plans, t0); break;
      case 'refresh_token_reuse': {
        const r = refreshTokenReuse(clock, estate, estate.mobile, devices[0]!, t0);
        refreshInjection = r.injection;
        b = r;
        break;
      }
    }
    attacks.push(withTrueWindow(b));
    attackActors.push(marked(clock.seed, name, b.actor));
  }

  const actors: ActorSpec[] = [];
  for (const { fleet: f, plans } of fleetPlans.values()) for (const p of plans) actors.push({ start: Math.floor(p.start / 1000) * 1000, make: () => awsReplica(clock, f, p) });
  for (const { spec, plans } of clientPlans.values()) for (const p of plans) actors.push({ start: Math.floor(p.start / 1000) * 1000, make: () => clientReplica(clock, estate, spec, p) });
  for (const d of devices) {
    const inj = d.index === 0 ? refreshInjection : undefined;
    actors.push({ start: clock.start, make: () => mobileDevice(clock, estate, estate.mobile, d, inj) });
  }
  actors.push(...attackActors);
  return { events: { [Symbol.iterator]: () => inArrivalOrder(mergeActors(actors, clock.end)) }, attacks };
}

/** Instances and tasks in the realistic VPC (10.40.0.0/16), one /20 per fleet. */
function vpcWorkload(fleet: FleetSpec): (rng: Rng) => { id: string; ip: string } {
  return (rng) => ({
    id: fleet.kind === 'ec2' ? `i-0${rng.hex(16)}` : rng.hex(32),
    ip: `10.40.${fleet.subnet * 16 + rng.int(16)}.${4 + rng.int(250)}`,
  });
}

/** Attack records: marked with the attack, and CloudTrail's delivery lag like every other trail record. */
function marked(seed: number, name: string, actor: ActorSpec): ActorSpec {
  return {
    start: actor.start,
    *make() {
      const lag = new Rng(seed, `lag:attack:${name}`);
      const it = actor.make();
      for (let n = it.next(); !n.done; n = it.next()) {
        const e = n.value;
        const delay = e.format === 'cloudtrail' ? Math.round(lag.range(CLOUDTRAIL_LAG_MS[0], CLOUDTRAIL_LAG_MS[1])) : e.delay;
        yield { ...e, attack: name, ...(delay !== undefined ? { delay } : {}) };
      }
    },
  };
}

/**
 * The default attacks compute their window before gateway clock skew is applied: take it from
 * the records (the malicious acts: everything but the victim-side revoke).
 */
function withTrueWindow(b: Built): InjectedAttack {
  let start = Infinity;
  let end = -Infinity;
  const it = b.actor.make();
  for (let n = it.next(); !n.done; n = it.next()) {
    const e = n.value;
    if (e.format === 'okta' && String(e.record.eventType).includes('token.revoke')) continue;
    start = Math.min(start, e.time);
    end = Math.max(end, e.time);
  }
  return Number.isFinite(start) ? { ...b.attack, start, end } : b.attack;
}
