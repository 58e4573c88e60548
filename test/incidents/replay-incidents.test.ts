/**
 * The embedded runner's incidents: CloudTrail records (shapes from the CloudTrail record
 * reference, as in test/fixtures/vendors/cloudtrail) where a deleted access key is used three
 * more times: token_replay raises use_after_revocation once (it folds the later uses itself), and
 * `replay --incidents` writes the incident holding it, the same on every run. Repeats the engine
 * suppresses are counted in test/incidents/incident-builder.test.ts (engine + builder).
 */
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Alert } from '../../schemas/alert.js';
import { Incident } from '../../schemas/incident.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { runReplay } from '../../src/runners/embedded-runner.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/vendors/cloudtrail/${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

function records(): string {
  const revoke = fixture('iam-delete-access-key'); // deletes AKIAEXAMPLENEWKEY001 at 07:30
  const use = (i: number, minute: number) => ({
    eventVersion: '1.08',
    userIdentity: { type: 'IAMUser', principalId: 'AIDAEXAMPLEBACKUP001', arn: 'arn:aws:iam::123456789012:user/backup-agent', accountId: '123456789012', accessKeyId: 'AKIAEXAMPLENEWKEY001', userName: 'backup-agent' },
    eventTime: `2024-06-02T07:${String(minute).padStart(2, '0')}:00Z`,
    eventSource: 's3.amazonaws.com',
    eventName: 'ListBuckets',
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.50',
    userAgent: 'aws-cli/2.15.30 Python/3.11.8',
    requestParameters: null,
    responseElements: null,
    requestID: `0000000${i}-aaaa-4bbb-8ccc-dddddddddddd`,
    eventID: `1111111${i}-aaaa-4bbb-8ccc-dddddddddddd`,
    readOnly: true,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: '123456789012',
    eventCategory: 'Management',
  });
  return [revoke, use(1, 40), use(2, 45), use(3, 50)].map((r) => JSON.stringify(r)).join('\n') + '\n';
}

async function replay(): Promise<{ alerts: Alert[]; incidents: Incident[]; text: string; summary: Awaited<ReturnType<typeof runReplay>> }> {
  const alerts: Alert[] = [];
  let text = '';
  const summary = await runReplay({
    config: parseConfig({}),
    inputs: [{ name: 'cloudtrail', source: Readable.from([records()]) }],
    fingerprint: createFingerprinter({ key: 'incident-test-key-0123456789abcdef0123' }),
    alertsOut: new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) alerts.push(Alert.parse(JSON.parse(l))); cb(); } }),
    deadLetters: { write: async () => undefined },
    incidentsOut: new Writable({ write(c, _e, cb) { text += String(c); cb(); } }),
  });
  const incidents = text.split('\n').filter(Boolean).map((l) => Incident.parse(JSON.parse(l)));
  return { alerts, incidents, text, summary };
}

describe('replay --incidents', () => {
  it('writes every alert into exactly one incident', async () => {
    const { alerts, incidents, summary } = await replay();
    expect(alerts.map((a) => `${a.detector}/${a.kind}`)).toContain('token_replay/use_after_revocation');
    expect(summary.incidents).toBe(incidents.length);
    // every alert is in exactly one incident
    expect(incidents.flatMap((i) => i.alerts.map((a) => a.alert_id)).sort()).toEqual(alerts.map((a) => a.alert_id).sort());
    const replayed = incidents.find((i) => i.alerts.some((a) => a.kind === 'use_after_revocation'))!;
    const alert = alerts.find((a) => a.kind === 'use_after_revocation')!;
    expect(replayed.incident_id).toMatch(/^[0-9a-f]{32}$/);
    expect(replayed.token_fps).toContain(alert.token_fp);
    expect(replayed.first_seen).toBe(alert.first_seen);
    expect(replayed.severity).toBe(replayed.detectors.length >= 2 ? 'critical' : alert.severity);
    expect(replayed.timeline.map((t) => t.alert_id)).toContain(alert.alert_id);
  });

  it('gives byte-identical incidents on every replay of the same logs', async () => {
    const a = await replay();
    const b = await replay();
    expect(a.text.length).toBeGreaterThan(0);
    expect(b.text).toBe(a.text);
  });
});
