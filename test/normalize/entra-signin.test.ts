import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { entraSignin } from '../../src/normalize/entra-signin.js';
import { ENTRA_APP_CREDENTIAL_NAMESPACE, entraAudit } from '../../src/normalize/entra-audit.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { sha256Hex } from '../../src/core/hash.js';
import { TokenEvent } from '../../schemas/token-event.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const fixture = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`../fixtures/vendors/entra-signin/${name}.json`, import.meta.url), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(entraSignin.detect(raw)).toBe(true);
  const parsed = entraSignin.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = entraSignin.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

const TENANT = '6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const SP_UTI = 'Qm9ndXNVdGlGb3JUZXN0cw';
const SP_KEY_ID = '11112222-3333-4444-5555-666677778888';

describe('entra sign-in normalizer', () => {
  it('maps an Azure Monitor service-principal sign-in to an oauth_access mint and a use of the app credential it presented', () => {
    const eventId = `entra_signin:${sha256Hex(`b2c3d4e5-f607-4819-a2b3-c4d5e6f70819|${SP_UTI}`)}`;
    expect(run(fixture('service-principal-monitor'))).toEqual([
      {
        event_id: eventId,
        source: 'entra_signin',
        platform: 'azure',
        action: 'mint',
        time: Date.parse('2025-03-04T09:59:58.521Z'),
        token: { fp: ctx.fingerprint('entra:uti', SP_UTI), kind: 'oauth_access' },
        issuer: '3c4d5e6f-7081-4923-b4c5-d6e7f8091a2b',
        authority: `entra:${TENANT}`,
        audience: ['00000003-0000-0000-c000-000000000000'],
        service: 'Microsoft Graph',
        network: { ip: '20.50.60.70', asn: '8075' },
        outcome: 'success',
        operation: 'ServicePrincipalSignInLogs',
      },
      {
        // clientCredentialType clientAssertion: a certificate-signed assertion
        event_id: `${eventId}:credential`,
        source: 'entra_signin',
        platform: 'azure',
        action: 'use',
        time: Date.parse('2025-03-04T09:59:58.521Z'),
        token: { fp: ctx.fingerprint(ENTRA_APP_CREDENTIAL_NAMESPACE, SP_KEY_ID), kind: 'app_certificate' },
        issuer: '3c4d5e6f-7081-4923-b4c5-d6e7f8091a2b',
        authority: `entra:${TENANT}`,
        audience: ['00000003-0000-0000-c000-000000000000'],
        service: 'Microsoft Graph',
        network: { ip: '20.50.60.70', asn: '8075' },
        outcome: 'success',
        operation: 'ServicePrincipalSignInLogs',
      },
    ]);
  });

  it('ties an app secret minted in the audit log to its sign-ins: same fingerprint, kind app_secret', () => {
    const audit = JSON.parse(readFileSync(new URL('../fixtures/vendors/entra_audit/graph-add-service-principal-credentials.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    const parsedAudit = entraAudit.schema.safeParse(audit);
    if (!parsedAudit.success) throw new Error(parsedAudit.error.message);
    const [mint] = entraAudit.normalize(parsedAudit.data, ctx);
    expect(mint).toMatchObject({ action: 'mint', token: { kind: 'app_secret' } });

    const signIn = fixture('service-principal-monitor');
    // Entra writes the key id as the audit log's KeyIdentifier, sometimes in upper case
    signIn.properties.servicePrincipalCredentialKeyId = 'C7890F61-2F17-478F-BC60-60FD19C09588';
    signIn.properties.clientCredentialType = 'clientSecret';
    signIn.properties.status = { errorCode: 7000222, failureReason: 'The provided client secret keys are expired.' };
    const [, use] = run(signIn);
    expect(use).toMatchObject({ action: 'use', outcome: 'failure', token: { fp: mint!.token.fp, kind: 'app_secret' } });
  });

  it('adds no credential use without a key id, for federated / managed identity sign-ins, or for user sign-ins', () => {
    const none = fixture('service-principal-monitor');
    delete none.properties.servicePrincipalCredentialKeyId;
    expect(run(none).map((e) => e.action)).toEqual(['mint']);
    const federated = fixture('service-principal-monitor');
    federated.properties.clientCredentialType = 'federatedIdentityCredential';
    expect(run(federated)).toHaveLength(1);
    const user = fixture('user-signin-failure-monitor');
    user.properties.servicePrincipalCredentialKeyId = SP_KEY_ID;
    expect(run(user)).toHaveLength(1);
    // older rows without clientCredentialType: a thumbprint means a certificate, none a secret
    const cert = fixture('service-principal-monitor');
    delete cert.properties.clientCredentialType;
    cert.properties.servicePrincipalCredentialThumbprint = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678';
    expect(run(cert)[1]!.token.kind).toBe('app_certificate');
    cert.properties.servicePrincipalCredentialThumbprint = '';
    expect(run(cert)[1]!.token.kind).toBe('app_secret');
  });

  it('maps the Graph signIn resource shape (no envelope)', () => {
    const [e] = run(fixture('service-principal-graph-api'));
    expect(e).toEqual({
      event_id: `entra_signin:${sha256Hex('d4e5f607-1829-4a3b-9c4d-5e6f70819a2b|U2Vjb25kVXRpVGVzdFZhbA')}`,
      source: 'entra_signin',
      platform: 'azure',
      action: 'mint',
      time: Date.parse('2025-03-04T11:00:00Z'),
      token: { fp: ctx.fingerprint('entra:uti', 'U2Vjb25kVXRpVGVzdFZhbA'), kind: 'oauth_access' },
      issuer: '3c4d5e6f-7081-4923-b4c5-d6e7f8091a2b',
      authority: `entra:${TENANT}`,
      audience: ['cfa8b339-82a2-471a-a3c9-0fc0be7a4093'],
      service: 'Azure Key Vault',
      network: { ip: '20.50.60.71' },
      user_agent: 'azsdk-python-identity/1.15.0 Python/3.11.7 (Linux-6.5.0-x86_64)',
      outcome: 'success',
      operation: 'signIn',
    });
  });

  it('maps a failed user sign-in: issuer = UPN, outcome failure', () => {
    const [e] = run(fixture('user-signin-failure-monitor'));
    expect(e).toMatchObject({
      action: 'mint',
      outcome: 'failure',
      issuer: 'dana.lee@example.com',
      audience: ['797f4846-ba00-4fd7-ba43-dac1f8f63013'],
      network: { ip: '192.0.2.55', asn: '64501' },
      user_agent: 'python-requests/2.31.0',
    });
  });

  it('gives duplicate rows of one request the same event_id, distinct requests distinct ids', () => {
    const a = fixture('service-principal-monitor');
    const b = fixture('service-principal-monitor');
    b.time = '2025-03-04T10:00:09.0000000Z';
    b.properties.id = 'another-row-id-0001';
    b.properties.processingTimeInMilliseconds = 12;
    const c = fixture('service-principal-monitor');
    c.properties.uniqueTokenIdentifier = 'QW5vdGhlclRva2VuVXRp';
    expect(run(b)[0]!.event_id).toBe(run(a)[0]!.event_id);
    expect(run(c)[0]!.event_id).not.toBe(run(a)[0]!.event_id);
  });

  it('falls back to the sign-in id when there is no uniqueTokenIdentifier', () => {
    const raw = fixture('service-principal-graph-api');
    delete raw.uniqueTokenIdentifier;
    expect(run(raw)[0]!.token.fp).toBe(ctx.fingerprint('entra:signin', 'c7d8e9f0-a1b2-4c3d-8e4f-5a6b7c8d9e0f'));
  });

  it('accepts lowercased (data-lake) and PascalCase (Log Analytics) keys', () => {
    const raw = fixture('service-principal-monitor');
    const lowered = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
    expect(run(lowered)).toEqual(run(raw));
    const la = {
      TimeGenerated: '2025-03-04T11:00:00Z',
      Category: 'ServicePrincipalSignInLogs',
      ResourceId: `/tenants/${TENANT}/providers/Microsoft.aadiam`,
      ResourceIdentity: 'cfa8b339-82a2-471a-a3c9-0fc0be7a4093',
      AADTenantId: TENANT,
      TenantId: 'aaaabbbb-cccc-4ddd-8eee-ffff00001111',
      Id: 'c7d8e9f0-a1b2-4c3d-8e4f-5a6b7c8d9e0f',
      UniqueTokenIdentifier: 'U2Vjb25kVXRpVGVzdFZhbA',
      ServicePrincipalId: '3c4d5e6f-7081-4923-b4c5-d6e7f8091a2b',
      AppId: '9e8d7c6b-5a49-4837-a261-5f4e3d2c1b0a',
      IPAddress: '20.50.60.71',
      ResultType: '0',
    };
    expect(run(la)[0]).toMatchObject({
      token: { fp: ctx.fingerprint('entra:uti', 'U2Vjb25kVXRpVGVzdFZhbA') },
      issuer: '3c4d5e6f-7081-4923-b4c5-d6e7f8091a2b',
      authority: `entra:${TENANT}`,
      audience: ['cfa8b339-82a2-471a-a3c9-0fc0be7a4093'],
      network: { ip: '20.50.60.71' },
      outcome: 'success',
    });
  });

  it('rejects partial sign-ins and non-sign-in categories with a clear reason', () => {
    const noIds = fixture('service-principal-monitor');
    delete noIds.properties.id;
    delete noIds.properties.uniqueTokenIdentifier;
    const r1 = entraSignin.schema.safeParse(noIds);
    expect(r1.success).toBe(false);
    expect(r1.error!.issues[0]!.message).toMatch(/uniqueTokenIdentifier or id/);

    const badTime = fixture('service-principal-graph-api');
    badTime.createdDateTime = 'yesterday';
    const r2 = entraSignin.schema.safeParse(badTime);
    expect(r2.success).toBe(false);
    expect(r2.error!.issues[0]).toMatchObject({ path: ['createdDateTime'], message: 'not a parseable timestamp' });

    const audit = fixture('service-principal-monitor');
    audit.category = 'AuditLogs';
    expect(entraSignin.detect(audit)).toBe(false);
    const r3 = entraSignin.schema.safeParse(audit);
    expect(r3.success).toBe(false);
    expect(r3.error!.issues[0]!.path).toEqual(['category']);
  });

  it('never leaks the uniqueTokenIdentifier into normalized output', () => {
    const out = JSON.stringify(['service-principal-monitor', 'service-principal-graph-api', 'user-signin-failure-monitor'].flatMap((n) => run(fixture(n))));
    for (const uti of [SP_UTI, 'U2Vjb25kVXRpVGVzdFZhbA', 'RmFpbGVkVXNlclNpZ25Jbg', SP_KEY_ID]) expect(out).not.toContain(uti);
  });
});
