/** `tokenwatch score-series <file.csv|->`: timestamp,value rows → the same rows + anomaly_score. */
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { scoreCsvStream } from '../scoring/score-series.js';
import { DEFAULT_SCORER_OPTIONS, type RobustScorerOptions, type Seasonality } from '../scoring/robust-scorer.js';

const USAGE =
  'usage: tokenwatch score-series <file.csv|-> [--seasonality none|hour_of_day|hour_of_week] [--direction up|both] [--level-shift-after N]\n' +
  `  defaults: --seasonality ${DEFAULT_SCORER_OPTIONS.seasonality} --direction ${DEFAULT_SCORER_OPTIONS.direction} --level-shift-after ${DEFAULT_SCORER_OPTIONS.levelShiftAfter} (0: never learn a level shift)\n`;

export async function scoreSeriesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { seasonality: { type: 'string' }, direction: { type: 'string' }, 'level-shift-after': { type: 'string' } },
  });
  const file = positionals[0];
  if (!file) {
    process.stderr.write(USAGE);
    return 2;
  }
  const opts: RobustScorerOptions = {};
  if (values.seasonality) opts.seasonality = values.seasonality as Seasonality;
  if (values.direction) opts.direction = values.direction as 'up' | 'both';
  if (values['level-shift-after'] !== undefined) opts.levelShiftAfter = Number(values['level-shift-after']);
  const input = file === '-' ? process.stdin : createReadStream(file);
  const r = await scoreCsvStream(input, process.stdout, opts);
  process.stderr.write(`score-series: ${r.rows} rows, ${r.scored} scored, ${r.malformed} malformed\n`);
  return 0;
}
