import type { DetectorDefinition } from '../types.js';
import { negativeCases, positiveCases } from './cases.js';
import { CredentialContextConfig } from './config.js';
import { createCredentialContext } from './detector.js';
import { meta } from './meta.js';

export type { CredentialContextConfig } from './config.js';

export const credentialContext: DetectorDefinition<CredentialContextConfig> = {
  meta,
  config: CredentialContextConfig,
  create: createCredentialContext,
  cases: { positive: positiveCases, negative: negativeCases },
};
