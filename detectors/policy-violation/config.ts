import { z } from 'zod';
import { Policy } from '../../schemas/policy.js';

export const PolicyViolationConfig = z.object({
  policy: Policy.default({ version: 1, default: 'allow', rules: [] }).describe(
    'The issuer policy itself (schemas/policy.ts): default allow|deny and ordered rules, inline in the config — detectors do ' +
      'no I/O; `tokenwatch policy check --policy FILE` loads a file into it. Default: no rules, nothing is judged.',
  ),
  judge_failed_mints: z
    .boolean()
    .default(false)
    .describe('Also judge mints whose outcome is failure (refused by the IdP): off, since a refused mint minted nothing.'),
});
export type PolicyViolationConfig = z.infer<typeof PolicyViolationConfig>;
