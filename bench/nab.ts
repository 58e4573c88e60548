/**
 * NAB benchmark of `tokenwatch score-series` (not a test). Scores every data file of a
 * Numenta Anomaly Benchmark checkout with the same scorer and defaults as the CLI, then
 * applies NAB's scoring (./nab-scoring.ts) with a corpus-wide optimised threshold.
 *
 *   npm run build && npm run nab -- --data path/to/NAB [--profile standard] [--seasonality S] [--direction up|both] [--level-shift-after N] [--per-file]
 *
 * Expects DIR/labels/combined_windows.json and DIR/data/<category>/<file>.csv (timestamp,value).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseTime } from '../src/core/time.js';
import { RobustScorer, type RobustScorerOptions, type Seasonality } from '../src/scoring/robust-scorer.js';
import { NAB_PROFILES, normalizedScore, optimizeThreshold, scoreByThreshold, sweepFile, type SweepRow } from './nab-scoring.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    profile: { type: 'string', default: 'standard' },
    seasonality: { type: 'string' },
    direction: { type: 'string' },
    'level-shift-after': { type: 'string' },
    'per-file': { type: 'boolean', default: false },
  },
});
if (!values.data) {
  process.stderr.write('usage: npm run nab -- --data path/to/NAB [--profile standard|reward_low_FP_rate|reward_low_FN_rate] [--seasonality none|hour_of_day|hour_of_week] [--direction up|both] [--level-shift-after N] [--per-file]\n');
  process.exit(2);
}
const cost = NAB_PROFILES[values.profile as keyof typeof NAB_PROFILES];
if (!cost) {
  process.stderr.write(`unknown profile ${values.profile}\n`);
  process.exit(2);
}
const root = values.data;
// The same options as `tokenwatch score-series` with the same flags.
const scorerOptions: RobustScorerOptions = {};
if (values.seasonality) scorerOptions.seasonality = values.seasonality as Seasonality;
if (values.direction) scorerOptions.direction = values.direction as 'up' | 'both';
if (values['level-shift-after'] !== undefined) scorerOptions.levelShiftAfter = Number(values['level-shift-after']);
const labels = JSON.parse(readFileSync(join(root, 'labels', 'combined_windows.json'), 'utf8')) as Record<string, [string, string][]>;

function ms(ts: string, where: string): number {
  const t = parseTime(ts.trim());
  if (t === undefined) throw new Error(`${where}: unparseable timestamp "${ts}"`);
  return t;
}

const all: SweepRow[] = [];
const perFile: { file: string; rows: SweepRow[] }[] = [];
let windowCount = 0;
const t0 = performance.now();
for (const file of Object.keys(labels).sort()) {
  const lines = readFileSync(join(root, 'data', file), 'utf8').split(/\r?\n/).filter((l) => l.trim().length > 0);
  const body = /^[A-Za-z"]/.test(lines[0]!) ? lines.slice(1) : lines;
  const scorer = new RobustScorer(scorerOptions);
  const timestamps: number[] = [];
  const scores: number[] = [];
  body.forEach((line, i) => {
    const [ts, v] = line.split(',');
    const time = ms(ts!, `${file}:${i + 2}`);
    timestamps.push(time);
    scores.push(scorer.score(time, Number(v)));
  });
  const windows = labels[file]!.map(([a, b]) => [ms(a, file), ms(b, file)] as const);
  windowCount += windows.length;
  const rows = sweepFile(file, timestamps, scores, windows, cost);
  perFile.push({ file, rows });
  for (const r of rows) all.push(r);
}
const best = optimizeThreshold(all, cost);
const score = normalizedScore(best.score, windowCount, cost);
if (values['per-file']) {
  for (const { file, rows } of perFile) {
    // The file's raw score at the corpus threshold (NAB's per-file rows in *_scores.csv).
    const at = scoreByThreshold(rows, cost).filter((s) => s.threshold >= best.threshold).pop() ?? { score: Number.NaN };
    process.stdout.write(`${file}\t${at.score.toFixed(3)}\n`);
  }
}
process.stdout.write(
  `NAB ${values.profile}: ${score.toFixed(1)} (raw ${best.score.toFixed(3)}, threshold ${best.threshold}, ` +
    `tp ${best.tp} fp ${best.fp} fn ${best.fn}; ${perFile.length} files, ${windowCount} windows, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
);
