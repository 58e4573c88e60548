/**
 * `tokenwatch exceptions add|list|expired --file F`: operator exceptions as data
 * (schemas/exception.ts). `add` validates and appends; `list` shows every entry and whether it
 * is live; `expired` lists those that lapsed (at --at, default now) — they no longer apply.
 */
import { parseArgs } from 'node:util';
import { DETECTOR_IDS } from '../../schemas/alert.js';
import { expiresAt, type ExceptionEntry } from '../../schemas/exception.js';
import { TokenwatchError } from '../core/errors.js';
import { parseTime } from '../core/time.js';
import { appendException, readExceptions } from '../exceptions/exception-file.js';
import { expiredExceptions } from '../exceptions/exception-filter.js';

const USAGE = `usage:
  tokenwatch exceptions add --file F --detector D [--id ID] [--kind K] [--issuer GLOB] [--network CIDR,…] [--asn AS…,…]
                            [--user-agent FAMILY|GLOB] [--workload GLOB] --reason TEXT --owner WHO --expires YYYY-MM-DD
  tokenwatch exceptions list --file F [--at ISO] [--json]
  tokenwatch exceptions expired --file F [--at ISO] [--json]
detectors: ${DETECTOR_IDS.join(', ')}`;

const list = (v: string | string[] | undefined): string[] | undefined => {
  if (v === undefined) return undefined;
  const items = (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  return items.length ? items : undefined;
};

/** What the exception covers, in one line. */
function scopeOf(e: ExceptionEntry): string {
  const parts = [e.kind && `kind=${e.kind}`, e.issuer && `issuer=${e.issuer}`, e.network && `network=${e.network.join(',')}`, e.asn && `asn=${e.asn.join(',')}`, e.user_agent && `ua=${e.user_agent}`, e.workload && `workload=${e.workload}`];
  return parts.filter(Boolean).join(' ') || '(every alert of the detector)';
}

function atOf(v: string | undefined): number {
  if (v === undefined) return Date.now(); // the CLI reports against the wall clock unless told; detection uses event time
  const t = parseTime(v);
  if (t === undefined) throw new TokenwatchError('config_invalid', `--at: "${v}" is not a time (use ISO-8601)`);
  return t;
}

export async function exceptionsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(USAGE + '\n');
    return sub ? 0 : 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      file: { type: 'string', short: 'f' },
      id: { type: 'string' },
      detector: { type: 'string' },
      kind: { type: 'string' },
      issuer: { type: 'string' },
      network: { type: 'string', multiple: true },
      asn: { type: 'string', multiple: true },
      'user-agent': { type: 'string' },
      workload: { type: 'string' },
      reason: { type: 'string' },
      owner: { type: 'string' },
      expires: { type: 'string' },
      at: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.file) {
    process.stderr.write(`tokenwatch exceptions ${sub}: --file F is required\n${USAGE}\n`);
    return 2;
  }
  const file = values.file;
  if (sub === 'add') {
    const existing = readExceptions(file, true);
    const id = values.id ?? nextId(values.detector ?? 'exception', existing);
    const entry = {
      id,
      detector: values.detector,
      kind: values.kind,
      issuer: values.issuer,
      network: list(values.network),
      asn: list(values.asn),
      user_agent: values['user-agent'],
      workload: values.workload,
      reason: values.reason,
      owner: values.owner,
      expires: values.expires,
    };
    const stored = appendException(file, Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)));
    process.stderr.write(`exceptions: added ${stored.id} (${stored.detector}: ${scopeOf(stored)}; owner ${stored.owner}; expires ${stored.expires}) → ${file}\n`);
    return 0;
  }
  if (sub === 'list' || sub === 'expired') {
    const entries = readExceptions(file);
    const at = atOf(values.at);
    const shown = sub === 'expired' ? expiredExceptions(entries, at) : entries;
    if (values.json) {
      process.stdout.write(shown.map((e) => JSON.stringify({ ...e, expired: expiresAt(e) <= at })).join('\n') + (shown.length ? '\n' : ''));
    } else {
      for (const e of shown) {
        const state = expiresAt(e) <= at ? 'EXPIRED' : 'live';
        process.stdout.write(`${e.id}\t${e.detector}\t${state}\texpires ${e.expires}\towner ${e.owner}\t${scopeOf(e)}\t— ${e.reason}\n`);
      }
    }
    process.stderr.write(`exceptions: ${shown.length} ${sub === 'expired' ? 'expired' : 'total'} of ${entries.length} in ${file} at ${new Date(at).toISOString()}\n`);
    return 0;
  }
  process.stderr.write(`tokenwatch exceptions: unknown subcommand "${sub}"\n${USAGE}\n`);
  return 2;
}

/** `<detector>-<n>`: the first free number for that detector. */
function nextId(detector: string, existing: readonly ExceptionEntry[]): string {
  const ids = new Set(existing.map((e) => e.id));
  const base = detector.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 56) || 'exception';
  let n = 1;
  while (ids.has(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}
