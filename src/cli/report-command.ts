/**
 * `tokenwatch report [--data-dir DIR | --store-url URL] --out FILE.html`: a self-contained HTML
 * report (inline SVG, no scripts) read from the embedded chDB store or a ClickHouse server.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.js';
import { TokenwatchError } from '../core/errors.js';
import { parseTime } from '../core/time.js';
import { createStoreClientFromConfig } from '../store/clickhouse-client.js';
import { DEFAULT_REPORT_OPTIONS, loadReportData } from '../report/report-data.js';
import { renderReportHtml } from '../report/report-html.js';

export async function reportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      'store-url': { type: 'string' },
      config: { type: 'string' },
      out: { type: 'string' },
      at: { type: 'string', default: 'latest' },
      hours: { type: 'string', default: String(DEFAULT_REPORT_OPTIONS.spanMs / 3600_000) },
      'bucket-minutes': { type: 'string', default: String(DEFAULT_REPORT_OPTIONS.bucketMs / 60_000) },
      issuers: { type: 'string', default: String(DEFAULT_REPORT_OPTIONS.maxIssuers) },
    },
  });
  if (!values.out) throw new TokenwatchError('config_invalid', '--out FILE.html is required');
  const positive = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new TokenwatchError('config_invalid', `--${name}: "${v}" is not a positive number`);
    return n;
  };
  const spanMs = positive('hours', values.hours) * 3600_000;
  const bucketMs = Math.round(positive('bucket-minutes', values['bucket-minutes'])) * 60_000;
  if (spanMs / bucketMs > 5000) throw new TokenwatchError('config_invalid', `--hours / --bucket-minutes: at most 5000 buckets (asked for ${Math.ceil(spanMs / bucketMs)})`);
  let end: number | undefined;
  if (values.at !== 'latest') {
    end = values.at === 'now' ? Date.now() : parseTime(values.at);
    if (end === undefined) throw new TokenwatchError('config_invalid', `--at: "${values.at}" is not a time (ISO-8601, "now" or "latest")`);
  }
  const cfg = await loadConfig(values.config);
  if (values['data-dir']) cfg.store.path = values['data-dir'];
  if (values['store-url']) cfg.store.url = values['store-url'];
  const store = await createStoreClientFromConfig(cfg.store);
  try {
    const where = cfg.store.url ? `ClickHouse at ${new URL(cfg.store.url).host}, database ${cfg.store.database}` : `embedded chDB at ${cfg.store.path}, database ${cfg.store.database}`;
    const data = await loadReportData(store.client, { database: cfg.store.database, end, spanMs, bucketMs, maxIssuers: Math.round(positive('issuers', values.issuers)) }, where);
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, renderReportHtml(data));
    process.stderr.write(`tokenwatch report: ${data.alerts.length} alerts, ${data.incidents.length} incidents, ${data.issuers.length} issuers charted, ${data.hygiene.tokens} tokens → ${values.out}\n`);
  } finally {
    await store.close();
  }
  return 0;
}
