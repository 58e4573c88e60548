/** Token events of the realistic simulator profile, decoded and enriched as the pipeline does, in event-time order. */
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { parseConfig } from '../../src/config/load-config.js';
import { enrichStageFor } from '../../src/enrich/enrich-stage.js';
import { decodeValue } from '../../src/pipeline/decode.js';
import { DEFAULT_START, REALISTIC_ATTACK_NAMES, simulate } from '../../src/simulate/index.js';
import type { TokenEvent } from '../../schemas/token-event.js';

/** `days` ≥ 5 (the profile's minimum); `keep` selects issuers (every event of a kept issuer stays, so per-key histories are whole). */
export function realisticEvents(opts: { seed?: number; days?: number; scale?: number; keep?: (issuer: string | undefined) => boolean } = {}): TokenEvent[] {
  const fingerprint = createFingerprinter({ key: 'keyed-state-test-key-0123456789' });
  const stage = enrichStageFor(parseConfig({}).enrich);
  const sim = simulate({ seed: opts.seed ?? 3, start: DEFAULT_START, hours: (opts.days ?? 5) * 24, scale: opts.scale ?? 0.02, profile: 'realistic', attacks: [...REALISTIC_ATTACK_NAMES] });
  const events: TokenEvent[] = [];
  for (const e of sim.events) {
    const d = decodeValue(e.record, { fingerprint });
    if (!d.ok) continue;
    for (const ev of d.events) {
      if (opts.keep && !opts.keep(ev.issuer)) continue;
      stage?.enrich(ev);
      events.push(ev);
    }
  }
  return events.sort((a, b) => a.time - b.time);
}
