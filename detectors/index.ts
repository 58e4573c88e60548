/** The detector registry: every detector family, in a stable order. */
import type { DetectorDefinition } from './types.js';
import { mintRateSpike } from './mint-rate-spike/index.js';
import { tokenReplay } from './token-replay/index.js';
import { scopeDrift } from './scope-drift/index.js';
import { crossServiceReuse } from './cross-service-reuse/index.js';
import { credentialContext } from './credential-context/index.js';
import { policyViolation } from './policy-violation/index.js';

export const DETECTORS: readonly DetectorDefinition[] = [mintRateSpike, tokenReplay, scopeDrift, crossServiceReuse, credentialContext, policyViolation];
