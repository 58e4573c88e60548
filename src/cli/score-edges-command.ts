/** `tokenwatch score-edges <file.csv|->`: src,dst,time rows → the same rows + anomaly_score (MIDAS-R). */
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_HALF_SCORE, DEFAULT_TICK_SECONDS, scoreEdgesStream, type ScoreEdgesOptions } from '../scoring/score-edges.js';
import { DEFAULT_MIDAS_R_OPTIONS } from '../scoring/midas-r.js';

const USAGE =
  'usage: tokenwatch score-edges <file.csv|-> [--tick-seconds S] [--rows R] [--buckets B] [--factor F] [--seed N] [--half X]\n' +
  `  defaults: --tick-seconds ${DEFAULT_TICK_SECONDS} --rows ${DEFAULT_MIDAS_R_OPTIONS.rows} --buckets ${DEFAULT_MIDAS_R_OPTIONS.buckets}` +
  ` --factor ${DEFAULT_MIDAS_R_OPTIONS.factor} --seed ${DEFAULT_MIDAS_R_OPTIONS.seed} --half ${DEFAULT_HALF_SCORE}\n`;

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new RangeError(`--${name} must be a number, got "${v}"`);
  return n;
}

export async function scoreEdgesCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'tick-seconds': { type: 'string' },
      rows: { type: 'string' },
      buckets: { type: 'string' },
      factor: { type: 'string' },
      seed: { type: 'string' },
      half: { type: 'string' },
    },
  });
  const file = positionals[0];
  if (!file) {
    process.stderr.write(USAGE);
    return 2;
  }
  const opts: ScoreEdgesOptions = {};
  const set = <K extends keyof ScoreEdgesOptions>(k: K, v: number | undefined): void => {
    if (v !== undefined) (opts as Record<string, unknown>)[k] = v;
  };
  set('tickSeconds', num('tick-seconds', values['tick-seconds']));
  set('rows', num('rows', values.rows));
  set('buckets', num('buckets', values.buckets));
  set('factor', num('factor', values.factor));
  set('seed', num('seed', values.seed));
  set('half', num('half', values.half));
  const input = file === '-' ? process.stdin : createReadStream(file);
  const r = await scoreEdgesStream(input, process.stdout, opts);
  process.stderr.write(`score-edges: ${r.rows} rows, ${r.scored} scored, ${r.malformed} malformed, ${r.ticks} ticks\n`);
  return 0;
}
