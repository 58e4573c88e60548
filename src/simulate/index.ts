/** The simulator behind `tokenwatch simulate`. */
export { simulate, DEFAULT_START, SIMULATION_PROFILES } from './simulator.js';
export type { SimulateOptions, SimulateResult, SimulationProfile } from './simulator.js';
export { ATTACK_NAMES, HARD_ATTACK_NAMES, CREDENTIAL_DETECTORS } from './attacks.js';
export type { AttackName, AttackFamily, AttackIdentity, HardAttackName, InjectedAttack } from './attacks.js';
export { REALISTIC_ATTACK_NAMES, REALISTIC_VICTIM, realisticAttackTimes } from './realistic-simulator.js';
export type { RealisticAttackName } from './realistic-simulator.js';
export { DECLARED_EGRESS_RANGES, WORKLOAD_CIDRS, ATTACKER_RANGE } from './estate.js';
export { writeNdjson } from './ndjson.js';
export type { SimEvent } from './types.js';
