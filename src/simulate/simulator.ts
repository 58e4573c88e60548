/**
 * `simulate()`: a deterministic, lazily generated stream of raw vendor records (CloudTrail,
 * Okta System Log, Kong http-log) for a realistic estate, with optional injected attacks.
 * Same options → byte-identical output; all times derive from `start`, never the wall clock.
 */
import {
  ATTACK_NAMES, ATTACK_VICTIM, attackTimes, ec2CredentialEscape, mintLoop, scopeEscalation, stsReplay, useAfterRevoke,
  type AttackName, type InjectedAttack,
} from './attacks.js';
import { awsReplica, awsWorkload, clientReplica, podWorkload, replicaPlans, type ReplicaPlan, type SimClock } from './background.js';
import { HOUR, buildEstate, type ClientSpec, type FleetSpec } from './estate.js';
import { mergeActors } from './merge.js';
import { REALISTIC_ATTACK_NAMES, simulateRealistic, type RealisticAttackName } from './realistic-simulator.js';
import type { ActorSpec, SimEvent } from './types.js';

export const DEFAULT_START = Date.UTC(2026, 0, 5, 0, 0, 0);

export interface SimulateOptions {
  seed: number;
  /** Epoch ms of the first event; default 2026-01-05T00:00:00Z. */
  start: number;
  hours: number;
  /** Default profile: the five ATTACK_NAMES; realistic: REALISTIC_ATTACK_NAMES. */
  attacks: readonly (AttackName | RealisticAttackName)[];
  /** Background size multiplier (replica/instance counts), default 1. */
  scale?: number;
  /**
   * `default`: two days' worth of a small estate (demo, tests). `realistic`: whole days (hours
   * must be a multiple of 24, at least 5 days) of the realistic estate with its hard negatives;
   * attacks after a learning week (realistic-simulator.ts).
   */
  profile?: SimulationProfile;
}

export const SIMULATION_PROFILES = ['default', 'realistic'] as const;
export type SimulationProfile = (typeof SIMULATION_PROFILES)[number];

export interface SimulateResult {
  /** Re-iterable: every iteration regenerates the same events. */
  events: Iterable<SimEvent>;
  attacks: InjectedAttack[];
}

const floorSec = (t: number): number => Math.floor(t / 1000) * 1000;
/** Learning period after which a deploy-time read scope appears (after the detectors' baseline). */
const SCOPE_CHANGE_AFTER = 26 * HOUR;

function validate(opts: SimulateOptions): void {
  if (!Number.isInteger(opts.seed)) throw new RangeError('simulate: seed must be an integer');
  if (!Number.isFinite(opts.start) || opts.start < 0) throw new RangeError('simulate: start must be epoch milliseconds');
  if (!(opts.hours > 0) || opts.hours > 24 * 366) throw new RangeError('simulate: hours must be in (0, 8784]');
  const scale = opts.scale ?? 1;
  if (!(scale > 0) || scale > 1000) throw new RangeError('simulate: scale must be in (0, 1000]');
  const profile = opts.profile ?? 'default';
  if (!(SIMULATION_PROFILES as readonly string[]).includes(profile)) throw new RangeError(`simulate: unknown profile "${profile}"`);
  const known: readonly string[] = profile === 'realistic' ? REALISTIC_ATTACK_NAMES : ATTACK_NAMES;
  for (const a of opts.attacks) if (!known.includes(a)) throw new RangeError(`simulate: unknown attack "${a}" for the ${profile} profile`);
  if (profile === 'realistic') {
    if (opts.hours % 24 !== 0 || opts.hours < 5 * 24) throw new RangeError('simulate: the realistic profile runs whole days, at least 5 (hours = 24 × days)');
  } else if (opts.attacks.length > 0 && opts.hours < 8) {
    throw new RangeError('simulate: attacks need at least 8 hours (a learning period first)');
  }
}

export function simulate(opts: SimulateOptions): SimulateResult {
  validate(opts);
  const scale = opts.scale ?? 1;
  if (opts.profile === 'realistic') {
    return simulateRealistic({ seed: opts.seed, start: opts.start, days: opts.hours / 24, scale, attacks: opts.attacks as RealisticAttackName[] });
  }
  const clock: SimClock = { seed: opts.seed >>> 0, start: opts.start, end: opts.start + opts.hours * HOUR };
  const times = attackTimes(clock.seed, clock.start, opts.hours);
  // Victims keep their deploys clear of every attack slot, enabled or not, so toggling an
  // attack never changes the rest of the estate.
  const victimTimes = new Map<string, number[]>();
  for (const name of ATTACK_NAMES) victimTimes.set(ATTACK_VICTIM[name], [times[name]]);
  const estate = buildEstate(clock.seed, scale, clock.start, opts.hours, victimTimes);

  const fleetPlans = new Map<string, { fleet: FleetSpec; plans: ReplicaPlan[] }>();
  for (const fleet of estate.fleets) {
    fleetPlans.set(fleet.name, { fleet, plans: replicaPlans(clock, fleet.name, fleet.baseSize, fleet.diurnal, fleet.deploys, awsWorkload(fleet)) });
  }
  const clientPlans = new Map<string, { spec: ClientSpec; plans: ReplicaPlan[] }>();
  for (const spec of estate.clients) {
    const plans = replicaPlans(clock, spec.client.name, spec.baseReplicas, spec.diurnal, spec.deploys, podWorkload(spec));
    if (spec.addedReadScope) {
      const scopeDeploy = spec.deploys.findIndex((d) => d >= clock.start + SCOPE_CHANGE_AFTER);
      if (scopeDeploy >= 0) {
        const withScope = [...spec.scopes, spec.addedReadScope];
        for (const p of plans) if (p.version > scopeDeploy) p.scopes = withScope;
      }
    }
    clientPlans.set(spec.client.name, { spec, plans });
  }
  const fleet = (name: string): { fleet: FleetSpec; plans: ReplicaPlan[] } => fleetPlans.get(name)!;
  const client = (name: string): { spec: ClientSpec; plans: ReplicaPlan[] } => clientPlans.get(name)!;

  const attackActors: ActorSpec[] = [];
  const attacks: InjectedAttack[] = [];
  const enabled = new Set(opts.attacks as AttackName[]);
  for (const name of ATTACK_NAMES) {
    if (!enabled.has(name)) continue;
    const t0 = times[name];
    const victim = ATTACK_VICTIM[name];
    const built =
      name === 'mint_loop' ? mintLoop(clock, client(victim).spec, client(victim).plans, t0)
      : name === 'sts_replay' ? stsReplay(clock, fleet(victim).fleet, fleet(victim).plans, t0)
      : name === 'ec2_credential_escape' ? ec2CredentialEscape(clock, fleet(victim).fleet, fleet(victim).plans, t0)
      : name === 'scope_escalation' ? scopeEscalation(clock, client(victim).spec, client(victim).plans, t0)
      : useAfterRevoke(clock, estate, client(victim).spec, client(victim).plans, t0);
    attacks.push(built.attack);
    attackActors.push(built.actor);
  }

  const actors: ActorSpec[] = [];
  for (const { fleet: f, plans } of fleetPlans.values()) {
    for (const p of plans) actors.push({ start: floorSec(p.start), make: () => awsReplica(clock, f, p) });
  }
  for (const { spec, plans } of clientPlans.values()) {
    for (const p of plans) actors.push({ start: floorSec(p.start), make: () => clientReplica(clock, estate, spec, p) });
  }
  actors.push(...attackActors);

  return {
    events: { [Symbol.iterator]: () => mergeActors(actors, clock.end) },
    attacks,
  };
}
