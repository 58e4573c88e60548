/**
 * The stage as wired into the embedded runner: events reach the engine and the store enriched,
 * and every alert names the enrichment data it was judged with.
 */
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../schemas/alert.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { simulatedEstateConfig } from '../../src/cli/simulate-command.js';
import { runReplay } from '../../src/runners/embedded-runner.js';
import { simulate, ATTACK_NAMES } from '../../src/simulate/index.js';

describe('replay with enrichment', () => {
  it('enriches events before the engine and records the data versions in every alert', async () => {
    const sim = simulate({ seed: 3, start: Date.UTC(2026, 0, 5), hours: 12, attacks: [...ATTACK_NAMES] });
    const lines = [...sim.events].map((e) => JSON.stringify(e.record)).join('\n') + '\n';
    const alerts: Alert[] = [];
    const events: TokenEvent[] = [];
    const config = parseConfig({ ...simulatedEstateConfig(), enrich: { data_dir: 'test/fixtures/enrich' } });
    await runReplay({
      config,
      inputs: [{ name: 'simulated', source: Readable.from([lines]) }],
      fingerprint: createFingerprinter({ key: 'enrichment-test-key-0123456789abcdef' }),
      alertsOut: new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) alerts.push(JSON.parse(l)); cb(); } }),
      deadLetters: { write: async () => undefined },
      store: { writeAlerts: async () => undefined, writeInventory: async () => undefined, writeEvents: async (evs) => void events.push(...evs), flush: async () => undefined },
    });
    const withIp = events.filter((e) => e.network?.ip !== undefined);
    expect(withIp.length).toBeGreaterThan(100);
    // the simulated estate uses private and documentation ranges: scope only, never an ASN
    for (const e of withIp.slice(0, 200)) expect(['private', 'reserved']).toContain(e.network?.scope);
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      expect(a.evidence.baseline.enrichment).toMatchObject({
        asn_data: expect.stringMatching(/asn-ipv4\.csv \(modified/), // data_dir holds the fixture CSVs
        cloud_ranges: { aws: expect.stringMatching(/^ip-ranges\.json createDate/), gcp: expect.any(String), azure: expect.any(String) },
      });
    }
  });
});
