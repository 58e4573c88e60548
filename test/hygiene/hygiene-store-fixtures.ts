/**
 * One hygiene scenario run against both the embedded store (chDB) and a ClickHouse server:
 * events go through the real TokenInventory and ClickHouseSink, then the hygiene views and
 * `runHygieneReport` must list exactly the expected findings and revocation latency.
 * Times are anchored at the current hour (T); the report judges as of the newest stored event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEvent } from '../../schemas/token-event.js';
import { DAY, HOUR, MIN, ev, fp } from '../../detectors/case-helpers.js';
import { TokenInventory } from '../../src/inventory/token-inventory.js';
import { ClickHouseSink } from '../../src/sinks/clickhouse-sink.js';
import type { StoreClient } from '../../src/store/clickhouse-client.js';
import { migrate } from '../../src/store/migrations.js';
import { timePrecisionFor } from '../../src/store/rows.js';
import { runHygieneReport, type HygieneFinding } from '../../src/hygiene/hygiene-report.js';
import { HygieneJob } from '../../src/hygiene/hygiene-job.js';
import type { HygieneAlert } from '../../src/hygiene/hygiene-alert.js';

export const T = Math.floor(Date.now() / HOUR) * HOUR;
const s = (ms: number): number => Math.floor(ms / 1000);
const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';

type Tok = TokenEvent['token'];
const tok = (name: string, kind: Tok['kind']): Tok => ({ fp: fp(name), kind });

export const EVENTS: TokenEvent[] = [
  // K1: IAM access key, 200 days old, owned, used yesterday → unrotated (medium)
  ev({ source: 'cloudtrail', platform: 'aws', action: 'mint', time: T - 200 * DAY, token: tok('K1', 'aws_access_key'), issuer: 'user/ci-deployer', subject: 'ci-deployer', minted_by: 'admin' }),
  ev({ source: 'cloudtrail', platform: 'aws', action: 'use', time: T - DAY, token: tok('K1', 'aws_access_key'), issuer: 'user/ci-deployer', service: 's3', user_agent: 'aws-cli/2.15.0' }),
  // K2: IAM access key, 400 days old, no subject, no creator → unrotated (high) + no_owner
  ev({ source: 'cloudtrail', platform: 'aws', action: 'mint', time: T - 400 * DAY, token: tok('K2', 'aws_access_key'), issuer: 'user/legacy' }),
  ev({ source: 'cloudtrail', platform: 'aws', action: 'use', time: T - 2 * DAY, token: tok('K2', 'aws_access_key'), issuer: 'user/legacy', service: 'ec2' }),
  // K3: 500 days old but revoked: offboarded properly, no finding
  ev({ source: 'cloudtrail', platform: 'aws', action: 'mint', time: T - 500 * DAY, token: tok('K3', 'aws_access_key'), issuer: 'user/gone' }),
  ev({ source: 'cloudtrail', platform: 'aws', action: 'revoke', time: T - 300 * DAY, token: tok('K3', 'aws_access_key'), issuer: 'user/gone' }),
  // S1: Entra app secret valid for two years → long_lived
  ev({ source: 'entra_audit', platform: 'azure', action: 'mint', time: T - 10 * DAY, expires_at: T + 720 * DAY, token: tok('S1', 'app_secret'), issuer: 'app/payments', subject: 'app/payments-svc', minted_by: 'owner@example.com' }),
  ev({ source: 'entra_signin', platform: 'azure', action: 'use', time: T - DAY, token: tok('S1', 'app_secret'), issuer: 'app/payments', service: 'graph' }),
  // D1: GCP service-account key used, idle 74 days, used again → dormant_then_active
  ev({ source: 'gcp_audit', platform: 'gcp', action: 'mint', time: T - 81 * DAY, token: tok('D1', 'gcp_sa_key'), issuer: 'reporting@proj.iam.gserviceaccount.com', subject: 'reporting@proj.iam.gserviceaccount.com', minted_by: 'ops@example.com' }),
  ...[80, 79, 5].map((d) => ev({ source: 'gcp_audit', platform: 'gcp', action: 'use', time: T - d * DAY, token: tok('D1', 'gcp_sa_key'), issuer: 'reporting@proj.iam.gserviceaccount.com', service: 'bigquery' })),
  // N1: Okta API token minted 20 days ago, never used → never_used (medium, long-term kind)
  ev({ action: 'mint', time: T - 20 * DAY, token: tok('N1', 'api_key'), issuer: 'okta/org', subject: 'okta-sync-bot', minted_by: 'admin@example.com' }),
  // N2: access token never used but already expired: no finding
  ev({ action: 'mint', time: T - 10 * DAY, expires_at: T - 10 * DAY + HOUR, token: tok('N2', 'oauth_access'), issuer: 'okta/org', subject: 'x' }),
  // role/reporter: grants three scopes, uses one → unused_scopes
  ...['R-a', 'R-b'].flatMap((name, i) => [
    ev({ source: 'cloudtrail', platform: 'aws', action: 'mint', time: T - 3 * HOUR + i * MIN, expires_at: T + HOUR, token: tok(name, 'sts_session'), issuer: 'role/reporter', subject: 'reporter', scopes_granted: ['s3:GetObject', 's3:PutObject', 'iam:PassRole'] }),
    ev({ source: 'cloudtrail', platform: 'aws', action: 'use', time: T - 2 * HOUR + i * MIN, token: tok(name, 'sts_session'), issuer: 'role/reporter', service: 's3', scopes_used: ['s3:GetObject'] }),
  ]),
  // H1: CI workload session used from a browser → human use of a service identity
  ev({ source: 'cloudtrail', platform: 'aws', action: 'mint', time: T - 30 * MIN, expires_at: T + 30 * MIN, token: tok('H1', 'sts_session'), issuer: 'role/gha-deploy', subject: 'gha-deploy' }),
  ev({ source: 'cloudtrail', platform: 'aws', action: 'use', time: T - 20 * MIN, token: tok('H1', 'sts_session'), issuer: 'role/gha-deploy', service: 's3', user_agent: BROWSER, workload: { kind: 'ci_oidc', id: 'repo:acme/app:ref:refs/heads/main' } }),
  // H2: GCP impersonation token whose subject is a person → human use
  ev({ source: 'gcp_audit', platform: 'gcp', action: 'use', time: T - 40 * MIN, token: tok('H2', 'gcp_access'), issuer: 'deployer@proj.iam.gserviceaccount.com', subject: 'jane.doe@example.com', service: 'storage', user_agent: 'google-cloud-sdk gcloud/460.0.0' }),
  // P1: a person's own session from a browser: not a service identity, no finding
  ev({ action: 'use', time: T - 15 * MIN, token: tok('P1', 'session'), issuer: 'okta/org', subject: 'alice', service: 'okta', user_agent: BROWSER }),
  // R1, R2: revoked, then still accepted at crm (600 s, 1800 s, 600 s); billing rejected the revoked token
  ev({ action: 'mint', time: T - 3 * HOUR, expires_at: T + HOUR, token: tok('R1', 'oauth_access'), issuer: 'app/crm-client', subject: 'crm-sync-svc' }),
  ev({ action: 'use', time: T - 70 * MIN, token: tok('R1', 'oauth_access'), issuer: 'app/crm-client', service: 'crm', outcome: 'success' }),
  ev({ action: 'revoke', time: T - HOUR, token: tok('R1', 'oauth_access'), issuer: 'app/crm-client' }),
  ev({ action: 'use', time: T - 50 * MIN, token: tok('R1', 'oauth_access'), issuer: 'app/crm-client', service: 'crm', outcome: 'success' }),
  ev({ action: 'use', time: T - 30 * MIN, token: tok('R1', 'oauth_access'), issuer: 'app/crm-client', service: 'crm' }),
  ev({ action: 'use', time: T - 55 * MIN, token: tok('R1', 'oauth_access'), issuer: 'app/crm-client', service: 'billing', outcome: 'failure' }),
  ev({ action: 'mint', time: T - 3 * HOUR, expires_at: T + HOUR, token: tok('R2', 'oauth_access'), issuer: 'app/crm-client', subject: 'crm-sync-svc' }),
  ev({ action: 'revoke', time: T - 2 * HOUR, token: tok('R2', 'oauth_access'), issuer: 'app/crm-client' }),
  ev({ action: 'use', time: T - 2 * HOUR + 10 * MIN, token: tok('R2', 'oauth_access'), issuer: 'app/crm-client', service: 'crm', outcome: 'success' }),
  // the newest event: the report's reference time is T
  ev({ action: 'use', time: T, token: tok('P1', 'session'), issuer: 'okta/org', subject: 'alice', service: 'okta', user_agent: 'okta-cli/1.0' }),
];

const f = (p: Partial<HygieneFinding> & Pick<HygieneFinding, 'finding' | 'severity' | 'owasp_nhi' | 'seen_at' | 'detail'>): HygieneFinding => ({
  token_fp: '', token_kind: '', issuer: '', subject: '', service: '', age_days: 0, ...p,
});

/** In report order: severity, finding, issuer, service, token. */
export function expectedFindings(): HygieneFinding[] {
  return [
    f({ finding: 'use_after_revoke', severity: 'critical', owasp_nhi: 'NHI1', service: 'crm', seen_at: s(T - 30 * MIN), detail: '3 uses of 2 revoked tokens accepted up to 1800 s after revocation; 0 rejected' }),
    f({ finding: 'human_use_of_service_identity', severity: 'high', owasp_nhi: 'NHI10', token_fp: fp('H2'), token_kind: 'gcp_access', issuer: 'deployer@proj.iam.gserviceaccount.com', subject: 'jane.doe@example.com', service: 'storage', seen_at: s(T - 40 * MIN), detail: '1 uses by a person (google-cloud-sdk gcloud/460.0.0) of a service identity' }),
    f({ finding: 'human_use_of_service_identity', severity: 'high', owasp_nhi: 'NHI10', token_fp: fp('H1'), token_kind: 'sts_session', issuer: 'role/gha-deploy', service: 's3', seen_at: s(T - 20 * MIN), detail: `1 uses by a person (${BROWSER}) of a service identity` }),
    f({ finding: 'unrotated_credential', severity: 'high', owasp_nhi: 'NHI7', token_fp: fp('K2'), token_kind: 'aws_access_key', issuer: 'user/legacy', age_days: 400, seen_at: s(T - 2 * DAY), detail: 'long-term credential not rotated for 400 days (rotate within 90)' }),
    f({ finding: 'dormant_then_active', severity: 'medium', owasp_nhi: 'NHI1', token_fp: fp('D1'), token_kind: 'gcp_sa_key', issuer: 'reporting@proj.iam.gserviceaccount.com', subject: 'reporting@proj.iam.gserviceaccount.com', age_days: 74, seen_at: s(T - 5 * DAY), detail: 'unused for 74 days, then used again' }),
    f({ finding: 'long_lived_credential', severity: 'medium', owasp_nhi: 'NHI7', token_fp: fp('S1'), token_kind: 'app_secret', issuer: 'app/payments', subject: 'app/payments-svc', age_days: 10, seen_at: s(T - DAY), detail: 'issued to live 730 days (more than 90)' }),
    f({ finding: 'never_used', severity: 'medium', owasp_nhi: 'NHI1', token_fp: fp('N1'), token_kind: 'api_key', issuer: 'okta/org', subject: 'okta-sync-bot', age_days: 20, seen_at: s(T - 20 * DAY), detail: 'live for 20 days and never used: revoke it' }),
    f({ finding: 'no_owner', severity: 'medium', owasp_nhi: 'NHI1', token_fp: fp('K2'), token_kind: 'aws_access_key', issuer: 'user/legacy', age_days: 400, seen_at: s(T - 2 * DAY), detail: 'long-term credential with no subject and no creator on record' }),
    f({ finding: 'unrotated_credential', severity: 'medium', owasp_nhi: 'NHI7', token_fp: fp('K1'), token_kind: 'aws_access_key', issuer: 'user/ci-deployer', subject: 'ci-deployer', age_days: 200, seen_at: s(T - DAY), detail: 'long-term credential not rotated for 200 days (rotate within 90)' }),
    f({ finding: 'unused_scopes', severity: 'medium', owasp_nhi: 'NHI5', issuer: 'role/reporter', seen_at: s(T - 2 * HOUR + MIN), detail: '2 of 3 granted scopes never used: iam:PassRole s3:PutObject' }),
  ];
}

export function defineHygieneSuite(label: string, open: () => Promise<StoreClient>, database: string): void {
  describe(label, () => {
    let store: StoreClient;

    beforeAll(async () => {
      store = await open();
      await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` });
      const m = await migrate(store.client, { database });
      expect(m.applied).toContain('0006_hygiene_views');
      const inventory = new TokenInventory();
      for (const e of EVENTS) inventory.observe(e);
      const sink = new ClickHouseSink({ client: store.client, database, time_precision: timePrecisionFor(m.features), config: { flush_interval_ms: 5 } });
      await Promise.all([sink.write('events', EVENTS), sink.write('inventory', inventory.drainDirty())]);
      await sink.close();
    });
    afterAll(async () => {
      if (!store) return;
      await store.client.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => undefined);
      await store.close();
    });

    it('reports exactly the expected findings as of the newest stored event', async () => {
      const report = await runHygieneReport(store.client, database);
      expect(report.as_of).toBe(s(T));
      expect(report.findings).toEqual(expectedFindings());
    });

    it('measures revocation latency per service: accepted and rejected uses after the revoke', async () => {
      const report = await runHygieneReport(store.client, database);
      expect(report.revocation_latency).toEqual([
        { service: 'crm', tokens: 2, accepted_uses: 3, rejected_uses: 0, max_delay_s: 1800, median_delay_s: 600, last_s: s(T - 30 * MIN) },
        { service: 'billing', tokens: 1, accepted_uses: 0, rejected_uses: 1, max_delay_s: 0, median_delay_s: 0, last_s: s(T - 55 * MIN) },
      ]);
    });

    it('serves the same findings from the hygiene_findings view (reference time now())', async () => {
      // T is the current hour and nothing is near a threshold within an hour of it: the view, judged at now(), agrees
      const rs = await store.client.query({ query: `SELECT * FROM ${database}.hygiene_findings`, format: 'JSONEachRow' });
      const rows = (await rs.json<HygieneFinding>()).map((r) => ({ ...r, age_days: Number(r.age_days), seen_at: Number(r.seen_at) }));
      const key = (x: HygieneFinding) => `${x.finding}|${x.token_fp}|${x.issuer}|${x.service}`;
      expect(rows.map(key).sort()).toEqual(expectedFindings().map(key).sort());
      const lat = await store.client.query({ query: `SELECT service, accepted_uses FROM ${database}.revocation_latency`, format: 'JSONEachRow' });
      expect((await lat.json<{ service: string; accepted_uses: number }>()).map((r) => [r.service, Number(r.accepted_uses)])).toEqual([['crm', 3], ['billing', 0]]);
    });

    it('HygieneJob hands over each finding once, as hygiene_finding alerts with stable ids', async () => {
      const passes: HygieneAlert[][] = [];
      const job = new HygieneJob({ client: store.client, database, intervalMs: 3_600_000, onFindings: async (f) => void passes.push(f) });
      await job.runOnce();
      await job.runOnce();
      expect(passes[0]!.map((a) => a.finding)).toEqual(expectedFindings().map((x) => x.finding));
      expect(passes[0]!.every((a) => a.type === 'hygiene_finding' && /^[0-9a-f]{32}$/.test(a.finding_id) && a.as_of === new Date(T).toISOString())).toBe(true);
      expect(new Set(passes[0]!.map((a) => a.finding_id)).size).toBe(passes[0]!.length);
      expect(passes[1]).toEqual([]);
      expect(job.passes).toBe(2);
    });

    it('judges as of an earlier reference time when asked', async () => {
      // 150 days earlier: K2 is 250 days old; K1 (50 days) is not yet unrotated
      const report = await runHygieneReport(store.client, database, s(T - 150 * DAY));
      const unrotated = report.findings.filter((x) => x.finding === 'unrotated_credential').map((x) => [x.token_fp, x.age_days]);
      expect(unrotated).toEqual([[fp('K2'), 250]]);
    });
  });
}
