/** Alerts as NDJSON to a stream (stdout or --out file), honouring backpressure. */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Alert } from '../../schemas/alert.js';

export class NdjsonAlertSink {
  count = 0;
  constructor(private readonly out: Writable) {}

  async write(alerts: readonly Alert[]): Promise<void> {
    for (const a of alerts) {
      this.count++;
      if (!this.out.write(JSON.stringify(a) + '\n')) await once(this.out, 'drain');
    }
  }
}
