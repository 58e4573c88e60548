/**
 * Exceptions as data: matching (detector, kind, issuer glob, CIDR/ASN, user-agent family or
 * glob, workload), dropping in the engine before an alert is raised, counting per exception id
 * (engine filter and Prometheus metric), and expiry judged at event time.
 */
import { describe, expect, it } from 'vitest';
import { DETECTORS } from '../../detectors/index.js';
import { ev, fp, MIN, T0 } from '../../detectors/case-helpers.js';
import type { AlertDraft } from '../../detectors/types.js';
import { ExceptionEntry, ExceptionFile } from '../../schemas/exception.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { ExceptionFilter, expiredExceptions, userAgentFamily } from '../../src/exceptions/exception-filter.js';
import { DEFAULT_ENGINE_OPTIONS, DetectionEngine } from '../../src/pipeline/detection-engine.js';
import { createMetrics } from '../../src/runtime/metrics.js';

const CLIENT = 'okta:0oa-orders-worker';
const UA = 'orders-worker/2.4.1 Go-http-client/2.0';

function entry(over: Partial<ExceptionEntry>): ExceptionEntry {
  return ExceptionEntry.parse({ id: 'e1', detector: 'policy_violation', reason: 'migration to the new egress', owner: 'team-orders', expires: '2026-02-01', ...over });
}

function draft(trigger: Partial<TokenEvent>, kind = 'network_not_allowed'): AlertDraft {
  const e = ev({ time: T0, token: 'tok', action: 'mint', issuer: CLIENT, network: { ip: '198.51.100.23', asn: '64500' }, user_agent: UA, ...trigger });
  return { kind, score: 0.8, title: 't', summary: 's', dedup_key: `${kind}:x`, token_fp: fp('tok'), issuer: e.issuer, events: [e], baseline: {} };
}

describe('exception matching', () => {
  const cases: [string, Partial<ExceptionEntry>, Partial<TokenEvent>, boolean][] = [
    ['detector only', {}, {}, true],
    ['kind matches', { kind: 'network_not_allowed' }, {}, true],
    ['kind differs', { kind: 'scope_not_allowed' }, {}, false],
    ['issuer glob', { issuer: 'okta:0oa-orders-*' }, {}, true],
    ['issuer differs', { issuer: 'okta:0oa-billing' }, {}, false],
    ['IP in CIDR', { network: ['198.51.100.0/24'] }, {}, true],
    ['IP outside CIDR', { network: ['203.0.113.0/24'] }, {}, false],
    ['IPv6 in CIDR', { network: ['2001:db8::/32'] }, { network: { ip: '2001:db8:0:1::5' } }, true],
    ['ASN listed', { asn: ['AS64500'] }, {}, true],
    ['ASN not listed', { asn: ['AS16509'] }, {}, false],
    ['no network on the trigger', { network: ['198.51.100.0/24'] }, { network: undefined }, false],
    ['user-agent family, any version', { user_agent: 'Orders-Worker' }, {}, true],
    ['user-agent family differs', { user_agent: 'python-requests' }, {}, false],
    ['user-agent glob', { user_agent: '*Go-http-client/*' }, {}, true],
    ['workload id glob', { workload: 'orders/orders-api-*' }, { workload: { kind: 'k8s_pod', id: 'orders/orders-api-5c4f7' } }, true],
    ['workload kind:id', { workload: 'k8s_pod:orders/*' }, { workload: { kind: 'k8s_pod', id: 'orders/orders-api-5c4f7' } }, true],
    ['workload absent', { workload: 'orders/*' }, {}, false],
    ['every field must match', { issuer: CLIENT, network: ['198.51.100.0/24'], user_agent: 'curl' }, {}, false],
  ];
  for (const [name, over, trigger, want] of cases) {
    it(`${name} → ${want ? 'dropped' : 'kept'}`, () => {
      const f = new ExceptionFilter([entry(over)]);
      expect(f.drop('policy_violation', draft(trigger), T0)).toBe(want ? 'e1' : undefined);
    });
  }

  it('applies only to its own detector', () => {
    expect(new ExceptionFilter([entry({})]).drop('token_replay', draft({}), T0)).toBeUndefined();
  });

  it('decides expiry at the given event time: a bare date covers its whole UTC day', () => {
    const f = new ExceptionFilter([entry({ expires: '2026-01-05' })]);
    expect(f.drop('policy_violation', draft({}), Date.parse('2026-01-05T23:59:59Z'))).toBe('e1');
    expect(f.drop('policy_violation', draft({}), Date.parse('2026-01-06T00:00:00Z'))).toBeUndefined();
    expect(f.countsByException()).toEqual({ e1: 1 });
    expect(f.expiredMatches()).toEqual({ e1: 1 });
  });

  it('takes the user-agent family as the product before the first slash', () => {
    expect(userAgentFamily(UA)).toBe('orders-worker');
    expect(userAgentFamily('aws-cli/2.15.30 Python/3.11.8')).toBe('aws-cli');
  });
});

describe('exceptions in the engine', () => {
  const policyViolation = DETECTORS.find((d) => d.meta.id === 'policy_violation')!;
  const config = policyViolation.config.parse({ policy: { rules: [{ id: 'orders', issuer: CLIENT, networks: ['203.0.113.0/24'] }] } });
  const mint = (n: number, ip: string): TokenEvent => ev({ time: T0 + n * MIN, token: `t${n}`, action: 'mint', issuer: CLIENT, network: { ip }, user_agent: UA, event_id: `mint-${n}` });

  function run(filter?: ExceptionFilter) {
    const engine = new DetectionEngine({ ...DEFAULT_ENGINE_OPTIONS, detectors: [{ definition: policyViolation, config }], suppressWindowMs: 1, ...(filter && { alertFilter: filter }) });
    const alerts = [mint(1, '198.51.100.23'), mint(2, '192.0.2.9'), mint(3, '198.51.100.40')].flatMap((e) => engine.ingest(e));
    return [...alerts, ...engine.finish()];
  }

  it('drops matching drafts before they become alerts, counts them per (detector, exception), keeps the rest', async () => {
    expect(run().map((a) => a.evidence.events[0]!.ip)).toEqual(['198.51.100.23', '192.0.2.9', '198.51.100.40']);
    const filter = new ExceptionFilter([entry({ id: 'new-egress', network: ['198.51.100.0/24'] }), entry({ id: 'unused', issuer: 'okta:other' })]);
    const alerts = run(filter);
    expect(alerts.map((a) => a.evidence.events[0]!.ip)).toEqual(['192.0.2.9']);
    expect(filter.counts()).toEqual([{ detector: 'policy_violation', exception: 'new-egress', count: 2 }]);

    const metrics = createMetrics({ exceptions: filter });
    const text = await metrics.registry.metrics();
    expect(text).toContain('tokenwatch_alerts_excepted_total{detector="policy_violation",exception="new-egress"} 2');
    // scraping twice republishes the cumulative count, it does not add it again
    expect(await metrics.registry.metrics()).toContain('exception="new-egress"} 2');
  });

  it('an expired exception no longer applies (event time decides)', () => {
    const filter = new ExceptionFilter([entry({ id: 'lapsed', network: ['198.51.100.0/24'], expires: '2026-01-04' })]);
    expect(run(filter)).toHaveLength(3);
    expect(filter.countsByException()).toEqual({});
    expect(filter.expiredMatches()).toEqual({ lapsed: 2 });
  });
});

describe('exception file schema', () => {
  it('accepts a list or {exceptions}, rejects bad CIDRs, unknown detectors, token-like ids and duplicates', () => {
    const ok = { id: 'a', detector: 'token_replay', reason: 'known batch job', owner: 'sre', expires: '2026-03-31' };
    expect(ExceptionFile.parse([ok]).exceptions).toHaveLength(1);
    expect(ExceptionFile.parse({ exceptions: [ok] }).exceptions).toHaveLength(1);
    expect(ExceptionFile.safeParse([{ ...ok, network: ['10.0.0.0/33'] }]).success).toBe(false);
    expect(ExceptionFile.safeParse([{ ...ok, detector: 'nope' }]).success).toBe(false);
    expect(ExceptionFile.safeParse([{ ...ok, id: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig/with/slashes' }]).success).toBe(false);
    expect(ExceptionFile.safeParse([{ ...ok, expires: 'next week' }]).success).toBe(false);
    expect(ExceptionFile.safeParse([{ ...ok, surprise: 1 }]).success).toBe(false);
    const dup = ExceptionFile.safeParse([ok, ok]);
    expect(dup.success).toBe(false);
    expect(dup.error?.issues[0]?.message).toContain('duplicate exception id "a"');
  });

  it('lists expired exceptions as of a time, soonest first', () => {
    const es = [entry({ id: 'late', expires: '2026-03-01' }), entry({ id: 'early', expires: '2026-01-01' }), entry({ id: 'instant', expires: '2026-02-01T12:00:00Z' })];
    expect(expiredExceptions(es, Date.parse('2026-02-15T00:00:00Z')).map((e) => e.id)).toEqual(['early', 'instant']);
    expect(expiredExceptions(es, Date.parse('2025-12-31T00:00:00Z'))).toEqual([]);
  });
});
