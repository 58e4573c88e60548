/**
 * The shipped CLI (bin/tokenwatch.js → dist/, built by `npm test` before the suite runs):
 * simulate → replay → score-series → formats, as a user runs them, in a child process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/cli/replay-command.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-cli-'));
const tw = (...args: string[]) => spawnSync(process.execPath, ['bin/tokenwatch.js', ...args], { encoding: 'utf8', env: { ...process.env, TOKENWATCH_HMAC_KEY: 'cli-test-key-0123456789abcdef' } });

describe('tokenwatch CLI', () => {
  it('simulates, then replays to alerts and a dead-letter file with a summary', () => {
    const sim = tw('simulate', '--seed', '5', '--hours', '48', '--scale', '0.2', '--attacks', 'sts_replay', '--out', join(dir, 'sim.ndjson'), '--truth', join(dir, 'truth.json'), '--estate-config', join(dir, 'estate.yaml'));
    expect(sim.status, sim.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')).map((a: { name: string }) => a.name)).toEqual(['sts_replay']);
    // one broken record appended: it must land in the dead-letter file, not stop the run
    writeFileSync(join(dir, 'sim.ndjson'), readFileSync(join(dir, 'sim.ndjson'), 'utf8') + '{"broken": \n');
    const r = tw('replay', join(dir, 'sim.ndjson'), '--config', join(dir, 'estate.yaml'), '--out', join(dir, 'alerts.ndjson'), '--dead-letter', join(dir, 'dl.ndjson'), '--no-store');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/invalid: 1 \(invalid_json=1\)/);
    expect(r.stderr).toMatch(/alerts: [1-9]\d* \(.*credential_context=/);
    const alerts = readFileSync(join(dir, 'alerts.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(alerts.some((a) => a.detector === 'credential_context' && a.kind === 'new_context')).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'dl.ndjson'), 'utf8')).error.code).toBe('invalid_json');
  }, 120_000);

  it('rejects a bad config with the path and the fix', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'detectors:\n  token_replay:\n    egress_ranges: [{ name: nat, cidrs: [not-a-cidr] }]\nengine:\n  reorder_max_delay_secs: 5\n');
    const r = tw('replay', '--config', join(dir, 'bad.yaml'), '--no-store', join(dir, 'sim.ndjson'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[config_invalid]');
    expect(r.stderr).toMatch(/engine: .*remove "reorder_max_delay_secs"/);
  });

  it('scores a CSV series, adding an anomaly_score column', () => {
    const rows = ['timestamp,value', ...Array.from({ length: 200 }, (_, i) => `${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString()},${i === 150 ? 500 : 10 + (i % 3)}`)];
    writeFileSync(join(dir, 'series.csv'), rows.join('\n') + '\n');
    const out = execFileSync(process.execPath, ['bin/tokenwatch.js', 'score-series', join(dir, 'series.csv')], { encoding: 'utf8' }).trim().split('\n');
    expect(out[0]).toBe('timestamp,value,anomaly_score');
    expect(out).toHaveLength(201);
    const scores = out.slice(1).map((l) => Number(l.split(',')[2]));
    for (const s of scores) expect(s >= 0 && s <= 1).toBe(true);
    expect(scores[150]).toBeGreaterThan(0.9);
    expect(Math.max(...scores.slice(100, 150))).toBeLessThan(0.5);
  });

  it('migrates the embedded store idempotently', () => {
    const first = tw('migrate', '--data-dir', join(dir, 'chdb'));
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/embedded chDB at .*chdb \(ClickHouse 2\d\.[\d.]+\), database tokenwatch: applied 0001_token_events, 0002_alerts/);
    const again = tw('migrate', '--data-dir', join(dir, 'chdb'));
    expect(again.stderr).toContain('schema already current');
  }, 60_000);

  it('lists formats and detectors, and rejects unknown commands', () => {
    const f = tw('formats');
    expect(f.status).toBe(0);
    expect(f.stdout).toContain('cloudtrail');
    expect(f.stdout).toContain('mint_rate_spike');
    expect(tw('frobnicate').status).toBe(2);
  });
});

describe('progress line', () => {
  it('draws a bar with percentage and ETA when the input size is known', () => {
    expect(progressLine({ records: 50_000, alerts: 3, bytes: 500 }, 1000, 10)).toBe('[############------------]  50%  50,000 records · 3 alerts · 5,000 rec/s · ETA 10s   ');
    expect(progressLine({ records: 10, alerts: 0, bytes: 0 }, 0, 1)).toBe('  10 records · 0 alerts · 10 rec/s   ');
  });
});
