/** The OCSF conversion stream (replay) and the Kafka alert sink's formats, without a broker. */
import { Writable } from 'node:stream';
import type { Producer, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DETECTORS } from '../../detectors/index.js';
import type { Alert } from '../../schemas/alert.js';
import { buildAlert } from '../../src/pipeline/alert-builder.js';
import { defaultOcsfPath, OcsfNdjsonStream, openAlertOutputs } from '../../src/ocsf/alert-format.js';
import { toDetectionFinding } from '../../src/ocsf/detection-finding.js';
import { validateDetectionFinding } from '../../src/ocsf/validate.js';
import { KafkaAlertSink } from '../../src/sinks/kafka-alert-sink.js';
import { TokenwatchConfig } from '../../src/config/config-schema.js';
import { feedDetector } from '../detectors/feed-detector.js';
import { loadTestSchema } from './ocsf-schema-dir.js';

const schema = loadTestSchema();

function someAlerts(): Alert[] {
  const def = DETECTORS.find((d) => d.meta.id === 'token_replay')!;
  const c = def.cases.positive[0]!;
  return feedDetector(def.create(def.config.parse({ ...(c.config ?? {}) })), c.events, 86_400_000).map((d) => buildAlert(def.meta, d));
}

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _e: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('OcsfNdjsonStream', () => {
  it('converts native alert lines split across arbitrary chunks, and copies them for `both`', async () => {
    const alerts = someAlerts();
    expect(alerts.length).toBeGreaterThan(0);
    const ndjson = alerts.map((a) => JSON.stringify(a) + '\n').join('');
    const ocsf = new Collect();
    const native = new Collect();
    const s = new OcsfNdjsonStream(ocsf, native);
    for (let i = 0; i < ndjson.length; i += 37) s.write(ndjson.slice(i, i + 37));
    s.end();
    await new Promise((r) => s.on('finish', r));
    expect(native.text).toBe(ndjson);
    const findings = ocsf.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(findings).toEqual(alerts.map(toDetectionFinding));
    for (const f of findings) expect(validateDetectionFinding(schema, f)).toEqual([]);
  });

  it('names the OCSF file after --out, and refuses --ocsf-out without `both`', () => {
    expect(defaultOcsfPath('out/alerts.ndjson')).toBe('out/alerts.ocsf.ndjson');
    expect(defaultOcsfPath('alerts.json')).toBe('alerts.json.ocsf.ndjson');
    expect(() => openAlertOutputs({ format: 'ocsf', ocsfOut: 'x.ndjson', stdout: new Collect() }, () => new Collect())).toThrow(/only used with --alert-format both/);
  });
});

describe('alerts.format in the config', () => {
  it('defaults to native and accepts ocsf and both only', () => {
    expect(TokenwatchConfig.parse({}).alerts.format).toBe('native');
    expect(TokenwatchConfig.parse({ alerts: { format: 'both' } }).alerts.format).toBe('both');
    expect(TokenwatchConfig.safeParse({ alerts: { format: 'cef' } }).success).toBe(false);
  });
});

describe('Kafka alert sink formats', () => {
  const sent: ProducerRecord[] = [];
  const producer = { send: async (r: ProducerRecord) => void sent.push(r) } as unknown as Producer;

  it('sends OCSF findings with format and content-type headers, and both formats under one key for `both`', async () => {
    const [alert] = someAlerts();
    sent.length = 0;
    await new KafkaAlertSink(producer, { topic: 'alerts', format: 'ocsf' }).write([alert!]);
    const [m] = sent[0]!.messages;
    expect(m!.headers).toMatchObject({ format: 'ocsf', 'content-type': 'application/json', ocsf_version: '1.8.0', ocsf_class_uid: '2004', alert_id: alert!.alert_id });
    expect(validateDetectionFinding(schema, JSON.parse(String(m!.value)))).toEqual([]);

    sent.length = 0;
    await new KafkaAlertSink(producer, { topic: 'alerts', format: 'both' }).write([alert!]);
    const msgs = sent[0]!.messages;
    expect(msgs.map((x) => x.headers!.format)).toEqual(['native', 'ocsf']);
    expect(msgs[0]!.key).toBe(msgs[1]!.key);
    expect(JSON.parse(String(msgs[0]!.value))).toEqual(alert);

    sent.length = 0;
    await new KafkaAlertSink(producer, { topic: 'alerts' }).write([alert!]);
    expect(sent[0]!.messages.map((x) => x.headers!.format)).toEqual(['native']);
  });
});
