/**
 * Splunk HTTP Event Collector sink: batches POSTed to `<url>/services/collector/event` with
 * `Authorization: Splunk <token>` (token from the env var `token_env`). The body is HEC's batch
 * format — event objects concatenated, not a JSON array — each
 * `{"time": <epoch seconds>, "source", "sourcetype", "index"?, "host"?, "event": <alert>}`,
 * with `time` the alert's first_seen (event time) so Splunk indexes it when it happened.
 * Sourcetypes: `<sourcetype>` for alerts, `<sourcetype>:hygiene` for hygiene findings.
 *
 * HEC answers 200 `{"text":"Success","code":0}`; 503 (code 9, server busy) and 5xx are retried,
 * 400 (invalid data) and 401/403 (token) fail at once.
 */
import type { Severity } from '../../schemas/alert.js';
import { TokenwatchError } from '../core/errors.js';
import { toDetectionFinding } from '../ocsf/detection-finding.js';
import { isHygieneAlert } from '../hygiene/hygiene-alert.js';
import { postOnce, type HttpDeliveryConfig } from './http-batcher.js';
import { SeverityFilteredHttpSink, type DeliveryRecord } from './severity-http-sink.js';

export interface SplunkHecSinkConfig {
  /** HEC base URL, e.g. https://splunk.example.com:8088 (the event endpoint path is appended). */
  url: string;
  token_env: string;
  index?: string;
  source: string;
  sourcetype: string;
  host?: string;
  min_severity: Severity;
  alert_format: 'native' | 'ocsf';
  delivery?: Partial<HttpDeliveryConfig>;
}

export const HEC_EVENT_PATH = '/services/collector/event';

export interface SplunkHecSinkOptions {
  config: SplunkHecSinkConfig;
  env?: Record<string, string | undefined>;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class SplunkHecSink extends SeverityFilteredHttpSink {
  private readonly cfg: SplunkHecSinkConfig;
  private readonly token: string;
  private readonly endpoint: string;

  constructor(opts: SplunkHecSinkOptions) {
    const token = (opts.env ?? process.env)[opts.config.token_env];
    if (!token) throw new TokenwatchError('config_invalid', `sinks.splunk_hec: environment variable ${opts.config.token_env} (token_env) is not set`);
    super('splunk_hec', opts.config.min_severity, opts.config.delivery, opts);
    this.cfg = opts.config;
    this.token = token;
    this.endpoint = new URL(HEC_EVENT_PATH, opts.config.url.endsWith('/') ? opts.config.url : `${opts.config.url}/`).toString().replace(/\/services\/collector\/event\/?$/, HEC_EVENT_PATH);
  }

  /** HEC batch body: one event object per record, newline-separated. */
  body(batch: readonly DeliveryRecord[]): string {
    const lines: string[] = [];
    for (const r of batch) {
      const hygiene = isHygieneAlert(r);
      const time = Date.parse(hygiene ? r.seen_at : r.first_seen) / 1000;
      lines.push(
        JSON.stringify({
          time,
          source: this.cfg.source,
          sourcetype: hygiene ? `${this.cfg.sourcetype}:hygiene` : this.cfg.sourcetype,
          ...(this.cfg.index && { index: this.cfg.index }),
          ...(this.cfg.host && { host: this.cfg.host }),
          event: hygiene || this.cfg.alert_format === 'native' ? r : toDetectionFinding(r),
        }),
      );
    }
    return lines.join('\n');
  }

  protected async post(batch: DeliveryRecord[]): Promise<void> {
    await postOnce(this.endpoint, this.body(batch), { authorization: `Splunk ${this.token}`, 'content-type': 'application/json' }, this.batcher.config.timeout_ms);
  }
}
