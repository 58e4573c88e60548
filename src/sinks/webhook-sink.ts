/**
 * Generic webhook sink: batches of alerts (and hygiene findings) POSTed as JSON
 * `{"alerts": [...], "hygiene_findings": [...]}` (empty lists omitted), signed so the receiver
 * can check origin and freshness:
 *
 *   X-Tokenwatch-Timestamp: <Unix seconds>
 *   X-Tokenwatch-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *
 * (the timestamp inside the MAC lets the receiver refuse old replays). The secret comes from the
 * environment variable `secret_env`; without it the body goes unsigned. `alert_format: ocsf`
 * sends alerts as OCSF Detection Findings instead of the native schema.
 */
import { createHmac } from 'node:crypto';
import type { Severity } from '../../schemas/alert.js';
import { TokenwatchError } from '../core/errors.js';
import { toDetectionFinding } from '../ocsf/detection-finding.js';
import { isHygieneAlert, type HygieneAlert } from '../hygiene/hygiene-alert.js';
import { postOnce, type HttpDeliveryConfig } from './http-batcher.js';
import { SeverityFilteredHttpSink, type DeliveryRecord } from './severity-http-sink.js';

export type { DeliveryRecord } from './severity-http-sink.js';

export interface WebhookSinkConfig {
  url: string;
  /** Env var holding the HMAC secret. */
  secret_env?: string;
  min_severity: Severity;
  alert_format: 'native' | 'ocsf';
  /** Extra static headers (no secrets: use secret_env). */
  headers?: Record<string, string>;
  delivery?: Partial<HttpDeliveryConfig>;
}

export const WEBHOOK_SIGNATURE_HEADER = 'x-tokenwatch-signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'x-tokenwatch-timestamp';

/** The signature header value for a body sent at `timestamp` (Unix seconds). */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface WebhookSinkOptions {
  config: WebhookSinkConfig;
  env?: Record<string, string | undefined>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class WebhookSink extends SeverityFilteredHttpSink {
  private readonly cfg: WebhookSinkConfig;
  private readonly secret: string | undefined;
  private readonly now: () => number;

  constructor(opts: WebhookSinkOptions) {
    const secretEnv = opts.config.secret_env;
    const secret = secretEnv ? (opts.env ?? process.env)[secretEnv] : undefined;
    if (secretEnv && !secret) throw new TokenwatchError('config_invalid', `sinks.webhook: environment variable ${secretEnv} (secret_env) is not set`);
    super('webhook', opts.config.min_severity, opts.config.delivery, opts);
    this.cfg = opts.config;
    this.secret = secret;
    this.now = opts.now ?? Date.now;
  }

  /** The JSON body for a batch. */
  body(batch: readonly DeliveryRecord[]): string {
    const alerts: unknown[] = [];
    const findings: HygieneAlert[] = [];
    for (const r of batch) {
      if (isHygieneAlert(r)) findings.push(r);
      else alerts.push(this.cfg.alert_format === 'ocsf' ? toDetectionFinding(r) : r);
    }
    return JSON.stringify({ ...(alerts.length > 0 && { alerts }), ...(findings.length > 0 && { hygiene_findings: findings }) });
  }

  protected async post(batch: DeliveryRecord[]): Promise<void> {
    const body = this.body(batch);
    const headers: Record<string, string> = { ...this.cfg.headers, 'content-type': 'application/json' };
    if (this.secret) {
      const ts = Math.floor(this.now() / 1000);
      headers[WEBHOOK_TIMESTAMP_HEADER] = String(ts);
      headers[WEBHOOK_SIGNATURE_HEADER] = webhookSignature(this.secret, ts, body);
    }
    await postOnce(this.cfg.url, body, headers, this.batcher.config.timeout_ms);
  }
}
