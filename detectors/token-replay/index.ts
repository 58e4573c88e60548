import type { DetectorDefinition } from '../types.js';
import { negativeCases, positiveCases } from './cases.js';
import { TokenReplayConfig } from './config.js';
import { createTokenReplay } from './detector.js';
import { meta } from './meta.js';

export type { TokenReplayConfig } from './config.js';

export const tokenReplay: DetectorDefinition<TokenReplayConfig> = {
  meta,
  config: TokenReplayConfig,
  create: createTokenReplay,
  cases: { positive: positiveCases, negative: negativeCases },
};
