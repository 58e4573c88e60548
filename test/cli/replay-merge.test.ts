/**
 * `tokenwatch replay gateway.ndjson idp.ndjson` through the shipped CLI (bin/tokenwatch.js →
 * dist/, built by `npm run build`): the files are merged by event time, so the gateway file named
 * first still sees the IdP's revoke, and swapping the arguments gives the same alert ids.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../../src/simulate/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-cli-merge-'));
const tw = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/tokenwatch.js', ...args], { encoding: 'utf8', env: { ...process.env, TOKENWATCH_HMAC_KEY: 'cli-merge-test-key-0123456789abcd' } });

function replay(out: string, ...files: string[]): { stderr: string; alerts: { alert_id: string; detector: string; kind: string }[] } {
  const r = tw('replay', ...files.map((f) => join(dir, f)), '--out', join(dir, out), '--dead-letter', join(dir, `${out}.dl`), '--no-store', '--quiet');
  expect(r.status, r.stderr).toBe(0);
  const text = readFileSync(join(dir, out), 'utf8').trim();
  return { stderr: r.stderr, alerts: text ? text.split('\n').map((l) => JSON.parse(l)) : [] };
}

describe('tokenwatch replay with several files', () => {
  beforeAll(() => {
    const sim = simulate({ seed: 9, start: Date.UTC(2026, 0, 5), hours: 12, scale: 0.2, attacks: ['use_after_revoke'] });
    const gateway: string[] = [];
    const idp: string[] = [];
    for (const e of sim.events) (e.format === 'okta' ? idp : gateway).push(JSON.stringify(e.record));
    writeFileSync(join(dir, 'gateway.ndjson'), gateway.join('\n') + '\n');
    writeFileSync(join(dir, 'idp.ndjson'), idp.join('\n') + '\n');
  });

  it('merges the files by event time: the use after revocation is raised, nothing is late, argument order does not matter', () => {
    const first = replay('a.ndjson', 'gateway.ndjson', 'idp.ndjson');
    expect(first.stderr).toMatch(/late events: 0\b/);
    expect(first.alerts.filter((a) => a.detector === 'token_replay' && a.kind === 'use_after_revocation')).toHaveLength(1);
    const swapped = replay('b.ndjson', 'idp.ndjson', 'gateway.ndjson');
    expect(swapped.stderr).toMatch(/late events: 0\b/);
    expect(swapped.alerts.map((a) => a.alert_id).sort()).toEqual(first.alerts.map((a) => a.alert_id).sort());
  }, 120_000);
});
