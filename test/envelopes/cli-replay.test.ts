/**
 * The shipped CLI (bin/tokenwatch.js → dist/, built by `npm test` before the suite runs) on a
 * CloudTrail S3 object as downloaded (`*.json.gz`, written by the gzip CLI), from a file and from
 * stdin, and `tokenwatch formats` listing envelopes and compressions.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tw-cli-gz-'));
const GZ = 'test/fixtures/envelopes/cloudtrail-s3-object.json.gz';
const tw = (args: string[], input?: Buffer) =>
  spawnSync(process.execPath, ['bin/tokenwatch.js', ...args], { encoding: 'utf8', input, env: { ...process.env, TOKENWATCH_HMAC_KEY: 'cli-gz-test-key-0123456789abcdef' } });

describe('tokenwatch replay of compressed input', () => {
  it('replays a CloudTrail .json.gz into token events and the alert they raise', () => {
    const r = tw(['replay', GZ, '--no-store', '--out', join(dir, 'alerts.ndjson'), '--dead-letter', join(dir, 'dl.ndjson')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('tokenwatch replay: 6 records → 7 token events');
    expect(r.stderr).toContain('invalid: 0');
    expect(r.stderr).toContain('skipped: 1 without a credential');
    const alerts = readFileSync(join(dir, 'alerts.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(alerts.map((a) => `${a.detector}/${a.kind}`)).toEqual(['token_replay/use_after_revocation']);
    expect(readFileSync(join(dir, 'dl.ndjson'), 'utf8')).toBe('');
  }, 60_000);

  it('replays gzip from stdin, and names the envelope of enveloped input in the summary', () => {
    const r = tw(['replay', '-', '--no-store', '--out', join(dir, 'a2.ndjson'), '--dead-letter', join(dir, 'dl2.ndjson')], readFileSync(GZ));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('6 records → 7 token events');
    const e = tw(['replay', 'test/fixtures/envelopes/lookup-events.json', '--no-store', '--out', join(dir, 'a3.ndjson'), '--dead-letter', join(dir, 'dl3.ndjson')]);
    expect(e.stderr).toContain('records from envelopes: cloudtrail_lookup_events=6');
  }, 60_000);

  it('lists envelopes and compressions in `tokenwatch formats`', () => {
    const f = tw(['formats']);
    expect(f.status).toBe(0);
    for (const id of ['eventbridge', 'cloudwatch_logs', 'cloudtrail_lookup_events', 'elasticsearch', 'logstash', 'cloudtrail_records', 'gzip', 'zstd']) expect(f.stdout).toContain(id);
    expect(f.stdout).toMatch(/Envelopes \(unwrapped before format detection\)/);
  });
});
