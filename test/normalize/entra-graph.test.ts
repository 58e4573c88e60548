import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { entraGraph } from '../../src/normalize/entra-graph.js';
import { entraSignin } from '../../src/normalize/entra-signin.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { TokenEvent } from '../../schemas/token-event.js';

const ctx = { fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }) };
const fixture = (dir: string, name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`../fixtures/vendors/${dir}/${name}.json`, import.meta.url), 'utf8'));

function run(raw: Record<string, unknown>): TokenEvent[] {
  expect(entraGraph.detect(raw)).toBe(true);
  expect(entraSignin.detect(raw)).toBe(false);
  const parsed = entraGraph.schema.safeParse(raw);
  if (!parsed.success) throw new Error(`schema rejected: ${parsed.error.message}`);
  const events = entraGraph.normalize(parsed.data, ctx);
  for (const e of events) expect(TokenEvent.safeParse(e).success).toBe(true);
  return events;
}

const TENANT = '6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

describe('entra graph activity normalizer', () => {
  it('maps an Azure Monitor Graph activity record to a use', () => {
    expect(run(fixture('entra-graph', 'activity-monitor'))).toEqual([
      {
        event_id: 'entra_graph:18293a4b-5c6d-4e7f-8091-a2b3c4d5e6f7',
        source: 'entra_graph',
        platform: 'azure',
        action: 'use',
        time: Date.parse('2025-03-04T10:02:11Z'),
        token: { fp: ctx.fingerprint('entra:uti', 'Qm9ndXNVdGlGb3JUZXN0cw'), kind: 'oauth_access' },
        issuer: '3c4d5e6f-7081-4923-b4c5-d6e7f8091a2b',
        authority: `entra:${TENANT}`,
        audience: ['00000003-0000-0000-c000-000000000000'],
        service: 'graph.microsoft.com',
        scopes_used: ['User.Read.All', 'Mail.Read'],
        issued_at: Date.parse('2025-03-04T09:59:58Z'),
        network: { ip: '20.50.60.70' },
        user_agent: 'Microsoft.Graph.Python/1.2.0',
        outcome: 'success',
        // query string dropped
        operation: 'GET /v1.0/users/dana.lee@example.com/messages',
      },
    ]);
  });

  it('correlates with the sign-in that minted the token: same fp', () => {
    const signIn = fixture('entra-signin', 'service-principal-monitor');
    const parsed = entraSignin.schema.safeParse(signIn);
    if (!parsed.success) throw new Error(parsed.error.message);
    const [mint] = entraSignin.normalize(parsed.data, ctx);
    const [use] = run(fixture('entra-graph', 'activity-monitor'));
    expect(use!.token.fp).toBe(mint!.token.fp);
    expect(use!.issuer).toBe(mint!.issuer);
    expect(use!.authority).toBe(mint!.authority);
    expect(use!.audience).toEqual(mint!.audience);
  });

  it('tolerates base64 padding on signInActivityId', () => {
    const raw = fixture('entra-graph', 'activity-monitor');
    raw.properties.signInActivityId = 'Qm9ndXNVdGlGb3JUZXN0cw==';
    expect(run(raw)[0]!.token.fp).toBe(ctx.fingerprint('entra:uti', 'Qm9ndXNVdGlGb3JUZXN0cw'));
  });

  it('maps a Log Analytics (PascalCase) delegated call; AadTenantId over the workspace TenantId', () => {
    expect(run(fixture('entra-graph', 'activity-log-analytics'))).toEqual([
      {
        event_id: 'entra_graph:293a4b5c-6d7e-4f80-91a2-b3c4d5e6f708',
        source: 'entra_graph',
        platform: 'azure',
        action: 'use',
        time: Date.parse('2025-03-04T10:05:00Z'),
        token: { fp: ctx.fingerprint('entra:uti', 'RGVsZWdhdGVkVXRpVmFsdWU'), kind: 'oauth_access' },
        issuer: '708192a3-b4c5-4d6e-8f70-8192a3b4c5d6',
        authority: `entra:${TENANT}`,
        audience: ['00000003-0000-0000-c000-000000000000'],
        service: 'graph.microsoft.com',
        scopes_used: ['Mail.Send', 'User.Read'],
        issued_at: Date.parse('2025-03-04T09:40:00Z'),
        network: { ip: '198.51.100.7' },
        user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
        outcome: 'failure',
        operation: 'POST /beta/me/sendMail',
      },
    ]);
  });

  it('accepts the flat camelCase properties object on its own', () => {
    const flat = fixture('entra-graph', 'activity-monitor').properties;
    expect(run(flat)).toEqual(run(fixture('entra-graph', 'activity-monitor')));
  });

  it('rejects records without signInActivityId or a parseable time', () => {
    const noId = fixture('entra-graph', 'activity-monitor');
    delete noId.properties.signInActivityId;
    const r1 = entraGraph.schema.safeParse(noId);
    expect(r1.success).toBe(false);
    expect(r1.error!.issues[0]).toMatchObject({ path: ['signInActivityId'] });
    expect(r1.error!.issues[0]!.message).toMatch(/links the request to its token/);

    const noTime = fixture('entra-graph', 'activity-monitor');
    delete noTime.properties.timeGenerated;
    delete noTime.time;
    const r2 = entraGraph.schema.safeParse(noTime);
    expect(r2.success).toBe(false);
    expect(r2.error!.issues[0]!.path).toEqual(['timeGenerated']);
  });

  it('never leaks signInActivityId into normalized output', () => {
    const out = JSON.stringify([...run(fixture('entra-graph', 'activity-monitor')), ...run(fixture('entra-graph', 'activity-log-analytics'))]);
    expect(out).not.toContain('Qm9ndXNVdGlGb3JUZXN0cw');
    expect(out).not.toContain('RGVsZWdhdGVkVXRpVmFsdWU');
  });
});
