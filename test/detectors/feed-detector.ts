/** Drive a detector the way the engine does in tests: process each event, then advance to its time. */
import type { TokenEvent } from '../../schemas/token-event.js';
import type { AlertDraft, DetectorInstance } from '../../detectors/types.js';

/** `closeAfterMs`: finally advance this far past the last event, closing open windows. */
export function feedDetector(det: DetectorInstance, events: readonly TokenEvent[], closeAfterMs?: number): AlertDraft[] {
  const out: AlertDraft[] = [];
  for (const e of events) {
    out.push(...det.process(e));
    out.push(...det.advance(e.time));
  }
  const last = events[events.length - 1];
  if (closeAfterMs !== undefined && last) out.push(...det.advance(last.time + closeAfterMs));
  return out;
}
