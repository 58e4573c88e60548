/** The README documents what the code does: its generated reference sections are current, and its two commands exist. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderReadme } from '../../src/docs/reference.js';

const readme = readFileSync('README.md', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

describe('README', () => {
  it('has current generated reference sections (run `npm run docs` after changing detectors, formats or schemas)', () => {
    expect(renderReadme(readme)).toBe(readme);
  });

  it('documents the two set-up commands, and .ci/run runs the test command', () => {
    expect(readme).toContain('npm run demo');
    expect(readme).toContain('npm test');
    expect(pkg.scripts.demo).toBe('bash scripts/demo.sh');
    expect(pkg.scripts.test).toBe('bash scripts/test-all.sh');
    expect(readFileSync('.ci/run', 'utf8')).toMatch(/^npm test$/m);
  });

  it('documents every detector, format and CLI command', async () => {
    const { DETECTORS } = await import('../../detectors/index.js');
    const { FORMATS } = await import('../../src/normalize/index.js');
    for (const d of DETECTORS) expect(readme).toContain(`\`${d.meta.id}\``);
    for (const f of FORMATS) expect(readme).toContain(`\`${f.id}\``);
    for (const c of ['replay', 'simulate', 'score-series', 'query', 'run', 'migrate']) expect(readme).toContain(`tokenwatch ${c}`);
  });
});
