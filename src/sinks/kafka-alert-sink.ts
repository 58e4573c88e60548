/**
 * Alerts to a Kafka topic for subscribers: one JSON alert per message, keyed like the detector
 * routes its state (token_fp for token-keyed detectors, issuer for issuer-keyed ones), so every
 * alert about one token or issuer lands in one partition, in order. Headers carry detector, severity, kind and alert_id so subscribers can route or dedupe
 * without parsing the value, and `format` (native | ocsf) with `content-type` (OCSF adds ocsf_version, ocsf_class_uid).
 *
 * Delivery is at-least-once: a batch redelivered after a crash can produce an alert again with
 * the same deterministic alert_id. Subscribers dedupe on alert_id; this sink also remembers the
 * ids it sent recently (bounded) and skips them, which covers redeliveries inside one process.
 */
import type { Message, Producer } from 'kafkajs';
import type { Alert } from '../../schemas/alert.js';
import type { Incident } from '../../schemas/incident.js';
import { DETECTORS } from '../../detectors/index.js';
import type { AlertFormat } from '../ocsf/alert-format.js';
import { toDetectionFinding } from '../ocsf/detection-finding.js';
import { OCSF_VERSION } from '../ocsf/validate.js';

const KEY_BY = new Map<string, 'token' | 'issuer'>(DETECTORS.map((d) => [d.meta.id, d.meta.key_by]));

/** The message key: the detector's routing key, falling back to the other one, then the dedup key. */
export function alertKey(alert: Alert): string {
  const byIssuer = KEY_BY.get(alert.detector) === 'issuer';
  return (byIssuer ? (alert.issuer ?? alert.token_fp) : (alert.token_fp ?? alert.issuer)) ?? alert.dedup_key;
}

export interface KafkaAlertSinkOptions {
  topic: string;
  /** Recently sent alert ids remembered to skip in-process repeats. */
  maxRememberedIds?: number;
  /** `alerts.format`: native alerts, OCSF Detection Findings, or both (two messages per alert, told apart by the `format` header). */
  format?: AlertFormat;
}

export function alertMessage(alert: Alert): Message {
  return {
    key: alertKey(alert),
    value: JSON.stringify(alert),
    headers: { detector: alert.detector, severity: alert.severity, kind: alert.kind, alert_id: alert.alert_id, format: 'native', 'content-type': 'application/json' },
  };
}

/** The alert as an OCSF 1.8.0 Detection Finding: same key and routing headers, `format: ocsf`. */
export function ocsfAlertMessage(alert: Alert): Message {
  return {
    key: alertKey(alert),
    value: JSON.stringify(toDetectionFinding(alert)),
    headers: { detector: alert.detector, severity: alert.severity, kind: alert.kind, alert_id: alert.alert_id, format: 'ocsf', 'content-type': 'application/json', ocsf_version: OCSF_VERSION, ocsf_class_uid: '2004' },
  };
}

/** An incident on the alert topic: keyed by incident_id, told apart from alerts by the header `type: incident`. */
export function incidentMessage(incident: Incident): Message {
  return {
    key: incident.incident_id,
    value: JSON.stringify(incident),
    headers: { type: 'incident', severity: incident.severity, incident_id: incident.incident_id, format: 'native', 'content-type': 'application/json' },
  };
}

/** The messages for one alert in the configured format(s); `both` puts native first. */
export function alertMessages(alert: Alert, format: AlertFormat = 'native'): Message[] {
  if (format === 'native') return [alertMessage(alert)];
  if (format === 'ocsf') return [ocsfAlertMessage(alert)];
  return [alertMessage(alert), ocsfAlertMessage(alert)];
}

export class KafkaAlertSink {
  private readonly sent = new Set<string>();
  private readonly maxRemembered: number;
  private inFlight = 0;
  /** Alerts skipped because this process already sent the same alert_id. */
  skippedRepeats = 0;

  constructor(
    private readonly producer: Producer,
    private readonly opts: KafkaAlertSinkOptions,
  ) {
    this.maxRemembered = opts.maxRememberedIds ?? 100_000;
  }

  get topic(): string {
    return this.opts.topic;
  }

  /** Messages handed to the producer and not yet acknowledged. */
  get queueDepth(): number {
    return this.inFlight;
  }

  /** Resolves once every alert is acknowledged by the brokers (acks=all); returns how many were sent. */
  async write(alerts: readonly Alert[]): Promise<number> {
    const fresh: Alert[] = [];
    const ids = new Set<string>();
    for (const a of alerts) {
      if (this.sent.has(a.alert_id) || ids.has(a.alert_id)) {
        this.skippedRepeats++;
        continue;
      }
      ids.add(a.alert_id);
      fresh.push(a);
    }
    if (fresh.length === 0) return 0;
    this.inFlight += fresh.length;
    try {
      await this.producer.send({ topic: this.opts.topic, acks: -1, messages: fresh.flatMap((a) => alertMessages(a, this.opts.format)) });
    } finally {
      this.inFlight -= fresh.length;
    }
    // remembered only once acknowledged: a failed send must be retried, not skipped
    for (const id of ids) {
      this.sent.add(id);
      if (this.sent.size > this.maxRemembered) {
        const oldest = this.sent.values().next().value;
        if (oldest !== undefined) this.sent.delete(oldest);
      }
    }
    return fresh.length;
  }
}
