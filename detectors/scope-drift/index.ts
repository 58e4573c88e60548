import type { DetectorDefinition } from '../types.js';
import { scopeDriftCases } from './cases.js';
import { ScopeDriftConfig } from './config.js';
import { createScopeDrift } from './detector.js';
import { scopeDriftMeta } from './meta.js';

export { ScopeDriftConfig } from './config.js';
export type { ScopeDriftSnapshot } from './detector.js';

export const scopeDrift: DetectorDefinition<ScopeDriftConfig> = {
  meta: scopeDriftMeta,
  config: ScopeDriftConfig,
  create: (config) => createScopeDrift(config),
  cases: scopeDriftCases,
};
