import type { DetectorDefinition } from '../types.js';
import { crossServiceReuseCases } from './cases.js';
import { CrossServiceReuseConfig } from './config.js';
import { createCrossServiceReuse } from './detector.js';
import { crossServiceReuseMeta } from './meta.js';

export { CrossServiceReuseConfig } from './config.js';
export type { CrossServiceReuseSnapshot } from './detector.js';

export const crossServiceReuse: DetectorDefinition<CrossServiceReuseConfig> = {
  meta: crossServiceReuseMeta,
  config: CrossServiceReuseConfig,
  create: (config) => createCrossServiceReuse(config),
  cases: crossServiceReuseCases,
};
