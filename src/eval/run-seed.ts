/**
 * One evaluation run: simulate the realistic estate with every attack for a seed and replay the
 * records, in arrival order, through the embedded runner in-process (`runReplay`: decode →
 * normalize → enrich → detection engine, default configuration, no store), then match the
 * alerts to the injected attacks.
 */
import { Readable, Writable } from 'node:stream';
import type { Alert } from '../../schemas/alert.js';
import { parseConfig } from '../config/load-config.js';
import type { Fingerprinter } from '../core/fingerprint.js';
import { decodeValue } from '../pipeline/decode.js';
import { runReplay } from '../runners/embedded-runner.js';
import { DEFAULT_START, REALISTIC_ATTACK_NAMES, simulate, type InjectedAttack, type SimEvent } from '../simulate/index.js';
import { matchAlerts, type EvalAlert } from './matcher.js';
import type { SeedRun } from './report.js';

export interface SeedRunOptions {
  seed: number;
  days: number;
  scale: number;
  fingerprint: Fingerprinter;
  /** How long after an attack's last event an alert still counts (event time). */
  slackMs: number;
  /** A config object (parseConfig input); default {} — the targets are for the defaults. */
  config?: unknown;
}

export interface SeedRunDetail extends SeedRun {
  attacks: InjectedAttack[];
  alerts: Alert[];
  invalid: number;
  late: number;
  elapsedMs: number;
}

export const toEvalAlert = (a: Alert): EvalAlert => ({
  detector: a.detector,
  kind: a.kind,
  time: Date.parse(a.last_seen),
  ...(a.token_fp !== undefined ? { token_fp: a.token_fp } : {}),
  ...(a.issuer !== undefined ? { issuer: a.issuer } : {}),
  summary: a.summary,
});

/** The simulated records as NDJSON text in ~64 KiB chunks, counting the attackers' token events on the way. */
function* ndjsonChunks(events: Iterable<SimEvent>, ctx: { fingerprint: Fingerprinter }, counts: { attackEvents: number }): Generator<string> {
  let chunk = '';
  for (const e of events) {
    if (e.attack !== undefined) {
      const d = decodeValue(e.record, ctx);
      if (d.ok) counts.attackEvents += d.events.length;
    }
    chunk += JSON.stringify(e.record) + '\n';
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

export async function runSeed(opts: SeedRunOptions): Promise<SeedRunDetail> {
  const started = performance.now();
  const sim = simulate({
    seed: opts.seed, start: DEFAULT_START, hours: opts.days * 24, scale: opts.scale, profile: 'realistic', attacks: [...REALISTIC_ATTACK_NAMES],
  });
  const ctx = { fingerprint: opts.fingerprint };
  const counts = { attackEvents: 0 };
  const alerts: Alert[] = [];
  let pending = '';
  const alertsOut = new Writable({
    write(chunk, _enc, cb) {
      pending += String(chunk);
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines) if (l) alerts.push(JSON.parse(l) as Alert);
      cb();
    },
  });
  const summary = await runReplay({
    config: parseConfig(opts.config ?? {}),
    inputs: [{ name: `realistic-seed-${opts.seed}`, source: Readable.from(ndjsonChunks(sim.events, ctx, counts)) }],
    fingerprint: opts.fingerprint,
    alertsOut,
    deadLetters: { write: async () => undefined },
  });
  if (pending) alerts.push(JSON.parse(pending) as Alert);
  const result = matchAlerts(alerts.map(toEvalAlert), sim.attacks, opts.fingerprint, opts.slackMs);
  return {
    seed: opts.seed, events: summary.events, benignEvents: summary.events - counts.attackEvents, result, attacks: sim.attacks, alerts,
    invalid: summary.invalid, late: summary.late_events, elapsedMs: performance.now() - started,
  };
}
