/** The simulator behind `tokenwatch simulate`. */
export { simulate, DEFAULT_START } from './simulator.js';
export type { SimulateOptions, SimulateResult } from './simulator.js';
export { ATTACK_NAMES } from './attacks.js';
export type { AttackName, AttackFamily, InjectedAttack } from './attacks.js';
export { DECLARED_EGRESS_RANGES, WORKLOAD_CIDRS, ATTACKER_RANGE } from './estate.js';
export { writeNdjson } from './ndjson.js';
export type { SimEvent } from './types.js';
