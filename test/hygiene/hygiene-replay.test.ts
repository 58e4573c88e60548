/**
 * The loop closed end to end: `tokenwatch replay` over simulated logs (a use-after-revoke attack)
 * with the embedded store and all three HTTP sinks configured against a real local receiver,
 * then `tokenwatch inventory` on the same store. Alerts reach the webhook and Splunk HEC,
 * critical replay alerts become SETs, the end-of-replay hygiene pass delivers findings and
 * writes --hygiene-out, and the inventory report lists the same findings.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Alert } from '../../schemas/alert.js';
import { main } from '../../src/cli/main.js';
import { simulatedEstateConfig } from '../../src/cli/simulate-command.js';
import { simulate } from '../../src/simulate/index.js';
import type { HygieneAlert } from '../../src/hygiene/hygiene-alert.js';
import type { HygieneReport } from '../../src/hygiene/hygiene-report.js';
import { startReceiver, type Receiver } from '../sinks/http-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-hygiene-replay-'));
const paths = { logs: join(dir, 'logs.ndjson'), config: join(dir, 'tokenwatch.json'), alerts: join(dir, 'alerts.ndjson'), hygiene: join(dir, 'hygiene.ndjson'), dl: join(dir, 'dl.ndjson') };
let receiver: Receiver;
let exitCode: number;
let alerts: Alert[];
let findings: HygieneAlert[];

const readNdjson = <T>(p: string): T[] => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
const byPath = (prefix: string) => receiver.requests.filter((r) => r.path.startsWith(prefix));

beforeAll(async () => {
  receiver = await startReceiver((req) => (req.path === '/set' ? { status: 202 } : { status: 200, body: '{"text":"Success","code":0}' }));
  const sim = simulate({ seed: 11, start: Date.UTC(2026, 0, 5), hours: 10, attacks: ['use_after_revoke'] });
  writeFileSync(paths.logs, [...sim.events].map((e) => JSON.stringify(e.record)).join('\n') + '\n');
  const delivery = { flush_interval_ms: 20, base_delay_ms: 5 };
  writeFileSync(
    paths.config,
    JSON.stringify({
      ...simulatedEstateConfig(),
      store: { path: join(dir, 'chdb') },
      sinks: {
        set: { url: `${receiver.url}/set`, issuer: 'https://tokenwatch.test', audience: 'https://receiver.test', bearer_env: 'TW_TEST_SET_BEARER', ...delivery },
        webhook: { url: `${receiver.url}/hook`, secret_env: 'TW_TEST_WEBHOOK_SECRET', min_severity: 'low', ...delivery },
        splunk_hec: { url: receiver.url, token_env: 'TW_TEST_HEC_TOKEN', ...delivery },
      },
    }),
  );
  process.env.TOKENWATCH_HMAC_KEY = 'hygiene-replay-test-key-0123456789abcdef';
  process.env.TW_TEST_SET_BEARER = 'set-bearer';
  process.env.TW_TEST_WEBHOOK_SECRET = 'hook-secret';
  process.env.TW_TEST_HEC_TOKEN = 'hec-token';
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    exitCode = await main(['replay', paths.logs, '--config', paths.config, '--out', paths.alerts, '--hygiene-out', paths.hygiene, '--dead-letter', paths.dl, '--quiet']);
  } finally {
    stderr.mockRestore();
  }
  alerts = readNdjson<Alert>(paths.alerts);
  findings = readNdjson<HygieneAlert>(paths.hygiene);
}, 300_000);

afterAll(async () => {
  await receiver?.close();
});

describe('replay → sinks and hygiene → inventory report', () => {
  it('delivers every alert to the webhook and Splunk HEC', () => {
    expect(exitCode).toBe(0);
    expect(alerts.length).toBeGreaterThan(0);
    const hooked = byPath('/hook').flatMap((r) => (JSON.parse(r.body) as { alerts?: Alert[] }).alerts ?? []);
    expect(hooked.map((a) => a.alert_id).sort()).toEqual(alerts.map((a) => a.alert_id).sort());
    const hec = byPath('/services/collector/event').flatMap((r) => r.body.split('\n').map((l) => JSON.parse(l) as { sourcetype: string; event: { alert_id?: string } }));
    expect(hec.filter((e) => e.sourcetype === 'tokenwatch:alert').map((e) => e.event.alert_id).sort()).toEqual(alerts.map((a) => a.alert_id).sort());
    expect(byPath('/services/collector/event').every((r) => r.headers.authorization === 'Splunk hec-token')).toBe(true);
  });

  it('turns each critical use-after-revocation alert with a subject into one session-revoked SET', () => {
    const critical = alerts.filter((a) => a.detector === 'token_replay' && a.severity === 'critical' && a.subject);
    expect(critical.length).toBeGreaterThan(0);
    const sets = byPath('/set').map((r) => JSON.parse(Buffer.from(r.body.split('.')[1]!, 'base64url').toString()) as { txn: string; events: Record<string, unknown> });
    expect(sets.map((s) => s.txn).sort()).toEqual(critical.map((a) => a.alert_id).sort());
    expect(sets.every((s) => Object.keys(s.events)[0]!.endsWith('/session-revoked'))).toBe(true);
  });

  it('finds revocation not honoured, writes --hygiene-out and delivers the findings', () => {
    const afterRevoke = findings.filter((f) => f.finding === 'use_after_revoke');
    expect(afterRevoke.length).toBeGreaterThan(0);
    expect(afterRevoke.every((f) => f.severity === 'critical' && f.service !== '')).toBe(true);
    const delivered = byPath('/hook').flatMap((r) => (JSON.parse(r.body) as { hygiene_findings?: HygieneAlert[] }).hygiene_findings ?? []);
    expect(delivered.map((f) => f.finding_id).sort()).toEqual(findings.map((f) => f.finding_id).sort());
  });

  it('`tokenwatch inventory` on the same store reports the same findings', async () => {
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((c) => {
      out.push(String(c));
      return true;
    });
    let code: number;
    try {
      code = await main(['inventory', '--config', paths.config, '--format', 'json']);
    } finally {
      stdout.mockRestore();
    }
    expect(code).toBe(0);
    const report = JSON.parse(out.join('')) as HygieneReport;
    expect(report.findings.map((f) => `${f.finding}|${f.token_fp}|${f.service}`).sort()).toEqual(findings.map((f) => `${f.finding}|${f.token_fp}|${f.service}`).sort());
    expect(report.revocation_latency.some((l) => l.accepted_uses > 0 && l.max_delay_s > 0)).toBe(true);
  });
});
