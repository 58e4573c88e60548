import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gcpAudit } from '../../src/normalize/gcp-audit.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const DIR = fileURLToPath(new URL('../fixtures/vendors/gcp_audit/', import.meta.url));
const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(DIR + name, 'utf8')) as Record<string, unknown>;

function run(raw: unknown): TokenEvent[] {
  const parsed = gcpAudit.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected fixture: ${parsed.error.message}`);
  const events = gcpAudit.normalize(parsed.data, ctx);
  for (const e of events) TokenEvent.parse(e);
  return events;
}

const SA = 'backup-agent@prod-proj.iam.gserviceaccount.com';
const KEY_ID = '3f7a2c9e5b1d4a6f8e0c2b4d6f8a0c2e4b6d8f0a';
const KEY_FP = ctx.fingerprint('gcp_sa_key', KEY_ID);

describe('gcp_audit format', () => {
  it('detects audit LogEntries', () => {
    expect(gcpAudit.detect(load('sa-key-storage-read.json'))).toBe(true);
    expect(gcpAudit.detect({ logName: 'projects/p/logs/cloudaudit.googleapis.com%2Factivity' })).toBe(true);
    expect(gcpAudit.detect({ logName: 'projects/p/logs/stdout', jsonPayload: {} })).toBe(false);
  });

  it('GenerateAccessToken via delegation: issuer is the target account, minted_by the original principal', () => {
    const time = Date.parse('2024-09-10T08:15:30.123Z');
    const raw = load('generate-access-token-delegated.json');
    expect(run(raw)).toEqual([
      {
        event_id: 'gcp_audit:1q2w3e4r5t6y',
        source: 'gcp_audit',
        platform: 'gcp',
        action: 'mint',
        time,
        token: {
          fp: ctx.fingerprint('gcp_mint', 'projects/prod-proj/logs/cloudaudit.googleapis.com%2Fdata_access|1q2w3e4r5t6y|2024-09-10T08:15:30.123456789Z'),
          kind: 'gcp_access',
        },
        issuer: 'deployer@prod-proj.iam.gserviceaccount.com',
        minted_by: 'alice@example.com',
        authority: 'iamcredentials.googleapis.com',
        scopes_requested: ['https://www.googleapis.com/auth/cloud-platform'],
        issued_at: time,
        expires_at: time + 1800_000,
        service: 'iamcredentials.googleapis.com',
        operation: 'GenerateAccessToken',
        network: { ip: '203.0.113.10' },
        user_agent: 'google-cloud-sdk gcloud/480.0.0 command/gcloud.auth.print-access-token',
        outcome: 'success',
      },
    ]);
  });

  it('SignJwt authenticated by a key: a use of the key and a mint whose parent is the key', () => {
    const events = run(load('sign-jwt-with-sa-key.json'));
    expect(events.map((e) => [e.event_id, e.action, e.token.kind])).toEqual([
      ['gcp_audit:9o8i7u6y5t4r:use', 'use', 'gcp_sa_key'],
      ['gcp_audit:9o8i7u6y5t4r:mint', 'mint', 'id_token'],
    ]);
    expect(events[0]).toMatchObject({ token: { fp: KEY_FP }, issuer: SA, network: { ip: '198.51.100.77' } });
    expect(events[1]).toMatchObject({ parent_fp: KEY_FP, issuer: SA, minted_by: SA });
    expect(events[1]?.expires_at).toBeUndefined();
  });

  it('GenerateIdToken: audience, one-hour expiry, internal caller as a label', () => {
    const [e] = run(load('generate-id-token.json'));
    const time = Date.parse('2024-09-10T10:30:00Z');
    expect(e).toMatchObject({
      action: 'mint',
      token: { kind: 'id_token' },
      issuer: 'invoker@prod-proj.iam.gserviceaccount.com',
      minted_by: 'scheduler@prod-proj.iam.gserviceaccount.com',
      audience: ['https://orders-abc123-uc.a.run.app'],
      expires_at: time + 3600_000,
      network: { label: 'private' },
    });
  });

  it('CreateServiceAccountKey mints the key that later calls use; DeleteServiceAccountKey revokes it', () => {
    const [mint] = run(load('create-service-account-key.json'));
    expect(mint).toEqual({
      event_id: 'gcp_audit:-a1b2c3d4e5f6',
      source: 'gcp_audit',
      platform: 'gcp',
      action: 'mint',
      time: Date.parse('2024-09-09T16:45:12.004Z'),
      token: { fp: KEY_FP, kind: 'gcp_sa_key' },
      issuer: SA,
      minted_by: 'alice@example.com',
      authority: 'iam.googleapis.com',
      issued_at: Date.parse('2024-09-09T16:45:12.004Z'),
      // valid_before_time 9999-12-31 means "never expires": no expires_at
      service: 'iam.googleapis.com',
      operation: 'google.iam.admin.v1.CreateServiceAccountKey',
      network: { ip: '192.0.2.15' },
      user_agent: expect.stringMatching(/^google-cloud-sdk gcloud\/480\.0\.0 /),
      outcome: 'success',
    });
    const [use] = run(load('sa-key-storage-read.json'));
    expect(use).toEqual({
      event_id: 'gcp_audit:1abc2def3ghi',
      source: 'gcp_audit',
      platform: 'gcp',
      action: 'use',
      time: Date.parse('2024-09-10T11:22:33.444Z'),
      token: { fp: KEY_FP, kind: 'gcp_sa_key' },
      issuer: SA,
      service: 'storage.googleapis.com',
      operation: 'storage.objects.get',
      network: { ip: '185.220.101.34' },
      user_agent: 'gcloud-python/2.16.0 gl-python/3.12.2 grpc/1.62.0 gax/2.17.1 gccl/2.16.0,gzip(gfe)',
      outcome: 'success',
    });
    const [revoke] = run(load('delete-service-account-key.json'));
    expect(revoke).toMatchObject({ action: 'revoke', token: { fp: KEY_FP, kind: 'gcp_sa_key' }, issuer: SA, minted_by: 'alice@example.com' });
  });

  it('a finite key expiry is kept', () => {
    const raw = load('create-service-account-key.json');
    const response = (raw.protoPayload as Record<string, Record<string, unknown>>).response!;
    response.valid_before_time = { seconds: 1757436312 };
    expect(run(raw)[0]?.expires_at).toBe(1757436312_000);
  });

  it('status.code != 0: a failed use and no mint', () => {
    const events = run(load('sa-key-denied-call.json'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event_id: 'gcp_audit:4jkl5mno6pqr', action: 'use', outcome: 'failure', token: { fp: KEY_FP } });
  });

  it('a user call without a service-account key yields nothing', () => {
    expect(run(load('user-compute-call.json'))).toEqual([]);
  });

  it('a zone-less exported timestamp is UTC', () => {
    const raw = { ...load('sa-key-storage-read.json'), timestamp: '2024-09-10 11:22:33.444555000' };
    expect(run(raw)[0]?.time).toBe(Date.parse('2024-09-10T11:22:33.444Z'));
  });

  it.each([
    ['invalid-missing-timestamp.json', 'timestamp'],
    ['invalid-missing-method-name.json', 'protoPayload.methodName'],
    ['invalid-not-audit-log.json', 'protoPayload.@type'],
    ['invalid-create-key-without-key-name.json', 'protoPayload.response.name'],
  ])('rejects %s at %s', (name, path) => {
    const r = gcpAudit.schema.safeParse(load(name));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('no key id or key name reaches the output', () => {
    let output = '';
    for (const f of readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('invalid-'))) output += JSON.stringify(run(load(f)));
    expect(output).toContain(KEY_FP);
    expect(output).not.toContain(KEY_ID);
    expect(output).not.toContain('/keys/');
  });
});
