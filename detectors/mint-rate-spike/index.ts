/** mint_rate_spike: token issuance rate per issuer against its own robust, seasonal baseline. */
import type { DetectorDefinition } from '../types.js';
import { negative, positive } from './cases.js';
import { MintRateSpikeConfig } from './config.js';
import { createMintRateSpike } from './detector.js';
import { meta } from './meta.js';

export { MintRateSpikeConfig } from './config.js';
export { MintRateSpikeDetector, type MintRateSpikeState } from './detector.js';

export const mintRateSpike: DetectorDefinition<MintRateSpikeConfig> = {
  meta,
  config: MintRateSpikeConfig,
  create: (config) => createMintRateSpike(config),
  cases: { positive, negative },
};
