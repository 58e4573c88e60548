/**
 * `tokenwatch exceptions add|list|expired` on a file, and exceptions named in the config
 * (`exceptions.file`) applied by the embedded runner with per-id counts in the replay summary.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exceptionsCommand } from '../../src/cli/exceptions-command.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { readExceptions } from '../../src/exceptions/exception-file.js';
import { runReplay } from '../../src/runners/embedded-runner.js';
import { DEFAULT_START, simulate } from '../../src/simulate/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-exceptions-'));

function captureStdout(): { text: () => string } {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return { text: () => out };
}

afterEach(() => vi.restoreAllMocks());

describe('tokenwatch exceptions', () => {
  const file = join(dir, 'exceptions.yaml');
  const add = (...extra: string[]) =>
    exceptionsCommand(['add', '--file', file, '--detector', 'policy_violation', '--reason', 'new NAT egress during the migration', '--owner', 'team-orders', ...extra]);

  it('adds validated entries, generating ids, and refuses invalid ones without touching the file', async () => {
    captureStdout();
    expect(await add('--issuer', 'okta:0oa-orders-*', '--network', '198.51.100.0/24,203.0.113.0/24', '--expires', '2026-01-31')).toBe(0);
    expect(await add('--id', 'legacy-ua', '--user-agent', 'orders-worker', '--kind', 'network_not_allowed', '--expires', '2026-06-30')).toBe(0);
    const before = readFileSync(file, 'utf8');
    await expect(add('--network', '10.0.0.0/40', '--expires', '2026-06-30')).rejects.toThrow(/network\.0: must be an IPv4\/IPv6 CIDR/);
    await expect(add('--id', 'legacy-ua', '--expires', '2026-06-30')).rejects.toThrow(/duplicate exception id "legacy-ua"/);
    await expect(add('--expires', 'soon')).rejects.toThrow(/expires/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    const entries = readExceptions(file);
    expect(entries.map((e) => e.id)).toEqual(['policy_violation-1', 'legacy-ua']);
    expect(entries[0]!.network).toEqual(['198.51.100.0/24', '203.0.113.0/24']);
  });

  it('lists entries with their state and reports the expired ones at --at', async () => {
    const out = captureStdout();
    expect(await exceptionsCommand(['list', '--file', file, '--at', '2026-02-15T00:00:00Z'])).toBe(0);
    const lines = out.text().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^policy_violation-1\tpolicy_violation\tEXPIRED\texpires 2026-01-31\towner team-orders/);
    expect(lines[1]).toMatch(/^legacy-ua\tpolicy_violation\tlive\t/);

    const json = captureStdout();
    expect(await exceptionsCommand(['expired', '--file', file, '--at', '2026-02-15T00:00:00Z', '--json'])).toBe(0);
    expect(json.text().trim().split('\n').map((l) => JSON.parse(l).id)).toEqual(['policy_violation-1']);
    const none = captureStdout();
    expect(await exceptionsCommand(['expired', '--file', file, '--at', '2026-01-10T00:00:00Z'])).toBe(0);
    expect(none.text()).toBe('');
  });
});

describe('exceptions.file in the config, applied by replay', () => {
  // an hour of simulated logs: only the Okta client-credentials grants (mints) are kept
  const sim = simulate({ seed: 3, hours: 1, start: DEFAULT_START, attacks: [] });
  const grants = [...sim.events].map((e) => JSON.stringify(e.record)).filter((l) => l.includes('"app.oauth2.as.token.grant.access_token"'));
  const logs = join(dir, 'grants.ndjson');
  writeFileSync(logs, grants.join('\n') + '\n');
  const fingerprint = createFingerprinter({ key: 'tokenwatch-exceptions-test-key-00' });

  async function replayWith(exceptions: string) {
    const exFile = join(dir, `ex-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(exFile, exceptions);
    // every grant is minted from outside the only network the policy allows
    // no suppression window: every draft is an alert, so excepted drafts and base alerts compare one to one
    const config = parseConfig({ exceptions: { file: exFile }, engine: { suppress_window_minutes: 0.0001 }, detectors: { policy_violation: { policy: { rules: [{ id: 'all-clients', issuer: '*', networks: ['192.0.2.0/24'] }] } } } });
    const lines: string[] = [];
    const alertsOut = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    const summary = await runReplay({ config, inputs: [{ name: logs, source: logs }], fingerprint, alertsOut, deadLetters: { write: async () => {} } });
    const alerts = lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { detector: string });
    return { summary, policyAlerts: alerts.filter((a) => a.detector === 'policy_violation').length };
  }

  it('drops what a live exception covers and counts it per exception id in the summary', async () => {
    expect(grants.length).toBeGreaterThan(5);
    const base = await replayWith('exceptions: []\n');
    expect(base.policyAlerts).toBeGreaterThan(0);
    expect(base.summary.excepted).toEqual({});

    const excepted = await replayWith(
      'exceptions:\n  - {id: okta-nat, detector: policy_violation, kind: network_not_allowed, network: [203.0.113.0/24], reason: estate NAT egress, owner: sre, expires: "2026-12-31"}\n',
    );
    expect(excepted.policyAlerts).toBe(0);
    expect(excepted.summary.excepted).toEqual({ 'okta-nat': base.policyAlerts });
    expect(excepted.summary.alerts_by_detector.policy_violation).toBeUndefined();
  }, 60_000);

  it("an exception that expired before the logs' event time no longer applies and is reported", async () => {
    const base = await replayWith('exceptions: []\n');
    const lapsed = await replayWith(
      'exceptions:\n  - {id: okta-nat-old, detector: policy_violation, network: [203.0.113.0/24], reason: estate NAT egress, owner: sre, expires: "2026-01-04"}\n',
    );
    expect(lapsed.policyAlerts).toBe(base.policyAlerts);
    expect(lapsed.summary.excepted).toEqual({});
    expect(lapsed.summary.exceptions_expired_matches).toEqual({ 'okta-nat-old': base.policyAlerts });
  }, 60_000);
});
