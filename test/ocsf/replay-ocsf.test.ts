/**
 * `tokenwatch replay --alert-format ocsf|both` and `alerts.format` through the shipped CLI
 * (bin/tokenwatch.js → dist/: run `npm run build` first), every finding validated.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateDetectionFinding } from '../../src/ocsf/validate.js';
import { loadTestSchema } from './ocsf-schema-dir.js';

const schema = loadTestSchema();
const dir = mkdtempSync(join(tmpdir(), 'tw-ocsf-cli-'));
const tw = (...args: string[]) => spawnSync(process.execPath, ['bin/tokenwatch.js', ...args], { encoding: 'utf8', env: { ...process.env, TOKENWATCH_HMAC_KEY: 'cli-test-key-0123456789abcdef' } });
const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
const replay = (...args: string[]) => tw('replay', join(dir, 'sim.ndjson'), '--config', join(dir, 'estate.yaml'), '--no-store', '--quiet', '--dead-letter', join(dir, 'dl.ndjson'), ...args);

describe('replay with OCSF alert output', () => {
  beforeAll(() => {
    const sim = tw('simulate', '--seed', '5', '--hours', '48', '--scale', '0.2', '--attacks', 'sts_replay', '--out', join(dir, 'sim.ndjson'), '--truth', join(dir, 'truth.json'), '--estate-config', join(dir, 'estate.yaml'));
    expect(sim.status, sim.stderr).toBe(0);
  }, 120_000);

  it('--alert-format both writes native alerts to --out and valid OCSF findings next to them, one per alert', () => {
    const r = replay('--out', join(dir, 'alerts.ndjson'), '--alert-format', 'both');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${join(dir, 'alerts.ocsf.ndjson')} (ocsf)`);
    const native = lines(join(dir, 'alerts.ndjson'));
    const ocsf = lines(join(dir, 'alerts.ocsf.ndjson'));
    expect(native.length).toBeGreaterThan(0);
    expect(native[0]!.schema_version).toBe(1);
    expect(ocsf.map((f) => f.finding_info.uid)).toEqual(native.map((a) => a.alert_id));
    for (const f of ocsf) {
      expect(f.class_uid).toBe(2004);
      expect(validateDetectionFinding(schema, f)).toEqual([]);
    }
  }, 60_000);

  it('--alert-format ocsf writes only findings to --out, the same as `both` wrote', () => {
    const r = replay('--out', join(dir, 'only-ocsf.ndjson'), '--alert-format', 'ocsf');
    expect(r.status, r.stderr).toBe(0);
    expect(lines(join(dir, 'only-ocsf.ndjson'))).toEqual(lines(join(dir, 'alerts.ocsf.ndjson')));
  }, 60_000);

  it('alerts.format in the config chooses OCSF when the flag is absent', () => {
    copyFileSync(join(dir, 'estate.yaml'), join(dir, 'ocsf.yaml'));
    appendFileSync(join(dir, 'ocsf.yaml'), '\nalerts:\n  format: ocsf\n');
    const r = tw('replay', join(dir, 'sim.ndjson'), '--config', join(dir, 'ocsf.yaml'), '--no-store', '--quiet', '--dead-letter', join(dir, 'dl.ndjson'), '--out', join(dir, 'from-config.ndjson'));
    expect(r.status, r.stderr).toBe(0);
    const got = lines(join(dir, 'from-config.ndjson'));
    expect(got.length).toBeGreaterThan(0);
    for (const f of got) expect(f.metadata.version).toBe('1.8.0');
  }, 60_000);

  it('rejects an unknown format, and `both` without --out', () => {
    const bad = replay('--alert-format', 'cef');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/\[config_invalid\].*--alert-format: unknown format "cef" — use one of: native, ocsf, both/);
    const both = replay('--alert-format', 'both');
    expect(both.status).toBe(1);
    expect(both.stderr).toContain('--alert-format both (or alerts.format: both in the config) needs --out FILE');
    expect(existsSync(join(dir, 'undefined.ocsf.ndjson'))).toBe(false);
  });
});
