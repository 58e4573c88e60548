/**
 * `tokenwatch score-series`: stream CSV rows `timestamp,value` through a RobustScorer and write
 * `timestamp,value,anomaly_score`. Line by line with backpressure, so memory stays constant
 * besides the scorer's bounded history. A malformed row is reported on the error stream as one
 * JSON line with its line number and skipped; it never stops the run.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseTime } from '../core/time.js';
import { RobustScorer, type RobustScorerOptions } from './robust-scorer.js';

export interface ScoreSeriesOptions extends RobustScorerOptions {
  /** Where malformed-row reports go (one JSON object per line). Default: process.stderr. */
  errors?: Writable;
  /** End `output` when done (default false: the CLI writes to stdout, which must not be ended). */
  end?: boolean;
  /** Decimals of anomaly_score (default 6). */
  precision?: number;
}

export interface ScoreSeriesResult {
  /** Data rows read (header and blank lines excluded). */
  rows: number;
  /** Rows written with a score. */
  scored: number;
  malformed: number;
}

export const OUTPUT_HEADER = 'timestamp,value,anomaly_score';

/** Longest row accepted; longer ones are malformed (readline still buffers a line before we see it). */
const MAX_LINE = 4096;

type Parsed = { ok: true; ts: string; value: string; time: number; num: number } | { ok: false; reason: string };

const unquote = (f: string): string => {
  const t = f.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/""/g, '"').trim() : t;
};

function parseRow(line: string): Parsed {
  if (line.length > MAX_LINE) return { ok: false, reason: `line longer than ${MAX_LINE} characters` };
  const fields = line.split(',');
  if (fields.length !== 2) return { ok: false, reason: `expected 2 fields (timestamp,value), got ${fields.length}` };
  const ts = unquote(fields[0]!);
  const value = unquote(fields[1]!);
  const time = ts.length > 0 ? parseTime(ts) : undefined;
  if (time === undefined) return { ok: false, reason: 'timestamp is not ISO-8601 or epoch seconds/milliseconds' };
  const num = value.length > 0 ? Number(value) : Number.NaN;
  if (!Number.isFinite(num)) return { ok: false, reason: 'value is not a finite number' };
  return { ok: true, ts, value, time, num };
}

/** A first line whose value field is not numeric-looking is a header (e.g. `timestamp,value`). */
function looksLikeHeader(line: string): boolean {
  const fields = line.split(',').map(unquote);
  return fields.length >= 2 && fields.every((f) => /^[A-Za-z_][\w .-]*$/.test(f));
}

async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

export async function scoreCsvStream(input: Readable, output: Writable, opts: ScoreSeriesOptions = {}): Promise<ScoreSeriesResult> {
  const { errors = process.stderr, end = false, precision = 6, ...scorerOpts } = opts;
  const scorer = new RobustScorer(scorerOpts);
  const result: ScoreSeriesResult = { rows: 0, scored: 0, malformed: 0 };
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  let seenContent = false;
  await write(output, OUTPUT_HEADER + '\n');
  for await (const raw of rl) {
    lineNo++;
    const line = raw.trim();
    if (line.length === 0) continue;
    const first = !seenContent;
    seenContent = true;
    if (first && looksLikeHeader(line)) continue;
    result.rows++;
    const row = parseRow(line);
    if (!row.ok) {
      result.malformed++;
      // The row's content is not echoed: only its position and what was wrong with it.
      await write(errors, JSON.stringify({ level: 'error', code: 'malformed_row', line: lineNo, message: row.reason }) + '\n');
      continue;
    }
    const score = scorer.score(row.time, row.num);
    result.scored++;
    await write(output, `${row.ts},${row.value},${Number(score.toFixed(precision))}\n`);
  }
  if (end) {
    output.end();
    await once(output, 'finish');
  }
  return result;
}
