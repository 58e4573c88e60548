/**
 * `tokenwatch simulate`: realistic vendor-format streams (benign background + injected
 * attacks), deterministic for a seed. `--truth` writes the injected attacks; `--estate-config`
 * writes the tokenwatch config that declares the simulated estate's NAT/egress ranges, the
 * same declaration a real deployment makes for its own networks.
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { TokenwatchError } from '../core/errors.js';
import { parseTime } from '../core/time.js';
import { ATTACK_NAMES, DECLARED_EGRESS_RANGES, DEFAULT_START, simulate, WORKLOAD_CIDRS, writeNdjson, type AttackName } from '../simulate/index.js';

/** The detector config a deployment of the simulated estate would declare. */
export function simulatedEstateConfig(): Record<string, unknown> {
  return {
    detectors: {
      token_replay: { egress_ranges: DECLARED_EGRESS_RANGES.map((r) => ({ name: r.name, cidrs: [...r.cidrs] })) },
      cross_service_reuse: { workload_networks: [...WORKLOAD_CIDRS, ...DECLARED_EGRESS_RANGES.flatMap((r) => r.cidrs)] },
    },
  };
}

export function parseAttacks(v: string | undefined): AttackName[] {
  if (v === undefined || v === 'all') return [...ATTACK_NAMES];
  if (v === 'none' || v === '') return [];
  const names = v.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(ATTACK_NAMES as readonly string[]).includes(n)) throw new TokenwatchError('config_invalid', `--attacks: unknown attack "${n}" — use all, none or a list of: ${ATTACK_NAMES.join(', ')}`);
  }
  return names as AttackName[];
}

export async function simulateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string', default: '1' },
      hours: { type: 'string', default: '48' },
      scale: { type: 'string', default: '1' },
      start: { type: 'string' },
      attacks: { type: 'string', default: 'all' },
      out: { type: 'string', default: '-' },
      truth: { type: 'string' },
      'estate-config': { type: 'string' },
    },
  });
  const start = values.start ? parseTime(values.start) : DEFAULT_START;
  if (start === undefined) throw new TokenwatchError('config_invalid', `--start: "${values.start}" is not a time (use ISO-8601)`);
  const sim = simulate({ seed: Number(values.seed), hours: Number(values.hours), scale: Number(values.scale), start, attacks: parseAttacks(values.attacks) });
  const out = values.out === '-' ? process.stdout : createWriteStream(values.out);
  const n = await writeNdjson(sim.events, out);
  if (out !== process.stdout) {
    out.end();
    await once(out, 'finish');
  }
  if (values.truth) await writeFile(values.truth, JSON.stringify(sim.attacks, null, 2) + '\n');
  if (values['estate-config']) await writeFile(values['estate-config'], stringify(simulatedEstateConfig()));
  process.stderr.write(`simulate: ${n} events, ${sim.attacks.length} attacks injected${values.truth ? ` (→ ${values.truth})` : ''}\n`);
  return 0;
}
