/** `policy.file` in the config: the loader reads the policy into the policy_violation detector's config. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectorSet, loadConfig } from '../../src/config/load-config.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-policy-config-'));
writeFileSync(
  join(dir, 'policy.yaml'),
  'version: 1\ndefault: deny\nrules:\n  - id: orders-worker\n    issuer: client:0oa-orders-*\n    scopes: ["orders.*"]\n',
);

describe('policy.file in the config', () => {
  it('loads the policy, relative to the config file, into detectors.policy_violation.policy', async () => {
    writeFileSync(join(dir, 'tokenwatch.yaml'), 'policy:\n  file: policy.yaml\ndetectors:\n  policy_violation:\n    judge_failed_mints: true\n');
    const cfg = await loadConfig(join(dir, 'tokenwatch.yaml'));
    const pv = detectorSet(cfg).find((d) => d.definition.meta.id === 'policy_violation')!.config as { policy: { default: string; rules: { id: string }[] }; judge_failed_mints: boolean };
    expect(pv.policy.default).toBe('deny');
    expect(pv.policy.rules.map((r) => r.id)).toEqual(['orders-worker']);
    expect(pv.judge_failed_mints).toBe(true);
  });

  it('refuses a policy given both inline and by file, and names a missing or invalid file', async () => {
    writeFileSync(join(dir, 'both.yaml'), 'policy:\n  file: policy.yaml\ndetectors:\n  policy_violation:\n    policy: { rules: [] }\n');
    await expect(loadConfig(join(dir, 'both.yaml'))).rejects.toThrow(/keep one of them/);
    writeFileSync(join(dir, 'missing.yaml'), 'policy:\n  file: nope.yaml\n');
    await expect(loadConfig(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read policy file .*nope\.yaml/);
    writeFileSync(join(dir, 'bad-policy.yaml'), 'rules:\n  - id: x\n    scopes: [a]\n');
    writeFileSync(join(dir, 'bad.yaml'), 'policy:\n  file: bad-policy.yaml\n');
    await expect(loadConfig(join(dir, 'bad.yaml'))).rejects.toThrow(/issuer or a workload/);
  });
});
