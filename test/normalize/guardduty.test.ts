import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { guardduty } from '../../src/normalize/guardduty.js';
import { FORMATS } from '../../src/normalize/index.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';
import { tokenReplay } from '../../detectors/token-replay/index.js';
import { feedDetector } from '../detectors/feed-detector.js';

const DIR = fileURLToPath(new URL('../fixtures/vendors/guardduty/', import.meta.url));
const VENDORS = fileURLToPath(new URL('../fixtures/vendors/', import.meta.url));
const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const load = (name: string, dir = DIR): Record<string, unknown> => JSON.parse(readFileSync(dir + name, 'utf8')) as Record<string, unknown>;

function run(raw: unknown): TokenEvent[] {
  const parsed = guardduty.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected fixture: ${parsed.error.message}`);
  const events = guardduty.normalize(parsed.data, ctx);
  for (const e of events) TokenEvent.parse(e);
  return events;
}

describe('guardduty format', () => {
  it('detects GuardDuty findings (EventBridge, API, CLI) and nothing else', () => {
    for (const f of readdirSync(DIR)) expect(guardduty.detect(load(f)), f).toBe(true);
    const detail = load('eventbridge-instance-credential-exfiltration-outside-aws.json').detail as Record<string, unknown>;
    expect(guardduty.detect(detail)).toBe(true);
    for (const dir of readdirSync(VENDORS).filter((d) => d !== 'guardduty')) {
      for (const f of readdirSync(`${VENDORS}${dir}`).filter((n) => n.endsWith('.json'))) {
        expect(guardduty.detect(load(f, `${VENDORS}${dir}/`)), `${dir}/${f}`).toBe(false);
      }
    }
    const others = FORMATS.filter((f) => f.id !== 'guardduty');
    for (const f of readdirSync(DIR)) expect(others.filter((o) => o.detect(load(f))).map((o) => o.id), f).toEqual([]);
  });

  it('InstanceCredentialExfiltration.OutsideAWS: a reuse signal on the CloudTrail fingerprint of the session key', () => {
    expect(run(load('eventbridge-instance-credential-exfiltration-outside-aws.json'))).toEqual([
      {
        event_id: `guardduty:f2c7b6a0d4e3f1a29b8c7d6e5f4a3b21:${Date.parse('2024-03-11T10:20:31.742Z')}`,
        source: 'guardduty',
        platform: 'aws',
        action: 'reuse_signal',
        time: Date.parse('2024-03-11T10:20:31.742Z'),
        token: { fp: ctx.fingerprint('aws', 'ASIAEXAMPLEEC2ROLE01'), kind: 'sts_session', hint: 'ASIA' },
        issuer: 'arn:aws:iam::123456789012:role/web-tier',
        service: 's3.amazonaws.com',
        network: { ip: '198.51.100.200', asn: '64500' },
        operation: 'ListBuckets',
        signal: 'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS',
      },
    ]);
  });

  it('the bare finding (EventBridge detail) and the InsideAWS variant signal too', () => {
    const detail = load('eventbridge-instance-credential-exfiltration-outside-aws.json').detail as Record<string, unknown>;
    expect(run(detail)).toHaveLength(1);
    detail.type = 'UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS';
    expect(run(detail)[0]?.signal).toBe('UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS');
  });

  it('CredentialAccess:* from CLI output (PascalCase): an IAM user key, IPv6 caller', () => {
    const [e] = run(load('cli-credential-access-anomalous-behavior.json'));
    expect(e).toMatchObject({
      action: 'reuse_signal',
      token: { fp: ctx.fingerprint('aws', 'AKIAEXAMPLENEWKEY001'), kind: 'aws_access_key', hint: 'AKIA' },
      issuer: 'arn:aws:iam::123456789012:user/backup-agent',
      network: { ip: '2001:db8:4:5::17', asn: '64511' },
      operation: 'GetSecretValue',
      signal: 'CredentialAccess:IAMUser/AnomalousBehavior',
      time: Date.parse('2024-06-02T01:52:13.204Z'),
    });
  });

  it('token_replay raises vendor_reuse_signal on the key', () => {
    const events = run(load('eventbridge-instance-credential-exfiltration-outside-aws.json'));
    const alerts = feedDetector(tokenReplay.create(tokenReplay.config.parse({})), events);
    expect(alerts.map((a) => [a.kind, a.token_fp])).toEqual([['vendor_reuse_signal', ctx.fingerprint('aws', 'ASIAEXAMPLEEC2ROLE01')]]);
  });

  it('other finding types, findings without a key and sample findings carry no signal', () => {
    expect(run(load('port-probe-no-credential.json'))).toEqual([]);
    expect(run(load('sample-finding.json'))).toEqual([]);
    const discovery = load('cli-credential-access-anomalous-behavior.json');
    discovery.Type = 'Discovery:IAMUser/AnomalousBehavior';
    expect(run(discovery)).toEqual([]);
  });

  it.each([
    ['invalid-missing-times.json', 'updatedAt'],
    ['invalid-redacted-access-key.json', 'resource.accessKeyDetails.accessKeyId'],
  ])('rejects %s at %s', (name, path) => {
    const r = guardduty.schema.safeParse(load(name));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('no raw access key id reaches the output', () => {
    const out = readdirSync(DIR).filter((f) => !f.startsWith('invalid-')).map((f) => JSON.stringify(run(load(f)))).join('\n');
    for (const s of ['ASIAEXAMPLEEC2ROLE01', 'AKIAEXAMPLENEWKEY001', 'GeneratedFindingAccessKeyId']) expect(out).not.toContain(s);
  });
});
