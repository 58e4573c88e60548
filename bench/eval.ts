/**
 * Detection evaluation (not a test): the realistic simulated estate with every attack, over
 * several seeds, replayed in-process through the embedded runner (no store) with the default
 * configuration; prints recall, precision, false alerts per million benign events and
 * detection delay per detector family next to the issue's targets, the missed attacks and the
 * top false-alert kinds. Exits 1 when a family falls below its floor.
 *
 *   npm run eval -- [--seeds 3] [--days 15] [--scale 1] [--slack-minutes 120] [--json out.json] [--floors FILE]
 *   npm run eval -- --ci          # 1 seed, 8 days, scale 0.5, floors from bench/eval-floors.json
 *   npm run eval -- --ci --write-floors bench/eval-floors.json   # raise the floors to what is measured now
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createFingerprinter } from '../src/core/fingerprint.js';
import { checkFloors, floorsFrom, formatReport, summarize, type Floors } from '../src/eval/report.js';
import { runSeed, type SeedRunDetail } from '../src/eval/run-seed.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    days: { type: 'string' },
    scale: { type: 'string' },
    'slack-minutes': { type: 'string', default: '120' },
    json: { type: 'string' },
    floors: { type: 'string' },
    'write-floors': { type: 'string' },
    ci: { type: 'boolean', default: false },
  },
});
const ci = values.ci === true;
const seedCount = Number(values.seeds ?? (ci ? 1 : 3));
const days = Number(values.days ?? (ci ? 8 : 15));
const scale = Number(values.scale ?? (ci ? 0.5 : 1));
const slackMs = Number(values['slack-minutes']) * 60_000;
// dist/bench/eval.js → the repository root is two levels up
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const floorsFile = values.floors ?? (ci ? join(root, 'bench', 'eval-floors.json') : undefined);
for (const [name, v] of [['--seeds', seedCount], ['--days', days], ['--scale', scale], ['--slack-minutes', slackMs]] as const) {
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`eval: ${name} must be a positive number\n`);
    process.exit(2);
  }
}

if (!Number.isInteger(days) || days < 5 || !Number.isInteger(seedCount)) {
  process.stderr.write('eval: --days must be a whole number of days, at least 5 (the realistic profile learns first); --seeds an integer\n');
  process.exit(2);
}

const fingerprint = createFingerprinter({ key: 'tokenwatch-eval-key-0123456789abcdef' });
const runs: SeedRunDetail[] = [];
const t0 = performance.now();
for (let i = 0; i < seedCount; i++) {
  const seed = i + 1;
  const r = await runSeed({ seed, days, scale, fingerprint, slackMs });
  runs.push(r);
  process.stderr.write(
    `eval: seed ${seed}: ${r.events.toLocaleString('en-US')} token events, ${r.alerts.length} alerts, ${r.attacks.length} attacks, ` +
      `${r.invalid} invalid, ${r.late} late, ${(r.elapsedMs / 1000).toFixed(1)} s\n`,
  );
}
const summary = summarize(runs);
const header = `tokenwatch eval: realistic profile, ${seedCount} seed(s) × ${days} days, scale ${scale}, default configuration, slack ${slackMs / 60_000} min (${((performance.now() - t0) / 1000).toFixed(1)} s)`;
process.stdout.write(formatReport(summary, header) + '\n');
if (values.json) writeFileSync(values.json, JSON.stringify({ options: { seeds: seedCount, days, scale, slack_minutes: slackMs / 60_000 }, summary }, null, 2) + '\n');

if (values['write-floors']) {
  const cmd = `npm run eval -- ${process.argv.slice(2).filter((a, i, all) => a !== '--write-floors' && all[i - 1] !== '--write-floors').join(' ')}`.trim();
  writeFileSync(values['write-floors'], JSON.stringify(floorsFrom(summary, cmd), null, 2) + '\n');
  process.stdout.write(`\nfloors written to ${values['write-floors']}\n`);
} else if (floorsFile) {
  const floors = JSON.parse(readFileSync(floorsFile, 'utf8')) as Floors;
  const below = checkFloors(summary, floors);
  if (below.length > 0) {
    process.stdout.write(`\nBELOW FLOOR (${floorsFile}):\n${below.map((b) => `  ${b}`).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(`\nfloors hold (${floorsFile})\n`);
}
