/**
 * `tokenwatch score-edges`: stream CSV rows `src,dst,time` through MIDAS-R (./midas-r.ts) and
 * write each row unchanged plus an `anomaly_score` column in [0, 1]. Line by line with
 * backpressure; memory is the fixed-size sketches plus one line.
 *
 * Time: integer ticks (digits only, below 10^9), or wall-clock times (epoch seconds or
 * milliseconds, ISO-8601) cut into ticks of `tickSeconds` counted from the first row (tick 1).
 * The first valid row fixes which of the two the stream uses.
 *
 * A malformed row is reported on the error stream as one JSON line with its line number
 * (never its content) and skipped: one bad line in a large log should not lose the rest, and
 * the summary counts what was skipped.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseTime } from '../core/time.js';
import { MidasR, normalizeScore, type MidasROptions } from './midas-r.js';

export interface ScoreEdgesOptions extends MidasROptions {
  /** Tick length for wall-clock times (default 60 s). */
  tickSeconds?: number;
  /** Raw MIDAS-R score mapped to anomaly_score 0.5 (default 100); see normalizeScore. */
  half?: number;
  /** Where malformed-row reports go (one JSON object per line). Default: process.stderr. */
  errors?: Writable;
  /** End `output` when done (default false: the CLI writes to stdout, which must not be ended). */
  end?: boolean;
  /** Decimals of anomaly_score (default 6). */
  precision?: number;
}

export interface ScoreEdgesResult {
  /** Data rows read (header and blank lines excluded). */
  rows: number;
  scored: number;
  malformed: number;
  /** Last tick reached. */
  ticks: number;
}

export const DEFAULT_TICK_SECONDS = 60;
export const DEFAULT_HALF_SCORE = 100;
const MAX_LINE = 4096;
/** Digits-only times below this are ticks; above, epoch seconds/ms (10^9 s = 2001-09-09). */
const MAX_TICK = 1e9;

/** Split one CSV line (RFC 4180 quoting, no embedded newlines); undefined if a quote is unbalanced. */
export function splitCsvLine(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    while (line.charCodeAt(i) === 32) i++;
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      while (line.charCodeAt(i) === 32) i++;
      out.push(v);
      if (i >= line.length) return out;
      if (line[i] !== ',') return undefined;
      i++;
    } else {
      const c = line.indexOf(',', i);
      if (c < 0) {
        out.push(line.slice(i).trim());
        return out;
      }
      out.push(line.slice(i, c).trim());
      i = c + 1;
    }
  }
}

type TimeMode = 'ticks' | 'wall';
type Parsed = { ok: true; src: string; dst: string; mode: TimeMode; value: number } | { ok: false; reason: string };

function parseRow(line: string): Parsed {
  if (line.length > MAX_LINE) return { ok: false, reason: `line longer than ${MAX_LINE} characters` };
  const f = splitCsvLine(line);
  if (!f) return { ok: false, reason: 'unbalanced quote' };
  if (f.length !== 3) return { ok: false, reason: `expected 3 fields (src,dst,time), got ${f.length}` };
  const [src, dst, time] = f as [string, string, string];
  if (src.length === 0 || dst.length === 0) return { ok: false, reason: 'src and dst must not be empty' };
  if (/^\d+$/.test(time) && Number(time) < MAX_TICK) return { ok: true, src, dst, mode: 'ticks', value: Number(time) };
  const ms = time.length > 0 ? parseTime(time) : undefined;
  if (ms === undefined) return { ok: false, reason: 'time is not an integer tick, epoch seconds/milliseconds or ISO-8601' };
  return { ok: true, src, dst, mode: 'wall', value: ms };
}

/** A first line whose time field is a name (e.g. `src,dst,time`) is a header. */
function looksLikeHeader(line: string): boolean {
  const f = splitCsvLine(line);
  return !!f && f.length === 3 && /^[A-Za-z_][\w .-]*$/.test(f[2]!) && parseTime(f[2]!) === undefined;
}

async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

export async function scoreEdgesStream(input: Readable, output: Writable, opts: ScoreEdgesOptions = {}): Promise<ScoreEdgesResult> {
  const { errors = process.stderr, end = false, precision = 6, tickSeconds = DEFAULT_TICK_SECONDS, half = DEFAULT_HALF_SCORE, ...midasOpts } = opts;
  if (!(tickSeconds > 0)) throw new RangeError('tickSeconds must be > 0');
  if (!(half > 0)) throw new RangeError('half must be > 0');
  const midas = new MidasR(midasOpts);
  const tickMs = tickSeconds * 1000;
  const result: ScoreEdgesResult = { rows: 0, scored: 0, malformed: 0, ticks: 0 };
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  let first = true;
  let mode: TimeMode | undefined;
  let originMs = 0;
  const report = (reason: string): Promise<void> => {
    result.malformed++;
    return write(errors, JSON.stringify({ level: 'error', code: 'malformed_row', line: lineNo, message: reason }) + '\n');
  };
  for await (const raw of rl) {
    lineNo++;
    const line = raw.trim();
    if (line.length === 0) continue;
    if (first) {
      first = false;
      if (looksLikeHeader(line)) {
        await write(output, `${line},anomaly_score\n`);
        continue;
      }
      await write(output, 'src,dst,time,anomaly_score\n');
    }
    result.rows++;
    const row = parseRow(line);
    if (!row.ok) {
      await report(row.reason);
      continue;
    }
    if (mode === undefined) {
      mode = row.mode;
      originMs = row.value;
    } else if (row.mode !== mode) {
      await report(mode === 'ticks' ? 'time is a wall-clock time but this stream uses integer ticks' : 'time is an integer tick but this stream uses wall-clock times');
      continue;
    }
    const tick = mode === 'ticks' ? row.value : Math.floor((row.value - originMs) / tickMs) + 1;
    const raw2 = midas.score(row.src, row.dst, tick);
    result.scored++;
    await write(output, `${line},${Number(normalizeScore(raw2, half).toFixed(precision))}\n`);
  }
  if (first) await write(output, 'src,dst,time,anomaly_score\n');
  result.ticks = midas.currentTick;
  if (end) {
    output.end();
    await once(output, 'finish');
  }
  return result;
}
