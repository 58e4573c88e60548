import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cloudtrail } from '../../src/normalize/cloudtrail.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';
import { tokenReplay } from '../../detectors/token-replay/index.js';
import { feedDetector } from '../detectors/feed-detector.js';

const DIR = fileURLToPath(new URL('../fixtures/vendors/cloudtrail/', import.meta.url));
const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const fp = (keyId: string): string => ctx.fingerprint('aws', keyId);
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(DIR + name, 'utf8')) as Record<string, unknown>;

function run(raw: unknown): TokenEvent[] {
  const parsed = cloudtrail.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected fixture: ${parsed.error.message}`);
  const events = cloudtrail.normalize(parsed.data, ctx);
  for (const e of events) TokenEvent.parse(e);
  return events;
}

const ACCT = '123456789012';
const CALLER_ARN = `arn:aws:iam::${ACCT}:user/deploy-bot`;
const CALLER_KEY = 'AKIAIOSFODNN7EXAMPLE';

describe('cloudtrail format', () => {
  it('detects CloudTrail records and nothing else', () => {
    expect(cloudtrail.detect(load('sts-assume-role.json'))).toBe(true);
    expect(cloudtrail.detect({ eventName: 'x', eventSource: 'y' })).toBe(false);
    expect(cloudtrail.detect({ apiVersion: 'audit.k8s.io/v1', kind: 'Event' })).toBe(false);
  });

  it('AssumeRole: a use of the caller key and a mint of the session key', () => {
    const time = Date.parse('2019-10-02T22:12:29Z');
    const common = {
      source: 'cloudtrail',
      platform: 'aws',
      time,
      service: 'sts.amazonaws.com',
      operation: 'AssumeRole',
      network: { ip: '198.51.100.23' },
      user_agent: 'aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/sts.assume-role',
      outcome: 'success',
    };
    expect(run(load('sts-assume-role.json'))).toEqual([
      {
        ...common,
        event_id: 'cloudtrail:e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b:use',
        action: 'use',
        token: { fp: fp(CALLER_KEY), kind: 'aws_access_key', hint: 'AKIA' },
        issuer: CALLER_ARN,
      },
      {
        ...common,
        event_id: 'cloudtrail:e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b:mint',
        action: 'mint',
        token: { fp: fp('ASIAZ7EXAMPLEMINTED1'), kind: 'sts_session', hint: 'ASIA' },
        parent_fp: fp(CALLER_KEY),
        issuer: `arn:aws:iam::${ACCT}:role/ci-deployer`,
        minted_by: CALLER_ARN,
        authority: 'sts.amazonaws.com',
        subject: 'deploy-2019-10-02',
        issued_at: time,
        // CloudTrail's "Oct 2, 2019 11:12:29 PM" (UTC)
        expires_at: Date.UTC(2019, 9, 2, 23, 12, 29),
      },
    ]);
  });

  it('a failed AssumeRole is a failed use and no mint', () => {
    const events = run(load('sts-assume-role-denied.json'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_id: 'cloudtrail:0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d',
      action: 'use',
      outcome: 'failure',
      token: { fp: fp(CALLER_KEY), kind: 'aws_access_key' },
    });
  });

  it('EC2 instance-role session: issuer is the role, workload is the instance', () => {
    expect(run(load('ec2-instance-role-call.json'))).toEqual([
      {
        event_id: 'cloudtrail:b7c6d5e4-f3a2-4b1c-9d8e-7f6a5b4c3d2e',
        source: 'cloudtrail',
        platform: 'aws',
        action: 'use',
        time: Date.parse('2024-03-11T09:41:07Z'),
        token: { fp: fp('ASIAEXAMPLEEC2ROLE01'), kind: 'sts_session', hint: 'ASIA' },
        issuer: `arn:aws:iam::${ACCT}:role/web-tier`,
        subject: 'i-0a1b2c3d4e5f67890',
        workload: { kind: 'ec2_instance', id: 'i-0a1b2c3d4e5f67890' },
        service: 'secretsmanager.amazonaws.com',
        operation: 'GetSecretValue',
        network: { ip: '203.0.113.77', label: 'vpce-0123456789abcdef0' },
        user_agent: 'aws-sdk-java/2.25.6 Linux/5.10.213 OpenJDK_64-Bit_Server_VM/17.0.10',
        outcome: 'success',
      },
    ]);
  });

  it('a service-principal source address goes to network.label, not network.ip', () => {
    const [e] = run(load('service-invoked-call.json'));
    expect(e?.network).toEqual({ label: 'cloudformation.amazonaws.com' });
    expect(e?.issuer).toBe(`arn:aws:iam::${ACCT}:role/cfn-exec`);
    expect(e?.workload).toBeUndefined();
  });

  it('CreateAccessKey mints a long-term key for the named user', () => {
    const events = run(load('iam-create-access-key.json'));
    expect(events.map((e) => e.action)).toEqual(['use', 'mint']);
    expect(events[1]).toEqual({
      event_id: 'cloudtrail:d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f7a:mint',
      source: 'cloudtrail',
      platform: 'aws',
      action: 'mint',
      time: Date.parse('2024-06-01T10:05:44Z'),
      token: { fp: fp('AKIAEXAMPLENEWKEY001'), kind: 'aws_access_key', hint: 'AKIA' },
      parent_fp: fp('ASIAEXAMPLEADMINSSO3'),
      issuer: `arn:aws:iam::${ACCT}:user/backup-agent`,
      minted_by: `arn:aws:sts::${ACCT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com`,
      authority: 'iam.amazonaws.com',
      issued_at: Date.parse('2024-06-01T10:05:44Z'),
      service: 'iam.amazonaws.com',
      operation: 'CreateAccessKey',
      network: { ip: '192.0.2.44' },
      user_agent: 'aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0',
      outcome: 'success',
    });
    expect(events[0]?.subject).toBe('alice@example.com');
  });

  it('DeleteAccessKey and UpdateAccessKey Status=Inactive revoke the key', () => {
    const del = run(load('iam-delete-access-key.json'));
    expect(del.map((e) => e.action)).toEqual(['use', 'revoke']);
    expect(del[1]).toMatchObject({
      event_id: 'cloudtrail:e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a8b:revoke',
      token: { fp: fp('AKIAEXAMPLENEWKEY001'), kind: 'aws_access_key', hint: 'AKIA' },
      issuer: `arn:aws:iam::${ACCT}:user/backup-agent`,
      minted_by: CALLER_ARN,
    });
    const upd = run(load('iam-update-access-key-inactive.json'));
    expect(upd[1]).toMatchObject({
      action: 'revoke',
      token: { fp: fp('AKIAEXAMPLEOLDKEY002') },
      // no userName: the caller's own key
      issuer: CALLER_ARN,
    });
    const reactivate = load('iam-update-access-key-inactive.json');
    (reactivate.requestParameters as Record<string, unknown>).status = 'Active';
    expect(run(reactivate).map((e) => e.action)).toEqual(['use']);
  });

  it('AssumeRoleWithWebIdentity from GitHub Actions: a mint only, bound to the repo and ref, subject = the OIDC subject', () => {
    const events = run(load('sts-assume-role-with-web-identity-github.json'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_id: 'cloudtrail:a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d',
      action: 'mint',
      token: { fp: fp('ASIAEXAMPLEGHAOIDC04'), kind: 'sts_session', hint: 'ASIA' },
      issuer: `arn:aws:iam::${ACCT}:role/gha-payments-deploy`,
      minted_by: `arn:aws:iam::${ACCT}:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:repo:example-org/payments:ref:refs/heads/main`,
      subject: 'repo:example-org/payments:ref:refs/heads/main',
      audience: ['sts.amazonaws.com'],
      workload: { kind: 'ci_oidc', id: 'example-org/payments:ref:refs/heads/main' },
      expires_at: Date.UTC(2024, 6, 15, 13, 0, 5),
    });
    expect(events[0]?.parent_fp).toBeUndefined();
  });

  it('a GitHub environment subject names repo and environment; other web identities get no CI workload', () => {
    const env = load('sts-assume-role-with-web-identity-github.json');
    (env.responseElements as Record<string, unknown>).subjectFromWebIdentityToken = 'repo:example-org/payments:environment:production';
    expect(run(env)[0]).toMatchObject({
      subject: 'repo:example-org/payments:environment:production',
      workload: { kind: 'ci_oidc', id: 'example-org/payments:environment:production' },
    });
    const mobile = load('sts-assume-role-with-web-identity-github.json');
    const resp = mobile.responseElements as Record<string, unknown>;
    resp.provider = 'cognito-identity.amazonaws.com';
    resp.subjectFromWebIdentityToken = 'us-east-1:0f1e2d3c-4b5a-4697-8877-665544332211';
    mobile.userIdentity = { type: 'WebIdentityUser', principalId: 'cognito-identity.amazonaws.com:us-east-1:0f1e2d3c', userName: 'us-east-1:0f1e2d3c', identityProvider: 'cognito-identity.amazonaws.com' };
    const [e] = run(mobile);
    expect(e?.workload).toBeUndefined();
    expect(e?.subject).toBe('GitHubActions');
  });

  it('AttachUserPolicy AWSCompromisedKeyQuarantineV2: a reuse signal keyed by the quarantined user', () => {
    const events = run(load('iam-attach-user-policy-quarantine.json'));
    expect(events.map((e) => e.action)).toEqual(['use', 'reuse_signal']);
    const userArn = `arn:aws:iam::${ACCT}:user/backup-agent`;
    expect(events[1]).toEqual({
      event_id: 'cloudtrail:f0e1d2c3-b4a5-4968-8776-655443322110:reuse_signal',
      source: 'cloudtrail',
      platform: 'aws',
      time: Date.parse('2024-09-03T08:01:42Z'),
      service: 'iam.amazonaws.com',
      operation: 'AttachUserPolicy',
      network: { ip: '203.0.113.9' },
      user_agent: expect.stringContaining('command/iam.attach-user-policy') as unknown as string,
      outcome: 'success',
      action: 'reuse_signal',
      token: { fp: ctx.fingerprint('aws:iam_user', userArn), kind: 'aws_access_key' },
      issuer: userArn,
      authority: 'iam.amazonaws.com',
      signal: 'AWSCompromisedKeyQuarantineV2',
    });
    // token_replay raises its vendor_reuse_signal alert on it
    const alerts = feedDetector(tokenReplay.create(tokenReplay.config.parse({})), events);
    expect(alerts.map((a) => a.kind)).toEqual(['vendor_reuse_signal']);
    expect(alerts[0]?.summary).toContain('AWSCompromisedKeyQuarantineV2');
  });

  it('other managed policies, the V3 name and a failed attach: only V1/V2/V3 quarantine on success signals', () => {
    const other = load('iam-attach-user-policy-quarantine.json');
    (other.requestParameters as Record<string, unknown>).policyArn = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
    expect(run(other).map((e) => e.action)).toEqual(['use']);
    const lookalike = load('iam-attach-user-policy-quarantine.json');
    (lookalike.requestParameters as Record<string, unknown>).policyArn = `arn:aws:iam::${ACCT}:policy/AWSCompromisedKeyQuarantineV2`;
    expect(run(lookalike).map((e) => e.action)).toEqual(['use']);
    const v3 = load('iam-attach-user-policy-quarantine.json');
    (v3.requestParameters as Record<string, unknown>).policyArn = 'arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3';
    expect(run(v3)[1]?.signal).toBe('AWSCompromisedKeyQuarantineV3');
    const v1 = load('iam-attach-user-policy-quarantine.json');
    (v1.requestParameters as Record<string, unknown>).policyArn = 'arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine';
    expect(run(v1)[1]?.signal).toBe('AWSCompromisedKeyQuarantine');
    const denied = { ...load('iam-attach-user-policy-quarantine.json'), errorCode: 'AccessDenied', errorMessage: 'not authorized' };
    expect(run(denied).map((e) => e.action)).toEqual(['use']);
  });

  it('records without a credential validate and normalize to nothing', () => {
    expect(run(load('service-event-without-identity-type.json'))).toEqual([]);
    expect(run(load('service-event-without-user-identity.json'))).toEqual([]);
    expect(run(load('aws-service-principal-call.json'))).toEqual([]);
    // only a service event may omit userIdentity
    const apiCall = { ...load('service-event-without-user-identity.json'), eventType: 'AwsApiCall' };
    expect(cloudtrail.schema.safeParse(apiCall).success).toBe(false);
  });

  it('GetSessionToken: the session belongs to the calling user; IPv6 source stays an ip', () => {
    const events = run(load('sts-get-session-token.json'));
    expect(events[1]).toMatchObject({
      action: 'mint',
      token: { fp: fp('ASIAEXAMPLESESSION05'), kind: 'sts_session' },
      parent_fp: fp(CALLER_KEY),
      issuer: CALLER_ARN,
      minted_by: CALLER_ARN,
      expires_at: Date.UTC(2024, 7, 1, 18, 0, 0),
      network: { ip: '2001:db8::1f' },
    });
  });

  it('AssumeRoleWithSAML and GetFederationToken are mints too', () => {
    const saml = load('sts-assume-role.json');
    saml.eventName = 'AssumeRoleWithSAML';
    saml.userIdentity = { type: 'SAMLUser', principalId: 'EXAMPLEidp/jdoe', userName: 'jdoe', identityProvider: 'EXAMPLEidp' };
    saml.requestParameters = { roleArn: `arn:aws:iam::${ACCT}:role/sso-readonly`, principalArn: `arn:aws:iam::${ACCT}:saml-provider/EXAMPLEidp` };
    const samlEvents = run(saml);
    expect(samlEvents).toHaveLength(1);
    expect(samlEvents[0]).toMatchObject({
      action: 'mint',
      issuer: `arn:aws:iam::${ACCT}:role/sso-readonly`,
      minted_by: 'EXAMPLEidp/jdoe',
      // no roleSessionName in a SAML request: the session name from the assumed-role arn
      subject: 'deploy-2019-10-02',
    });

    const fed = load('sts-assume-role.json');
    fed.eventName = 'GetFederationToken';
    fed.requestParameters = { name: 'contractor-7', durationSeconds: 3600 };
    const fedEvents = run(fed);
    expect(fedEvents.map((e) => e.action)).toEqual(['use', 'mint']);
    expect(fedEvents[1]).toMatchObject({ issuer: CALLER_ARN, subject: 'contractor-7', parent_fp: fp(CALLER_KEY) });
  });

  it('a service-invoked AssumeRole (empty caller) mints without a use; zone-less time is UTC', () => {
    const events = run(load('lambda-service-assume-role.json'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_id: 'cloudtrail:c9d0e1f2-a3b4-4c5d-8e6f-7a8b9c0d1e2f',
      action: 'mint',
      time: Date.UTC(2024, 5, 2, 20, 27, 12),
      minted_by: 'lambda.amazonaws.com',
      issuer: `arn:aws:iam::${ACCT}:role/orders-fn-role`,
      network: { label: 'lambda.amazonaws.com' },
    });
  });

  it('an empty userIdentity.accessKeyId produces no use', () => {
    const raw = load('ec2-instance-role-call.json');
    (raw.userIdentity as Record<string, unknown>).accessKeyId = '';
    expect(run(raw)).toEqual([]);
    delete (raw.userIdentity as Record<string, unknown>).accessKeyId;
    expect(run(raw)).toEqual([]);
  });

  it('ConsoleLogin carries no token', () => {
    expect(run(load('console-login.json'))).toEqual([]);
  });

  it.each([
    ['invalid-missing-event-time.json', 'eventTime'],
    ['invalid-redacted-key.json', 'userIdentity.accessKeyId'],
    ['invalid-assume-role-without-credentials.json', 'responseElements.credentials'],
    ['invalid-missing-user-identity.json', 'userIdentity'],
    ['invalid-quarantine-without-user-name.json', 'requestParameters.userName'],
  ])('rejects partial record %s at %s', (name, path) => {
    const r = cloudtrail.schema.safeParse(load(name));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('rejects an unparseable eventTime and an unparseable STS expiration', () => {
    const badTime = { ...load('sts-assume-role.json'), eventTime: 'yesterday' };
    expect(cloudtrail.schema.safeParse(badTime).success).toBe(false);
    const badExpiry = load('sts-assume-role.json');
    ((badExpiry.responseElements as Record<string, Record<string, unknown>>).credentials!).expiration = 'soon';
    const r = cloudtrail.schema.safeParse(badExpiry);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path.join('.')).toBe('responseElements.credentials.expiration');
  });

  it('no raw access key id, session token or secret reaches the output', () => {
    const secrets = new Set<string>();
    const collect = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (['accessKeyId', 'sessionToken', 'secretAccessKey'].includes(k) && typeof x === 'string' && x.length > 0) secrets.add(x);
          collect(x);
        }
      }
    };
    const files = readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('invalid-'));
    let output = '';
    for (const f of files) {
      const raw = load(f);
      collect(raw);
      output += JSON.stringify(run(raw));
    }
    expect(secrets.size).toBeGreaterThanOrEqual(10);
    expect(secrets.has('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')).toBe(true);
    for (const s of secrets) expect(output).not.toContain(s);
  });
});
