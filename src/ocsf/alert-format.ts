/**
 * How alerts are written: tokenwatch's own schema (`native`), OCSF Detection Findings (`ocsf`),
 * or both. Chosen by `alerts.format` in the config and `replay --alert-format`.
 *
 * `OcsfNdjsonStream` sits between a runner's NDJSON alert output and the destination: it reads
 * native alert lines and writes each alert as OCSF (and, for `both`, the native line to a second
 * stream). Alerts are rare next to events, so parsing their lines again costs nothing that matters.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { z } from 'zod';
import type { Alert } from '../../schemas/alert.js';
import { TokenwatchError } from '../core/errors.js';
import { toDetectionFinding } from './detection-finding.js';

export const ALERT_FORMATS = ['native', 'ocsf', 'both'] as const;
export const AlertFormat = z.enum(ALERT_FORMATS);
export type AlertFormat = z.infer<typeof AlertFormat>;

/** Where `--alert-format both` writes the OCSF findings when `--ocsf-out` is not given: next to `--out`. */
export function defaultOcsfPath(nativeOut: string): string {
  return nativeOut.endsWith('.ndjson') ? `${nativeOut.slice(0, -'.ndjson'.length)}.ocsf.ndjson` : `${nativeOut}.ocsf.ndjson`;
}

/**
 * A Writable that takes native alert NDJSON and writes OCSF NDJSON to `ocsfOut`, and the native
 * lines unchanged to `nativeOut` when given. Honours backpressure on both destinations.
 */
export class OcsfNdjsonStream extends Writable {
  private partial = '';

  constructor(
    private readonly ocsfOut: Writable,
    private readonly nativeOut?: Writable,
  ) {
    super({ decodeStrings: false });
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.handle(typeof chunk === 'string' ? chunk : chunk.toString('utf8')).then(() => done(), done);
  }

  override _final(done: (err?: Error | null) => void): void {
    const rest = this.partial;
    this.partial = '';
    this.handle(rest.length > 0 ? `${rest}\n` : '').then(() => done(), done);
  }

  private async handle(text: string): Promise<void> {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.length === 0) continue;
      const alert = JSON.parse(line) as Alert;
      if (this.nativeOut && !this.nativeOut.write(line + '\n')) await once(this.nativeOut, 'drain');
      if (!this.ocsfOut.write(JSON.stringify(toDetectionFinding(alert)) + '\n')) await once(this.ocsfOut, 'drain');
    }
  }
}

export interface AlertOutputs {
  /** Where the runner writes native alert NDJSON. */
  stream: Writable;
  /** Flushes and closes the files (never stdout). */
  close(): Promise<void>;
  /** For the summary line: `→ alerts.ndjson (native), alerts.ocsf.ndjson (ocsf)`. */
  destinations: string[];
}

/**
 * The alert destinations for `replay`: native to `out` (or stdout); `ocsf` converts on the way;
 * `both` writes native to `out` and OCSF to `ocsfOut` (default: `defaultOcsfPath(out)`).
 * Two files rather than an `{native, ocsf}` envelope: each file stays a plain stream of one schema
 * that its consumer (a SIEM's OCSF reader, tokenwatch's own tools) reads unchanged.
 */
export function openAlertOutputs(opts: { format: AlertFormat; out?: string; ocsfOut?: string; stdout: Writable }, open: (path: string) => Writable): AlertOutputs {
  const files: Writable[] = [];
  const file = (path: string): Writable => {
    const s = open(path);
    files.push(s);
    return s;
  };
  if (opts.format !== 'both' && opts.ocsfOut !== undefined) throw new TokenwatchError('config_invalid', '--ocsf-out is only used with --alert-format both');
  let stream: Writable;
  const destinations: string[] = [];
  if (opts.format === 'native') {
    stream = opts.out !== undefined ? file(opts.out) : opts.stdout;
    destinations.push(`${opts.out ?? 'stdout'} (native)`);
  } else if (opts.format === 'ocsf') {
    stream = new OcsfNdjsonStream(opts.out !== undefined ? file(opts.out) : opts.stdout);
    destinations.push(`${opts.out ?? 'stdout'} (ocsf)`);
  } else {
    if (opts.out === undefined) throw new TokenwatchError('config_invalid', '--alert-format both (or alerts.format: both in the config) needs --out FILE for the native alerts; OCSF goes to --ocsf-out (default: FILE with .ocsf.ndjson)');
    const ocsfPath = opts.ocsfOut ?? defaultOcsfPath(opts.out);
    stream = new OcsfNdjsonStream(file(ocsfPath), file(opts.out));
    destinations.push(`${opts.out} (native)`, `${ocsfPath} (ocsf)`);
  }
  return {
    stream,
    destinations,
    async close(): Promise<void> {
      if (stream instanceof OcsfNdjsonStream) {
        stream.end();
        await once(stream, 'finish');
      }
      for (const f of files) {
        f.end();
        await once(f, 'finish');
      }
    },
  };
}
