import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { securityLake } from '../../src/normalize/security-lake.js';
import { cloudtrail } from '../../src/normalize/cloudtrail.js';
import { FORMATS } from '../../src/normalize/index.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const DIR = fileURLToPath(new URL('../fixtures/vendors/security_lake/', import.meta.url));
const CT_DIR = fileURLToPath(new URL('../fixtures/vendors/cloudtrail/', import.meta.url));
const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const load = (name: string, dir = DIR): Record<string, unknown> => JSON.parse(readFileSync(dir + name, 'utf8')) as Record<string, unknown>;

function run(raw: unknown): TokenEvent[] {
  const parsed = securityLake.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected fixture: ${parsed.error.message}`);
  const events = securityLake.normalize(parsed.data, ctx);
  for (const e of events) TokenEvent.parse(e);
  return events;
}

function runCloudTrail(name: string): TokenEvent[] {
  const parsed = cloudtrail.schema.parse(load(name, CT_DIR));
  return cloudtrail.normalize(parsed, ctx);
}

/** The CloudTrail events, as the Security Lake normalizer should name them. */
const asSecurityLake = (events: TokenEvent[]): TokenEvent[] =>
  events.map((e) => ({ ...e, source: 'security_lake', event_id: e.event_id.replace(/^cloudtrail:/, 'security_lake:') }));

describe('security_lake format', () => {
  it('detects Security Lake CloudTrail records only', () => {
    for (const f of readdirSync(DIR)) expect(securityLake.detect(load(f)), f).toBe(true);
    for (const f of readdirSync(CT_DIR)) expect(securityLake.detect(load(f, CT_DIR)), f).toBe(false);
    // OCSF from another product, or a finding class, is not CloudTrail in Security Lake
    const vpc = { ...load('api-activity-ec2-instance-role.json'), metadata: { product: { name: 'Amazon VPC' } } };
    expect(securityLake.detect(vpc)).toBe(false);
    expect(securityLake.detect({ ...load('api-activity-ec2-instance-role.json'), class_uid: 2004 })).toBe(false);
  });

  it('no other format claims a Security Lake record, and it claims no other format\'s fixture', () => {
    const others = FORMATS.filter((f) => f.id !== 'security_lake');
    for (const f of readdirSync(DIR)) {
      const raw = load(f);
      expect(others.filter((o) => o.detect(raw)).map((o) => o.id), f).toEqual([]);
    }
    const vendors = fileURLToPath(new URL('../fixtures/vendors/', import.meta.url));
    for (const dir of readdirSync(vendors)) {
      if (dir === 'security_lake') continue;
      for (const f of readdirSync(`${vendors}${dir}`).filter((n) => n.endsWith('.json'))) {
        expect(securityLake.detect(load(f, `${vendors}${dir}/`)), `${dir}/${f}`).toBe(false);
      }
    }
  });

  it('AssumeRole (Authentication 3002): the same use and mint as the CloudTrail record', () => {
    const events = run(load('authentication-assume-role.json'));
    expect(events.map((e) => e.action)).toEqual(['use', 'mint']);
    expect(events).toEqual(asSecurityLake(runCloudTrail('sts-assume-role.json')));
    expect(events[1]?.event_id).toBe('security_lake:e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b:mint');
  });

  it('API Activity 6003 by an EC2 instance-role session: same issuer, workload and network as CloudTrail', () => {
    const events = run(load('api-activity-ec2-instance-role.json'));
    expect(events).toEqual(asSecurityLake(runCloudTrail('ec2-instance-role-call.json')));
    expect(events[0]).toMatchObject({
      issuer: 'arn:aws:iam::123456789012:role/web-tier',
      workload: { kind: 'ec2_instance', id: 'i-0a1b2c3d4e5f67890' },
      network: { ip: '203.0.113.77', label: 'vpce-0123456789abcdef0' },
    });
  });

  it('Account Change 3001 CreateAccessKey with api.*.data as JSON text: the same mint, one fingerprint namespace', () => {
    const events = run(load('account-change-create-access-key.json'));
    expect(events).toEqual(asSecurityLake(runCloudTrail('iam-create-access-key.json')));
    expect(events[1]?.token.fp).toBe(ctx.fingerprint('aws', 'AKIAEXAMPLENEWKEY001'));
  });

  it('v1 (OCSF 1.0.0-rc.2, class 3005) names: arn in actor.user.uuid, principal id in uid, account_uid', () => {
    const v1 = load('api-activity-ec2-instance-role.json');
    v1.class_uid = 3005;
    const actor = v1.actor as Record<string, Record<string, unknown>>;
    actor.user = {
      type: 'AssumedRole',
      uid: 'AROAEXAMPLEWEBROLE123:i-0a1b2c3d4e5f67890',
      uuid: 'arn:aws:sts::123456789012:assumed-role/web-tier/i-0a1b2c3d4e5f67890',
      account_uid: '123456789012',
      credential_uid: 'ASIAEXAMPLEEC2ROLE01',
    };
    expect(run(v1)).toEqual(run(load('api-activity-ec2-instance-role.json')));
  });

  it('a failure status without an error code is a failed call and mints nothing', () => {
    const denied = load('authentication-assume-role.json');
    denied.status = 'Failure';
    denied.status_id = 2;
    delete (denied.api as Record<string, unknown>).response;
    const events = run(denied);
    expect(events.map((e) => [e.action, e.outcome])).toEqual([['use', 'failure']]);
  });

  it('console sign-ins and service events without an actor carry no token', () => {
    expect(run(load('authentication-console-login.json'))).toEqual([]);
    const service = { ...load('api-activity-ec2-instance-role.json'), actor: undefined, metadata: { uid: 'x', event_code: 'AwsServiceEvent', product: { name: 'CloudTrail' } } };
    expect(run(service)).toEqual([]);
    const noActor = { ...load('api-activity-ec2-instance-role.json'), actor: undefined };
    expect(securityLake.schema.safeParse(noActor).success).toBe(false);
  });

  it.each([
    ['invalid-redacted-credential-uid.json', 'actor.user.credential_uid'],
    ['invalid-assume-role-without-credentials.json', 'api.response.data.credentials'],
  ])('rejects partial record %s at %s', (name, path) => {
    const r = securityLake.schema.safeParse(load(name));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('rejects a record without time, and api data that is not a JSON object', () => {
    const noTime = load('api-activity-ec2-instance-role.json');
    delete noTime.time;
    expect(securityLake.schema.safeParse(noTime).success).toBe(false);
    const badData = load('account-change-create-access-key.json');
    ((badData.api as Record<string, Record<string, unknown>>).response!).data = '{"accessKey": ';
    const r = securityLake.schema.safeParse(badData);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain('api.response.data');
  });

  it('no raw access key id or session token reaches the output', () => {
    const output = readdirSync(DIR)
      .filter((f) => !f.startsWith('invalid-'))
      .map((f) => JSON.stringify(run(load(f))))
      .join('\n');
    for (const s of ['AKIAIOSFODNN7EXAMPLE', 'ASIAZ7EXAMPLEMINTED1', 'ASIAEXAMPLEEC2ROLE01', 'AKIAEXAMPLENEWKEY001', 'IQoJb3JpZ2luX2VjEXAMPLEFAKESESSIONTOKEN']) {
      expect(output).not.toContain(s);
    }
  });
});
