import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { k8sAudit } from '../../src/normalize/k8s-audit.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const DIR = fileURLToPath(new URL('../fixtures/vendors/k8s_audit/', import.meta.url));
const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const load = (name: string): Record<string, unknown> => JSON.parse(readFileSync(DIR + name, 'utf8')) as Record<string, unknown>;

function run(raw: unknown): TokenEvent[] {
  const parsed = k8sAudit.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected fixture: ${parsed.error.message}`);
  const events = k8sAudit.normalize(parsed.data, ctx);
  for (const e of events) TokenEvent.parse(e);
  return events;
}

const SA = 'system:serviceaccount:payments:payments-api';
const POD = 'payments-api-7d9f8b6c5-x2kqz';
const JTI = '6c2f0a4e-91b7-4d3a-8f5e-2b1c7d9e0a34';
const JTI_FP = ctx.fingerprint('k8s_sa_token', `JTI=${JTI}`);

describe('k8s_audit format', () => {
  it('detects audit.k8s.io events', () => {
    expect(k8sAudit.detect(load('human-user.json'))).toBe(true);
    expect(k8sAudit.detect({ apiVersion: 'v1', kind: 'Event' })).toBe(false);
  });

  it('a service-account request is a use of the token named by its credential id', () => {
    expect(run(load('sa-list-secrets-with-jti.json'))).toEqual([
      {
        event_id: 'k8s_audit:3f4e5d6c-7b8a-4998-8a7b-6c5d4e3f2a1b',
        source: 'k8s_audit',
        platform: 'k8s',
        action: 'use',
        time: Date.parse('2024-10-03T08:05:00.101Z'),
        token: { fp: JTI_FP, kind: 'k8s_sa_token' },
        issuer: SA,
        workload: { kind: 'k8s_pod', id: POD },
        service: 'kubernetes',
        operation: 'list secrets',
        network: { ip: '10.0.12.57' },
        user_agent: 'payments-api/1.4.2 (linux/amd64) kubernetes/client-go',
        outcome: 'success',
      },
    ]);
  });

  it('without a credential id the token identity is pod + service account', () => {
    const [e] = run(load('sa-pod-bound-no-jti.json'));
    expect(e?.token.fp).toBe(ctx.fingerprint('k8s_sa_token', `${SA}|pod:${POD}`));
    expect(e?.operation).toBe('get configmaps');
  });

  it('a legacy token (no pod, no jti) is the service account; 403 is a failure', () => {
    const [e] = run(load('sa-legacy-token-forbidden.json'));
    expect(e).toMatchObject({
      token: { fp: ctx.fingerprint('k8s_sa_token', 'system:serviceaccount:ci:deployer|legacy'), kind: 'k8s_sa_token' },
      issuer: 'system:serviceaccount:ci:deployer',
      outcome: 'failure',
      network: { ip: '198.51.100.201' },
    });
    expect(e?.workload).toBeUndefined();
  });

  it("a kubelet TokenRequest mints the token whose jti later uses report", () => {
    const time = Date.parse('2024-10-03T07:40:00Z');
    expect(run(load('token-request-by-kubelet.json'))).toEqual([
      {
        event_id: 'k8s_audit:6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f',
        source: 'k8s_audit',
        platform: 'k8s',
        action: 'mint',
        time,
        token: { fp: JTI_FP, kind: 'k8s_sa_token' },
        issuer: SA,
        minted_by: 'system:node:ip-10-0-12-34.ec2.internal',
        authority: 'https://kubernetes.default.svc.cluster.local',
        audience: ['https://kubernetes.default.svc.cluster.local'],
        workload: { kind: 'k8s_pod', id: POD },
        issued_at: time,
        expires_at: Date.parse('2024-10-03T08:40:07Z'),
        service: 'kubernetes',
        operation: 'create serviceaccounts/token',
        network: { ip: '10.0.12.34' },
        user_agent: 'kubelet/v1.30.2 (linux/amd64) kubernetes/3968350',
        outcome: 'success',
      },
    ]);
  });

  it('a Metadata-level TokenRequest by a service account: a use and a mint with its own identity', () => {
    const events = run(load('token-request-metadata-level.json'));
    expect(events.map((e) => e.event_id)).toEqual([
      'k8s_audit:7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a:use',
      'k8s_audit:7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a:mint',
    ]);
    expect(events[1]).toMatchObject({
      action: 'mint',
      token: { fp: ctx.fingerprint('k8s_mint', '7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a'), kind: 'k8s_sa_token' },
      parent_fp: JTI_FP,
      issuer: 'system:serviceaccount:ci:deployer',
      minted_by: SA,
      authority: 'kubernetes',
    });
  });

  it('only the final stage counts; humans and nodes make no uses', () => {
    expect(run(load('request-received-stage.json'))).toEqual([]);
    expect(run(load('human-user.json'))).toEqual([]);
  });

  it.each([
    ['invalid-missing-request-received-timestamp.json', 'requestReceivedTimestamp'],
    ['invalid-missing-user.json', 'user'],
    ['invalid-wrong-kind.json', 'kind'],
  ])('rejects %s at %s', (name, path) => {
    const r = k8sAudit.schema.safeParse(load(name));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('the raw token and its jti never reach the output', () => {
    const kubelet = load('token-request-by-kubelet.json');
    const token = ((kubelet.responseObject as Record<string, Record<string, unknown>>).status!).token as string;
    expect(token.split('.')).toHaveLength(3);
    let output = '';
    for (const f of readdirSync(DIR).filter((f) => f.endsWith('.json') && !f.startsWith('invalid-'))) output += JSON.stringify(run(load(f)));
    expect(output).toContain(JTI_FP);
    for (const part of token.split('.')) expect(output).not.toContain(part);
    expect(output).not.toContain(JTI);
  });
});
