/** `tokenwatch score-series <file.csv|->`: timestamp,value rows → the same rows + anomaly_score. */
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { scoreCsvStream } from '../scoring/score-series.js';
import type { Seasonality } from '../scoring/robust-scorer.js';

export async function scoreSeriesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { seasonality: { type: 'string' } },
  });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: tokenwatch score-series <file.csv|-> [--seasonality none|hour_of_day|hour_of_week]\n');
    return 2;
  }
  const input = file === '-' ? process.stdin : createReadStream(file);
  const seasonality = values.seasonality as Seasonality | undefined;
  const r = await scoreCsvStream(input, process.stdout, seasonality ? { seasonality } : {});
  process.stderr.write(`score-series: ${r.rows} rows, ${r.scored} scored, ${r.malformed} malformed\n`);
  return 0;
}
