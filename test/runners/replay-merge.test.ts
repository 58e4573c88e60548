/**
 * Replay of several files merges them by event time: a gateway log named before the IdP log on
 * the command line still sees the IdP's revoke first, nothing counts as late, and the order of
 * the files does not change the alerts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../schemas/alert.js';
import { parseConfig } from '../../src/config/load-config.js';
import { simulatedEstateConfig } from '../../src/cli/simulate-command.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { runReplay, type ReplayInput, type ReplaySummary } from '../../src/runners/embedded-runner.js';
import { simulate, type InjectedAttack } from '../../src/simulate/index.js';
import type { DeadLetter } from '../../src/sinks/dead-letter-file.js';

const fingerprint = createFingerprinter({ key: 'replay-merge-test-key-0123456789ab' });
const dir = mkdtempSync(join(tmpdir(), 'tw-merge-'));

async function replay(files: readonly string[]): Promise<{ summary: ReplaySummary; alerts: Alert[]; dls: DeadLetter[] }> {
  const alerts: Alert[] = [];
  const dls: DeadLetter[] = [];
  const out = new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) alerts.push(JSON.parse(l)); cb(); } });
  const inputs: ReplayInput[] = files.map((f) => ({ name: f, source: join(dir, f) }));
  const summary = await runReplay({ config: parseConfig(simulatedEstateConfig()), inputs, fingerprint, alertsOut: out, deadLetters: { write: async (d) => void dls.push(d) } });
  return { summary, alerts, dls };
}

const ids = (alerts: readonly Alert[]): string[] => alerts.map((a) => a.alert_id).sort();

describe('replay merges its files by event time', () => {
  let attack: InjectedAttack;
  let whole: Awaited<ReturnType<typeof replay>>;

  beforeAll(async () => {
    const sim = simulate({ seed: 5, start: Date.UTC(2026, 0, 5), hours: 12, scale: 0.2, attacks: ['use_after_revoke'] });
    attack = sim.attacks[0]!;
    const byFormat: Record<string, string[]> = {};
    const all: string[] = [];
    for (const e of sim.events) {
      const line = JSON.stringify(e.record);
      (byFormat[e.format] ??= []).push(line);
      all.push(line);
    }
    expect(Object.keys(byFormat).sort()).toEqual(['cloudtrail', 'kong', 'okta']);
    for (const [f, lines] of Object.entries(byFormat)) writeFileSync(join(dir, `${f}.ndjson`), lines.join('\n') + '\n');
    // one broken line in the gateway log: its dead letter keeps the gateway file and line
    writeFileSync(join(dir, 'kong.ndjson'), byFormat.kong!.join('\n') + '\n{"broken": \n');
    writeFileSync(join(dir, 'all.ndjson'), all.join('\n') + '\n');
    whole = await replay(['all.ndjson']);
  }, 300_000);

  it('raises the use after revocation when the gateway file comes before the IdP file, with nothing late', async () => {
    const r = await replay(['kong.ndjson', 'cloudtrail.ndjson', 'okta.ndjson']);
    const jtiFp = fingerprint('jti', attack.issuer!);
    const hits = r.alerts.filter((a) => a.detector === 'token_replay' && a.kind === 'use_after_revocation');
    expect(hits.map((a) => a.token_fp)).toEqual([jtiFp]);
    expect(r.summary.late_events).toBe(0);
    expect(r.summary.records_by_source).toEqual(whole.summary.records_by_source);
    expect(r.dls.map((d) => [d.origin.file, d.error.code])).toEqual([['kong.ndjson', 'invalid_json']]);
    expect(r.dls[0]!.origin.index).toBe(r.summary.records_by_source.kong);
  }, 120_000);

  it('gives the same alert ids whatever the order of the files, and as the single merged file', async () => {
    const a = await replay(['kong.ndjson', 'okta.ndjson', 'cloudtrail.ndjson']);
    const b = await replay(['okta.ndjson', 'cloudtrail.ndjson', 'kong.ndjson']);
    expect(ids(a.alerts).length).toBeGreaterThan(0);
    expect(ids(a.alerts)).toEqual(ids(b.alerts));
    expect(ids(a.alerts)).toEqual(ids(whole.alerts));
    expect(a.summary.late_events).toBe(0);
    expect(b.summary.late_events).toBe(0);
  }, 120_000);
});
