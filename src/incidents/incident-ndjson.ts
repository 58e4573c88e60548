/** Incidents as NDJSON (`replay --incidents FILE`), honouring backpressure. */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Incident } from '../../schemas/incident.js';

export async function writeIncidentsNdjson(out: Writable, incidents: readonly Incident[]): Promise<void> {
  for (const i of incidents) {
    if (!out.write(JSON.stringify(i) + '\n')) await once(out, 'drain');
  }
}
