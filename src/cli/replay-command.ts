/** `tokenwatch replay`: the embedded runner over files or stdin. */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { once } from 'node:events';
import { SourceFormat } from '../../schemas/token-event.js';
import { loadConfig } from '../config/load-config.js';
import { createFingerprinter } from '../core/fingerprint.js';
import { createLogger } from '../core/logger.js';
import { TokenwatchError } from '../core/errors.js';
import { DeadLetterFile } from '../sinks/dead-letter-file.js';
import { runReplay, type ReplayInput, type ReplaySummary } from '../runners/embedded-runner.js';
import { openReplayStore } from '../runners/replay-store.js';

export async function replayCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
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
  const alertsOut = values.out ? createWriteStream(values.out) : process.stdout;
  const store = values['no-store'] ? undefined : await openReplayStore(config, log);
  const tty = process.stderr.isTTY && !values.quiet;
  const t0 = performance.now();
  let summary: ReplaySummary;
  try {
    summary = await runReplay({
      config, inputs, fingerprint, format, alertsOut, deadLetters, store,
      onProgress: tty
        ? (p) => {
            const secs = (performance.now() - t0) / 1000;
            process.stderr.write(`\r  ${p.records.toLocaleString()} records · ${p.events.toLocaleString()} events · ${p.alerts} alerts · ${Math.round(p.records / secs).toLocaleString()} rec/s   `);
          }
        : undefined,
    });
    if (tty) process.stderr.write('\r\x1b[K');
  } finally {
    await deadLetters.close();
    if (values.out) {
      alertsOut.end();
      await once(alertsOut, 'finish');
    }
    await store?.close();
  }
  const lines = [
    `tokenwatch replay: ${summary.records} records → ${summary.events} token events in ${(summary.elapsed_ms / 1000).toFixed(1)} s`,
    `  records per source: ${fmt(summary.records_by_source)}`,
    `  invalid: ${summary.invalid}${summary.invalid ? ` (${fmt(summary.invalid_by_code)}) → ${values['dead-letter']}` : ''}`,
    `  duplicates dropped: ${summary.duplicates}, late events: ${summary.late_events}`,
    `  alerts: ${summary.alerts} (${fmt(summary.alerts_by_detector)})${values.out ? ` → ${values.out}` : ''}`,
    `  tokens in inventory: ${summary.tokens_in_inventory}`,
    store ? `  store: ${store.describe()}` : '  store: disabled',
  ];
  process.stderr.write(lines.join('\n') + '\n');
  return 0;
}

function fmt(r: Record<string, number>): string {
  const e = Object.entries(r);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(', ') : 'none';
}
