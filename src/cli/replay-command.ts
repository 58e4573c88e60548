/** `tokenwatch replay`: the embedded runner over files or stdin. */
import { createWriteStream, mkdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { SourceFormat } from '../../schemas/token-event.js';
import { loadConfig } from '../config/load-config.js';
import { createFingerprinter } from '../core/fingerprint.js';
import { createLogger } from '../core/logger.js';
import { TokenwatchError } from '../core/errors.js';
import { DeadLetterFile } from '../sinks/dead-letter-file.js';
import { runReplay, type ReplayInput, type ReplaySummary } from '../runners/embedded-runner.js';
import { openReplayStore } from '../runners/replay-store.js';
import { AlertFormat, openAlertOutputs } from '../ocsf/alert-format.js';
import { openAlertDelivery } from '../sinks/delivery-sinks.js';
import { hygieneAlert, type HygieneAlert } from '../hygiene/hygiene-alert.js';

export async function replayCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
      'alert-format': { type: 'string' },
      'ocsf-out': { type: 'string' },
      incidents: { type: 'string' },
      'hygiene-out': { type: 'string' },
      'dead-letter': { type: 'string', default: '.tokenwatch/dead-letter.ndjson' },
      'data-dir': { type: 'string' },
      'store-url': { type: 'string' },
      'no-store': { type: 'boolean', default: false },
      config: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const log = createLogger({ level: values.quiet ? 'warn' : undefined });
  const config = await loadConfig(values.config);
  if (values['data-dir']) config.store.path = values['data-dir'];
  if (values['store-url']) config.store.url = values['store-url'];
  let format: SourceFormat | undefined;
  if (values.format && values.format !== 'auto') {
    const f = SourceFormat.safeParse(values.format);
    if (!f.success) throw new TokenwatchError('config_invalid', `--format: unknown format "${values.format}" — use one of: ${SourceFormat.options.join(', ')}, auto`);
    format = f.data;
  }
  const fingerprint = createFingerprinter({
    key: process.env[config.hmac_key_env],
    onDevKey: () => log.warn({ env: config.hmac_key_env }, 'using the built-in development HMAC key: fingerprints are guessable; set the env var to a random secret (32+ bytes) in production'),
  });
  const inputs: ReplayInput[] = (positionals.length ? positionals : ['-']).map((p) => (p === '-' ? { name: 'stdin', source: process.stdin } : { name: p, source: p }));

  mkdirSync(dirname(values['dead-letter']), { recursive: true });
  const deadLetters = new DeadLetterFile(values['dead-letter']);
  const alertFormat = AlertFormat.safeParse(values['alert-format'] ?? config.alerts.format);
  if (!alertFormat.success) throw new TokenwatchError('config_invalid', `--alert-format: unknown format "${values['alert-format']}" — use one of: ${AlertFormat.options.join(', ')}`);
  const alertOutputs = openAlertOutputs({ format: alertFormat.data, out: values.out, ocsfOut: values['ocsf-out'], stdout: process.stdout }, (p) => createWriteStream(p));
  const alertsOut = alertOutputs.stream;
  const store = values['no-store'] ? undefined : await openReplayStore(config, log);
  const incidentsOut = values.incidents ? createWriteStream(values.incidents) : undefined;
  // SET / webhook / Splunk HEC from `sinks:` in the config (README: Alert delivery)
  const delivery = openAlertDelivery(config.sinks);
  let hygiene: HygieneAlert[] | undefined;
  const tty = process.stderr.isTTY && !values.quiet;
  // total size of file inputs (stdin has none): the bar shows a fraction when it is known
  const totalBytes = inputs.reduce((n, i) => (typeof i.source === 'string' ? n + statSync(i.source).size : n), 0);
  const t0 = performance.now();
  let summary: ReplaySummary;
  try {
    summary = await runReplay({
      config, inputs, fingerprint, format, alertsOut, deadLetters, store, incidentsOut, delivery,
      onProgress: tty
        ? (p) => process.stderr.write(`\r${progressLine(p, totalBytes, (performance.now() - t0) / 1000)}`)
        : undefined,
    });
    if (tty) process.stderr.write('\r\x1b[K');
    if (store && config.hygiene.enabled) {
      // one hygiene pass over the stored inventory, as of the newest stored event (README: Token hygiene)
      const report = await store.hygieneReport();
      hygiene = report.findings.map((f) => hygieneAlert(f, report.as_of));
      if (values['hygiene-out']) await writeFile(values['hygiene-out'], hygiene.map((h) => JSON.stringify(h) + '\n').join(''));
      await delivery?.offerFindings(hygiene);
    }
    await delivery?.close(); // delivers what is queued; rejects when a sink gave up on a batch
  } finally {
    await delivery?.close().catch(() => undefined);
    await deadLetters.close();
    await alertOutputs.close();
    if (incidentsOut) await new Promise<void>((resolve, reject) => incidentsOut.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await store?.close();
  }
  const lines = [
    `tokenwatch replay: ${summary.records} records → ${summary.events} token events in ${(summary.elapsed_ms / 1000).toFixed(1)} s`,
    `  records per source: ${fmt(summary.records_by_source)}`,
    `  invalid: ${summary.invalid}${summary.invalid ? ` (${fmt(summary.invalid_by_code)}) → ${values['dead-letter']}` : ''}`,
    ...(Object.keys(summary.records_by_envelope).length > 0 ? [`  records from envelopes: ${fmt(summary.records_by_envelope)}`] : []),
    `  skipped: ${summary.skipped_no_credential} without a credential${summary.skipped_control_messages ? `, ${summary.skipped_control_messages} CloudWatch Logs control messages` : ''}`,
    `  duplicates dropped: ${summary.duplicates}, late events: ${summary.late_events}`,
    `  alerts: ${summary.alerts} (${fmt(summary.alerts_by_detector)})${values.out ? ` → ${alertOutputs.destinations.join(', ')}` : ''}`,
    `  incidents: ${summary.incidents}${values.incidents ? ` → ${values.incidents}` : ''}`,
    `  tokens in inventory: ${summary.tokens_in_inventory}`,
    ...(hygiene ? [`  hygiene findings: ${hygiene.length} (${fmt(countBy(hygiene.map((h) => h.finding)))})${values['hygiene-out'] ? ` → ${values['hygiene-out']}` : ''}`] : []),
    ...(delivery ? [`  delivered: ${Object.entries(delivery.stats()).map(([n, st]) => `${n}=${st.delivered}${st.items_failed ? ` (${st.items_failed} failed)` : ''}`).join(', ')}`] : []),
    store ? `  store: ${store.describe()}` : '  store: disabled',
  ];
  process.stderr.write(lines.join('\n') + '\n');
  return 0;
}

/** `[########------------]  42%  1,234,567 records · 12 alerts · 35,000 rec/s · ETA 12s` */
export function progressLine(p: { records: number; alerts: number; bytes: number }, totalBytes: number, secs: number): string {
  const rate = Math.round(p.records / Math.max(secs, 0.001));
  const tail = `${p.records.toLocaleString('en-US')} records · ${p.alerts} alerts · ${rate.toLocaleString('en-US')} rec/s`;
  if (totalBytes <= 0) return `  ${tail}   `;
  const frac = Math.min(1, p.bytes / totalBytes);
  const width = 24;
  const filled = Math.round(frac * width);
  const eta = frac > 0 ? Math.round((secs / frac) * (1 - frac)) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%  ${tail} · ETA ${eta}s   `;
}

function countBy(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

function fmt(r: Record<string, number>): string {
  const e = Object.entries(r);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(', ') : 'none';
}
