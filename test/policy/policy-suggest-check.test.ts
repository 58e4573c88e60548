/**
 * Issuer policy end to end over simulated vendor logs: the policy suggested from benign logs
 * passes those logs; the same logs with an injected mint outside the policy (a scope it never
 * had, an address outside its networks) raise policy_violation alerts naming the rule.
 */
import { mkdtempSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { Alert } from '../../schemas/alert.js';
import { Policy } from '../../schemas/policy.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { compilePolicy } from '../../src/policy/evaluate-policy.js';
import { parsePolicy, writePolicy } from '../../src/policy/policy-file.js';
import { checkPolicy, suggestPolicy } from '../../src/policy/policy-replay.js';
import { DEFAULT_SUGGEST_OPTIONS } from '../../src/policy/suggest-policy.js';
import { DEFAULT_START, simulate, writeNdjson } from '../../src/simulate/index.js';
import type { DeadLetter } from '../../src/sinks/dead-letter-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-policy-'));
const benign = join(dir, 'benign.ndjson');
const fingerprint = createFingerprinter({ key: 'tokenwatch-policy-test-key-0000000' });
const config = parseConfig({});

function collect(): { stream: Writable; alerts: () => Alert[] } {
  const lines: string[] = [];
  const stream = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  return { stream, alerts: () => lines.join('').split('\n').filter(Boolean).map((l) => Alert.parse(JSON.parse(l))) };
}

async function check(file: string, policy: Policy): Promise<Alert[]> {
  const out = collect();
  const dls: DeadLetter[] = [];
  const summary = await checkPolicy({ config, inputs: [{ name: file, source: file }], fingerprint, deadLetters: { write: async (d) => void dls.push(d) }, policy, alertsOut: out.stream });
  expect(dls).toEqual([]);
  expect(summary.alerts).toBe(out.alerts().length);
  return out.alerts();
}

let policy: Policy;

beforeAll(async () => {
  const sim = simulate({ seed: 7, hours: 6, start: DEFAULT_START, attacks: [] });
  const s = createWriteStream(benign);
  await writeNdjson(sim.events, s);
  s.end();
  await once(s, 'finish');
  const r = await suggestPolicy({ config, inputs: [{ name: benign, source: benign }], fingerprint, deadLetters: { write: async () => {} }, suggest: DEFAULT_SUGGEST_OPTIONS });
  policy = r.policy;
  expect(r.stats.mints).toBeGreaterThan(50);
}, 120_000);

/** An Okta client-credentials grant from the benign logs, changed by `edit` and given a new id and token. */
function injectedOktaGrant(n: number, edit: (rec: any) => void): string {
  const grant = readFileSync(benign, 'utf8').split('\n').find((l) => l.includes('"app.oauth2.as.token.grant.access_token"'))!;
  const rec = JSON.parse(grant);
  rec.uuid = `injected-${n}-0000-4000-8000-000000000000`;
  rec.published = new Date(Date.parse(rec.published) + 90_000).toISOString();
  for (const t of rec.target ?? []) if (t.type === 'access_token') t.id = `AT.injected-policy-test-token-${n}`;
  edit(rec);
  return JSON.stringify(rec);
}

describe('policy suggest → check', () => {
  it('derives one least-privilege rule per minting issuer, valid against the schema and round-tripping through YAML', async () => {
    expect(policy.rules.length).toBeGreaterThanOrEqual(5);
    for (const r of policy.rules) {
      expect(r.issuer).toBeDefined();
      expect(r.token_kinds?.length).toBeGreaterThan(0);
      for (const scope of r.scopes ?? []) expect(scope).not.toContain('*');
    }
    expect(policy.rules.some((r) => r.networks?.every((n) => /\/24$/.test(n)))).toBe(true);
    expect(policy.rules.some((r) => r.network_labels?.includes('ec2.amazonaws.com'))).toBe(true);
    const file = join(dir, 'policy.yaml');
    await writePolicy(file, policy, 'test header');
    expect(parsePolicy(readFileSync(file, 'utf8'), file)).toEqual(Policy.parse(policy));
  });

  it('raises nothing when the benign logs are checked against the policy suggested from them', async () => {
    expect(await check(benign, policy)).toEqual([]);
  }, 60_000);

  it('raises scope_not_allowed and network_not_allowed naming the rule for injected mints', async () => {
    const withScope = injectedOktaGrant(1, (rec) => {
      rec.debugContext.debugData.grantedScopes += ', okta.apps.manage';
    });
    const fromElsewhere = injectedOktaGrant(2, (rec) => {
      rec.client.ipAddress = '198.51.100.77';
      for (const hop of rec.request?.ipChain ?? []) hop.ip = '198.51.100.77';
    });
    const injected = join(dir, 'injected.ndjson');
    writeFileSync(injected, readFileSync(benign, 'utf8') + withScope + '\n' + fromElsewhere + '\n');
    const issuer = JSON.parse(withScope).actor.id as string;
    const rule = policy.rules.find((r) => r.issuer === issuer)!;
    expect(rule).toBeDefined();

    const alerts = await check(injected, policy);
    expect(alerts.map((a) => a.kind).sort()).toEqual(['network_not_allowed', 'scope_not_allowed']);
    for (const a of alerts) {
      expect(a.detector).toBe('policy_violation');
      expect(a.issuer).toBe(issuer);
      expect(a.evidence.baseline.rule).toBe(rule.id);
      expect(a.summary).toContain(`policy rule "${rule.id}"`);
    }
    const scope = alerts.find((a) => a.kind === 'scope_not_allowed')!;
    expect((scope.evidence.baseline.violation as { values: string[] }).values).toEqual(['okta.apps.manage']);
    const net = alerts.find((a) => a.kind === 'network_not_allowed')!;
    expect(net.summary).toContain('198.51.100.77');
    expect(net.evidence.events.at(-1)?.ip).toBe('198.51.100.77');
  }, 60_000);

  it('judges with the first matching rule; globs cover issuers; default deny names the unlisted issuer', () => {
    const p = Policy.parse({
      default: 'deny',
      rules: [
        { id: 'orders-ro', issuer: 'okta:orders-*', scopes: ['orders:read'] },
        { id: 'orders-any', issuer: 'okta:orders-*', scopes: ['orders:*'] },
      ],
    });
    const c = compilePolicy(p);
    const mint = (issuer: string, scopes: string[]) => ({ event_id: 'e', source: 'okta', platform: 'okta', action: 'mint', time: 0, token: { fp: 'tw1:' + '0'.repeat(32), kind: 'oauth_access' }, issuer, scopes_granted: scopes }) as const;
    expect(c.judge(mint('okta:orders-api', ['orders:read']))).toEqual([]);
    expect(c.judge(mint('okta:orders-api', ['orders:write'])).map((v) => [v.kind, v.rule, v.values])).toEqual([['scope_not_allowed', 'orders-ro', ['orders:write']]]);
    expect(c.judge(mint('okta:billing', [])).map((v) => [v.kind, v.rule])).toEqual([['unlisted_issuer', 'default']]);
  });

  it('rejects invalid policies with the path of the problem', () => {
    expect(() => parsePolicy('rules:\n  - id: a\n    issuer: x\n    networks: [not-a-cidr]\n', 'p.yaml')).toThrow(/rules\.0\.networks\.0: must be an IPv4\/IPv6 CIDR/);
    expect(() => parsePolicy('rules:\n  - id: a\n    scopes: [x]\n', 'p.yaml')).toThrow(/an issuer or a workload/);
    expect(() => parsePolicy('rules:\n  - {id: a, issuer: x}\n  - {id: a, issuer: y}\n', 'p.yaml')).toThrow(/duplicate rule id "a"/);
    expect(() => parsePolicy('rules:\n  - {id: a, issuer: x, token_kinds: [jwt]}\n', 'p.yaml')).toThrow(/token_kinds\.0/);
  });
});
