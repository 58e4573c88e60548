/**
 * Per-detector cost (not a test): decode + enrich the realistic profile's records once, then time
 * each detector alone over the same token events, in event-time order (median of --reps).
 *
 *   npm run build && node dist/bench/detector-cost.js [--days 6] [--scale 0.5] [--seed 3] [--reps 3]
 */
import { parseArgs } from 'node:util';
import { createFingerprinter } from '../src/core/fingerprint.js';
import { parseConfig } from '../src/config/load-config.js';
import { enrichStageFor } from '../src/enrich/enrich-stage.js';
import { decodeValue } from '../src/pipeline/decode.js';
import { DEFAULT_START, REALISTIC_ATTACK_NAMES, simulate } from '../src/simulate/index.js';
import { DETECTORS } from '../detectors/index.js';
import type { TokenEvent } from '../schemas/token-event.js';

const { values } = parseArgs({ options: { days: { type: 'string', default: '6' }, scale: { type: 'string', default: '0.5' }, seed: { type: 'string', default: '3' }, reps: { type: 'string', default: '3' } } });
const fingerprint = createFingerprinter({ key: 'bench-key-0123456789abcdef0123' });
const stage = enrichStageFor(parseConfig({}).enrich);
const sim = simulate({ seed: Number(values.seed), start: DEFAULT_START, hours: Number(values.days) * 24, scale: Number(values.scale), profile: 'realistic', attacks: [...REALISTIC_ATTACK_NAMES] });
const events: TokenEvent[] = [];
let records = 0;
const t0 = performance.now();
for (const e of sim.events) {
  records++;
  const d = decodeValue(e.record, { fingerprint });
  if (!d.ok) continue;
  for (const ev of d.events) {
    stage?.enrich(ev);
    events.push(ev);
  }
}
const decodeUs = ((performance.now() - t0) * 1000) / events.length;
events.sort((a, b) => a.time - b.time);
process.stdout.write(`${records} records → ${events.length} token events; simulate + decode + enrich ${decodeUs.toFixed(2)} µs/event\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const def of DETECTORS) {
  const reps: number[] = [];
  for (let r = 0; r < Number(values.reps); r++) {
    const det = def.create(def.config.parse({}));
    let last = 0;
    const start = performance.now();
    for (const e of events) {
      det.process(e);
      if (e.time - last >= 60_000) {
        det.advance(e.time);
        last = e.time;
      }
    }
    reps.push(((performance.now() - start) * 1000) / events.length);
  }
  process.stdout.write(`${def.meta.id.padEnd(22)} median ${median(reps).toFixed(2)} µs/event (reps: ${reps.map((x) => x.toFixed(2)).join(' · ')})\n`);
}
