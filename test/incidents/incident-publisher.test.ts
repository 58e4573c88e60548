/** The Kafka runtime's incidents: published to the alert topic with `type: incident` once they close. */
import { describe, expect, it } from 'vitest';
import type { Producer, ProducerRecord } from 'kafkajs';
import type { Alert } from '../../schemas/alert.js';
import { Incident } from '../../schemas/incident.js';
import { IncidentPublisher } from '../../src/incidents/incident-publisher.js';
import { incidentMessage } from '../../src/sinks/kafka-alert-sink.js';
import { createLogger } from '../../src/core/logger.js';
import { sha256Hex } from '../../src/core/hash.js';
import { HOUR, MIN, T0, fp } from '../../detectors/case-helpers.js';

const alert = (name: string, at: number, token: string): Alert => ({
  schema_version: 1, alert_id: sha256Hex(name), detector: 'token_replay', detector_version: 1, kind: 'use_after_revocation', severity: 'high', score: 0.9,
  title: 't', summary: 's', token_fp: fp(token), first_seen: new Date(at).toISOString(), last_seen: new Date(at).toISOString(),
  evidence: { events: [], baseline: {} }, mitre_attack: [], owasp_nhi: [], runbook: '', dedup_key: name,
});

describe('IncidentPublisher', () => {
  it('publishes an incident once a later alert moves event time past its window', async () => {
    const sent: ProducerRecord[] = [];
    const producer = { send: async (r: ProducerRecord) => void sent.push(r) } as unknown as Producer;
    const pub = new IncidentPublisher({ producer, topic: 'tokenwatch.alerts', database: 'tokenwatch', log: createLogger({ level: 'silent' }) });
    pub.observe([alert('a', T0, 'x')]);
    pub.observe([alert('b', T0 + 10 * MIN, 'x')]);
    await pub.settled();
    expect(sent).toHaveLength(0); // still open
    pub.observe([alert('c', T0 + 3 * HOUR, 'y')]);
    await pub.settled();
    expect(sent).toHaveLength(1);
    const [msg] = sent[0]!.messages;
    expect(sent[0]!.topic).toBe('tokenwatch.alerts');
    const inc = Incident.parse(JSON.parse(String(msg!.value)));
    expect(inc.alert_count).toBe(2);
    expect(msg!.key).toBe(inc.incident_id);
    expect(msg!.headers).toMatchObject({ type: 'incident', severity: 'high', incident_id: inc.incident_id });
    expect(incidentMessage(inc)).toEqual(msg);
    expect(pub.published).toBe(1);
  });

  it('logs and counts a failed publish instead of failing the runtime', async () => {
    const producer = { send: async () => { throw new Error('broker down'); } } as unknown as Producer;
    const pub = new IncidentPublisher({ producer, topic: 't', database: 'tokenwatch', log: createLogger({ level: 'silent' }) });
    pub.observe([alert('a', T0, 'x')]);
    pub.observe([alert('c', T0 + 3 * HOUR, 'y')]);
    await pub.settled();
    expect(pub.failed).toBe(1);
  });
});
