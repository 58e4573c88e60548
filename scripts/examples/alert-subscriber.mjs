#!/usr/bin/env node
// Subscribe to tokenwatch alerts on Kafka (kafkajs).
//
//   node scripts/examples/alert-subscriber.mjs [--brokers 127.0.0.1:19092] [--topic tokenwatch.alerts]
//                                             [--group my-alert-consumer] [--min-severity high]
//
// Each message value is one alert (schemas/alert.ts) as JSON; the key is the token fingerprint
// (token-keyed detectors) or the issuer (issuer-keyed ones); headers: detector, severity, kind,
// alert_id. tokenwatch writes each alert once, in Kafka transactions (read_committed, the kafkajs
// default, sees it once); this consumer's own processing is at-least-once (a crash before its
// commit redelivers), so dedupe on alert_id (here: a bounded in-memory set; in production use your
// ticketing system's external id or a table keyed by alert_id).
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const { values } = parseArgs({
  options: {
    brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092' },
    topic: { type: 'string', default: 'tokenwatch.alerts' },
    group: { type: 'string', default: 'tokenwatch-alert-subscriber' },
    'min-severity': { type: 'string', default: 'low' },
    'from-beginning': { type: 'boolean', default: false },
  },
});
const SEVERITY = ['low', 'medium', 'high', 'critical'];
const minSeverity = SEVERITY.indexOf(values['min-severity']);
if (minSeverity < 0) {
  console.error(`--min-severity must be one of ${SEVERITY.join(', ')}`);
  process.exit(2);
}

const seen = new Set();
const MAX_SEEN = 100_000;
function firstTime(alertId) {
  if (seen.has(alertId)) return false;
  seen.add(alertId);
  if (seen.size > MAX_SEEN) seen.delete(seen.values().next().value);
  return true;
}

const kafka = new Kafka({ clientId: 'tokenwatch-alert-subscriber', brokers: values.brokers.split(','), logLevel: logLevel.WARN });
const consumer = kafka.consumer({ groupId: values.group });
await consumer.connect();
await consumer.subscribe({ topics: [values.topic], fromBeginning: values['from-beginning'] });

const shutdown = async () => {
  await consumer.disconnect();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

await consumer.run({
  // offsets are committed after eachMessage returns: a crash mid-handling redelivers (dedupe above)
  eachMessage: async ({ message }) => {
    const h = (name) => message.headers?.[name]?.toString();
    const alertId = h('alert_id');
    // cheap filtering on headers, without parsing the value
    if (SEVERITY.indexOf(h('severity')) < minSeverity) return;
    if (!alertId || !firstTime(alertId)) return;
    const alert = JSON.parse(message.value.toString('utf8'));
    // hand off to your pipeline here (ticket, pager, SOAR); the alert explains itself:
    console.log(
      JSON.stringify({
        alert_id: alert.alert_id,
        severity: alert.severity,
        detector: alert.detector,
        kind: alert.kind,
        title: alert.title,
        summary: alert.summary,
        token_fp: alert.token_fp,
        issuer: alert.issuer,
        first_seen: alert.first_seen,
        last_seen: alert.last_seen,
        evidence_events: alert.evidence.events.length,
        mitre_attack: alert.mitre_attack,
      }),
    );
  },
});
console.error(`subscribed to ${values.topic} as group ${values.group} (min severity ${values['min-severity']})`);
