import type { DetectorDefinition } from '../types.js';
import { policyViolationCases } from './cases.js';
import { PolicyViolationConfig } from './config.js';
import { createPolicyViolation } from './detector.js';
import { policyViolationMeta } from './meta.js';

export { PolicyViolationConfig } from './config.js';
export type { PolicyViolationSnapshot } from './detector.js';

export const policyViolation: DetectorDefinition<PolicyViolationConfig> = {
  meta: policyViolationMeta,
  config: PolicyViolationConfig,
  create: (config) => createPolicyViolation(config),
  cases: policyViolationCases,
};
