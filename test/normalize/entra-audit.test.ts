import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { entraAudit } from '../../src/normalize/entra-audit.js';
import { entraSignin } from '../../src/normalize/entra-signin.js';
import { entraGraph } from '../../src/normalize/entra-graph.js';
import { FORMATS } from '../../src/normalize/index.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const DIR = fileURLToPath(new URL('../fixtures/vendors/entra_audit/', import.meta.url));
const VENDORS = fileURLToPath(new URL('../fixtures/vendors/', import.meta.url));
const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const load = (name: string, dir = DIR): Record<string, unknown> => JSON.parse(readFileSync(dir + name, 'utf8')) as Record<string, unknown>;
const credFp = (keyId: string): string => ctx.fingerprint('entra:app_credential', keyId);

const TENANT = '8f3e2d1c-0b9a-4876-9543-210fedcba987';
const SP = '2b7f3c1a-1111-4aaa-8bbb-000000000001';
const GRAPH_SP = '3c8e4d2b-2222-4bbb-9ccc-000000000002';
const ADMIN = 'admin@contoso.example';

function run(raw: unknown): TokenEvent[] {
  const parsed = entraAudit.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected fixture: ${parsed.error.message}`);
  const events = entraAudit.normalize(parsed.data, ctx);
  for (const e of events) TokenEvent.parse(e);
  return events;
}

describe('entra_audit format', () => {
  it('detects every audit shape; no other format claims them, and it claims no other format\'s fixture', () => {
    const others = FORMATS.filter((f) => f.id !== 'entra_audit');
    for (const f of readdirSync(DIR)) {
      const raw = load(f);
      expect(entraAudit.detect(raw), f).toBe(true);
      expect(others.filter((o) => o.detect(raw)).map((o) => o.id), f).toEqual([]);
    }
    for (const dir of readdirSync(VENDORS).filter((d) => d !== 'entra_audit')) {
      for (const f of readdirSync(`${VENDORS}${dir}`).filter((n) => n.endsWith('.json'))) {
        expect(entraAudit.detect(load(f, `${VENDORS}${dir}/`)), `${dir}/${f}`).toBe(false);
      }
    }
    // the sign-in and Graph activity plugins stay disjoint from audit records, and vice versa
    expect(entraSignin.detect({ category: 'AuditLogs', properties: { activityDateTime: 'x' } })).toBe(false);
    expect(entraGraph.detect({ category: 'AuditLogs', properties: { activityDateTime: 'x' } })).toBe(false);
    expect(entraAudit.detect({ category: 'SignInLogs', properties: { createdDateTime: 'x', id: 'y' } })).toBe(false);
    expect(entraAudit.detect({ createdDateTime: 'x', uniqueTokenIdentifier: 'y' })).toBe(false);
  });

  it('Add service principal credentials: a mint of the app secret, named by its KeyIdentifier', () => {
    expect(run(load('graph-add-service-principal-credentials.json'))).toEqual([
      {
        event_id: 'entra_audit:Directory_3f9a1c2e-7b6d-4e5f-8a9b-0c1d2e3f4a5b_KTXQ9_112233445',
        source: 'entra_audit',
        platform: 'azure',
        action: 'mint',
        time: Date.parse('2024-05-01T10:00:00.123Z'),
        token: { fp: credFp('c7890f61-2f17-478f-bc60-60fd19c09588'), kind: 'app_secret', hint: 'Password' },
        issuer: SP,
        minted_by: ADMIN,
        network: { ip: '203.0.113.18' },
        user_agent: expect.stringContaining('Edg/124.0.0.0') as unknown as string,
        operation: 'Add service principal credentials',
        outcome: 'success',
        issued_at: Date.parse('2024-05-01T10:00:00.123Z'),
      },
    ]);
  });

  it('Remove service principal credentials revokes the same credential', () => {
    const [e] = run(load('graph-remove-service-principal-credentials.json'));
    expect(e).toMatchObject({ action: 'revoke', token: { fp: credFp('c7890f61-2f17-478f-bc60-60fd19c09588'), kind: 'app_secret' }, issuer: SP, minted_by: ADMIN });
    expect(e?.issued_at).toBeUndefined();
  });

  it('Update application – Certificates and secrets management (Azure Monitor): only the added certificate is minted', () => {
    expect(run(load('monitor-update-application-certificates-and-secrets.json'))).toEqual([
      {
        event_id: 'entra_audit:Directory_1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d_9ZYXW_556677889',
        source: 'entra_audit',
        platform: 'azure',
        action: 'mint',
        time: Date.parse('2024-05-02T08:15:30Z'),
        token: { fp: credFp('0a6d4e2b-9c1f-4b3a-8e7d-112233445566'), kind: 'app_certificate', hint: 'AsymmetricX509Cert' },
        issuer: '6a1b2c3d-5555-4eee-9fff-000000000006',
        // an app initiator: its service principal
        minted_by: '7e6d5c4b-3a29-4817-9605-000000000098',
        authority: `entra:${TENANT}`,
        network: { ip: '198.51.100.40' },
        user_agent: 'azure-sdk-for-go/68.0.0 (go1.22.3; linux)',
        operation: 'Update application – Certificates and secrets management',
        outcome: 'success',
        issued_at: Date.parse('2024-05-02T08:15:30Z'),
      },
    ]);
  });

  it('passwordCredentials / keyCredentials objects: key ids, kinds and end dates; a failed change mints nothing', () => {
    const raw = load('graph-add-service-principal-credentials.json');
    const target = (raw.targetResources as Record<string, unknown>[])[0]!;
    target.modifiedProperties = [
      { displayName: 'passwordCredentials', oldValue: '[]', newValue: JSON.stringify([{ keyId: 'aaaa1111-2222-4333-8444-555566667777', endDateTime: '2026-05-01T00:00:00Z', displayName: 'ci' }]) },
      { displayName: 'keyCredentials', oldValue: JSON.stringify([{ keyId: 'bbbb1111-2222-4333-8444-555566667777', type: 'AsymmetricX509Cert' }]), newValue: '[]' },
    ];
    const events = run(raw);
    expect(events.map((e) => [e.action, e.token.kind, e.token.fp, e.expires_at])).toEqual([
      ['mint', 'app_secret', credFp('aaaa1111-2222-4333-8444-555566667777'), Date.parse('2026-05-01T00:00:00Z')],
      ['revoke', 'app_certificate', credFp('bbbb1111-2222-4333-8444-555566667777'), undefined],
    ]);
    expect(events.map((e) => e.event_id)).toEqual([0, 1].map((i) => `entra_audit:Directory_3f9a1c2e-7b6d-4e5f-8a9b-0c1d2e3f4a5b_KTXQ9_112233445:${i}`));
    expect(run({ ...load('graph-add-service-principal-credentials.json'), result: 'failure' })).toEqual([]);
  });

  it('Consent to application: a grant mint with the consented scopes for the client service principal', () => {
    const [e] = run(load('monitor-consent-to-application.json'));
    expect(e).toMatchObject({
      event_id: 'entra_audit:Directory_5c4b3a29-1807-4f6e-9d5c-4b3a29180706_ABCD1_998877665',
      action: 'mint',
      token: { fp: ctx.fingerprint('entra:grant', `delegated_grant|${SP}|${GRAPH_SP}`), kind: 'unknown', hint: 'delegated_grant' },
      issuer: SP,
      minted_by: ADMIN,
      authority: `entra:${TENANT}`,
      scopes_granted: ['User.Read', 'Mail.ReadWrite', 'offline_access'],
      outcome: 'success',
    });
  });

  it('a consent to two resources is one grant per resource', () => {
    const raw = load('monitor-consent-to-application.json');
    const props = raw.properties as { targetResources: { modifiedProperties: { displayName: string; newValue: string }[] }[] };
    const perm = props.targetResources[0]!.modifiedProperties.find((p) => p.displayName === 'ConsentAction.Permissions')!;
    const SHAREPOINT_SP = '9d8c7b6a-7777-4eee-8fff-000000000077';
    perm.newValue = JSON.stringify(
      `[] => [[Id: g1, ClientId: ${SP}, PrincipalId: , ResourceId: ${GRAPH_SP}, ConsentType: AllPrincipals, Scope:  User.Read, CreatedDateTime: , LastModifiedDateTime ], ` +
        `[Id: g2, ClientId: ${SP}, PrincipalId: , ResourceId: ${SHAREPOINT_SP}, ConsentType: AllPrincipals, Scope:  Sites.FullControl.All, CreatedDateTime: , LastModifiedDateTime ]]; `,
    );
    const events = run(raw);
    expect(events.map((e) => [e.token.fp, e.scopes_granted, e.event_id.endsWith(':0') || e.event_id.endsWith(':1')])).toEqual([
      [ctx.fingerprint('entra:grant', `delegated_grant|${SP}|${GRAPH_SP}`), ['User.Read'], true],
      [ctx.fingerprint('entra:grant', `delegated_grant|${SP}|${SHAREPOINT_SP}`), ['Sites.FullControl.All'], true],
    ]);
  });

  it('Add delegated permission grant is the same grant token as the consent; app role assignments grant the role value', () => {
    const [consent] = run(load('monitor-consent-to-application.json'));
    const [delegated] = run(load('graph-add-delegated-permission-grant.json'));
    expect(delegated).toMatchObject({ action: 'mint', issuer: SP, scopes_granted: ['User.Read', 'Mail.ReadWrite', 'offline_access'] });
    expect(delegated?.token.fp).toBe(consent?.token.fp);
    const [role] = run(load('graph-add-app-role-assignment.json'));
    expect(role).toMatchObject({
      action: 'mint',
      token: { fp: ctx.fingerprint('entra:grant', `app_role_grant|${SP}|${GRAPH_SP}`), kind: 'unknown', hint: 'app_role_grant' },
      issuer: SP,
      scopes_granted: ['Mail.ReadWrite'],
      operation: 'Add app role assignment to service principal',
    });
  });

  it('a refused consent is a request for scopes with an empty grant (probing)', () => {
    const [e] = run(load('graph-consent-to-application-failure.json'));
    expect(e).toMatchObject({
      action: 'mint',
      outcome: 'failure',
      issuer: '8a7b6c5d-9999-4aaa-8bbb-000000000010',
      minted_by: 'bob@contoso.example',
      scopes_requested: ['Mail.Read', 'Files.ReadWrite.All', 'offline_access'],
      scopes_granted: [],
    });
  });

  it('audit records without a credential or grant are valid and carry no token (Monitor and Log Analytics shapes)', () => {
    expect(run(load('monitor-add-member-to-role.json'))).toEqual([]);
    expect(run(load('log-analytics-update-user.json'))).toEqual([]);
  });

  it('the Log Analytics shape is read: directory tenant, not the workspace', () => {
    const la = load('log-analytics-update-user.json');
    la.ActivityDisplayName = 'Add service principal credentials';
    la.OperationName = 'Add service principal credentials';
    la.TargetResources = (load('graph-add-service-principal-credentials.json').targetResources as unknown[]);
    const [e] = run(la);
    expect(e).toMatchObject({ action: 'mint', authority: `entra:${TENANT}`, time: Date.parse('2024-05-08T07:00:00Z') });
  });

  it.each([
    ['invalid-credentials-without-key-identifier.json', 'targetResources'],
    ['invalid-missing-activity-time.json', 'activityDateTime'],
  ])('rejects %s at %s', (name, path) => {
    const r = entraAudit.schema.safeParse(load(name));
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('records without an id get a deterministic content-hash event id', () => {
    const raw = load('graph-add-service-principal-credentials.json');
    delete raw.id;
    const a = run(raw);
    const b = run(structuredClone(raw));
    expect(a[0]?.event_id).toMatch(/^entra_audit:h[0-9a-f]{32}$/);
    expect(a[0]?.event_id).toBe(b[0]?.event_id);
  });

  it('no key id or credential display name reaches the output', () => {
    const out = readdirSync(DIR).filter((f) => !f.startsWith('invalid-')).map((f) => JSON.stringify(run(load(f)))).join('\n');
    for (const s of ['c7890f61-2f17-478f-bc60-60fd19c09588', '0a6d4e2b-9c1f-4b3a-8e7d-112233445566', 'sync-2024', 'CN=payroll-sync', 'Kz9fXEXAMPLEgrantid0001']) {
      expect(out).not.toContain(s);
    }
  });
});
