/**
 * `tokenwatch report` and `replay --incidents` as a user runs them (bin/tokenwatch.js → dist/,
 * built before the suite), in child processes: each opens the embedded store itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Incident } from '../../schemas/incident.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-report-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tw = (...args: string[]) => spawnSync(process.execPath, ['bin/tokenwatch.js', ...args], { encoding: 'utf8', env: { ...process.env, TOKENWATCH_HMAC_KEY: 'report-cli-test-key-0123456789abcdef' } });

/** A deleted access key used afterwards (CloudTrail records shaped as test/fixtures/vendors/cloudtrail). */
function cloudtrail(): string {
  const revoke = JSON.parse(readFileSync(new URL('../fixtures/vendors/cloudtrail/iam-delete-access-key.json', import.meta.url), 'utf8'));
  const use = {
    ...revoke, eventTime: '2024-06-02T07:40:00Z', eventSource: 's3.amazonaws.com', eventName: 'ListBuckets', requestParameters: null, readOnly: true,
    userIdentity: { type: 'IAMUser', principalId: 'AIDAEXAMPLEBACKUP001', arn: 'arn:aws:iam::123456789012:user/backup-agent', accountId: '123456789012', accessKeyId: 'AKIAEXAMPLENEWKEY001', userName: 'backup-agent' },
    requestID: '00000001-aaaa-4bbb-8ccc-dddddddddddd', eventID: '11111111-aaaa-4bbb-8ccc-dddddddddddd',
  };
  return `${JSON.stringify(revoke)}\n${JSON.stringify(use)}\n`;
}

describe('tokenwatch report / replay --incidents', () => {
  it('replays with --incidents into the embedded store, then writes the HTML report from it', () => {
    writeFileSync(join(dir, 'ct.ndjson'), cloudtrail());
    const store = join(dir, 'chdb');
    const r = tw('replay', join(dir, 'ct.ndjson'), '--out', join(dir, 'alerts.ndjson'), '--incidents', join(dir, 'incidents.ndjson'), '--dead-letter', join(dir, 'dl.ndjson'), '--data-dir', store, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/incidents: 1 → /);
    const incidents = readFileSync(join(dir, 'incidents.ndjson'), 'utf8').trim().split('\n').map((l) => Incident.parse(JSON.parse(l)));
    expect(incidents[0]!.alerts.map((a) => a.kind)).toContain('use_after_revocation');

    const out = join(dir, 'out', 'report.html');
    const rep = tw('report', '--data-dir', store, '--out', out, '--bucket-minutes', '10');
    expect(rep.status, rep.stderr).toBe(0);
    expect(rep.stderr).toMatch(/tokenwatch report: 1 alerts, 1 incidents, .* → /);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('data-chart="alerts-over-time"');
    expect(html).toContain('class="incident-marker"');
    expect(html).toContain('10-minute buckets');
  }, 60_000);

  it('needs --out and rejects unusable numbers', () => {
    expect(tw('report', '--data-dir', join(dir, 'none')).stderr).toContain('[config_invalid] --out FILE.html is required');
    expect(tw('report', '--out', join(dir, 'x.html'), '--hours', '0').stderr).toContain('--hours: "0" is not a positive number');
  });
});
