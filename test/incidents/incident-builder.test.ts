import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DetectionEngine, DEFAULT_ENGINE_OPTIONS } from '../../src/pipeline/detection-engine.js';
import { IncidentBuilder, combinedSeverity } from '../../src/incidents/incident-builder.js';
import type { DetectorDefinition } from '../../detectors/types.js';
import type { DetectorId, Severity } from '../../schemas/alert.js';
import { Incident } from '../../schemas/incident.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { ev, fp, MIN, T0 } from '../../detectors/case-helpers.js';

/**
 * A minimal detector: alerts on events whose operation names it (`<detector id>:<severity>`),
 * with dedup key = the token, so repeats on one token within the engine window are suppressed.
 */
function trigger(id: DetectorId, keyBy: 'token' | 'issuer'): DetectorDefinition<{ n: number }> {
  return {
    meta: {
      id, version: 1, title: `test ${id}`, description: 'alerts on a named operation', key_by: keyBy,
      mitre_attack: ['T1528'], owasp_nhi: ['NHI7'], runbook: 'none',
      kinds: { hit: { title: 'hit', severity: 'medium' } },
    },
    config: z.object({ n: z.number().default(1) }),
    create: () => ({
      process: (e: TokenEvent) => {
        const [who, severity] = (e.operation ?? '').split(':');
        if (who !== id) return [];
        return [{ kind: 'hit', severity: severity as Severity, score: 0.9, title: `${id} hit`, summary: 's', dedup_key: e.token.fp, token_fp: e.token.fp, ...(e.issuer !== undefined && { issuer: e.issuer }), events: [e], baseline: {} }];
      },
      advance: () => [],
      snapshot: () => ({}),
      restore: () => {},
      size: () => 0,
      changedKeys: () => [],
      getKey: () => undefined,
      putKey: () => {},
    }),
    cases: { positive: [], negative: [] },
  };
}

const DETECTORS = [trigger('token_replay', 'token'), trigger('cross_service_reuse', 'token')];

/** Engine + incident builder the way the embedded runner wires them. */
function run(events: readonly TokenEvent[], windowMs = 60 * MIN): Incident[] {
  const incidents = new IncidentBuilder({ windowMs });
  const engine = new DetectionEngine({
    ...DEFAULT_ENGINE_OPTIONS,
    reorder: { maxDelayMs: MIN, maxBuffered: 1000 },
    suppressWindowMs: 60 * MIN,
    detectors: DETECTORS.map((definition) => ({ definition, config: { n: 1 } })),
    observer: incidents,
  });
  const out: Incident[] = [];
  for (const e of events) {
    incidents.observeAlerts(engine.ingest(e));
    out.push(...incidents.drain());
  }
  incidents.observeAlerts(engine.finish());
  incidents.finish();
  out.push(...incidents.drain());
  for (const i of out) Incident.parse(i);
  return out;
}

describe('IncidentBuilder', () => {
  it('joins two alerts on one token from two detectors into one incident with raised severity and counts suppressed repeats', () => {
    const incidents = run([
      ev({ time: T0, token: 'a', issuer: 'role-a', operation: 'token_replay:high' }),
      ev({ time: T0 + 5 * MIN, token: 'a', issuer: 'role-a', operation: 'token_replay:high' }), // suppressed repeat
      ev({ time: T0 + 6 * MIN, token: 'a', issuer: 'role-a', operation: 'token_replay:high' }), // suppressed repeat
      ev({ time: T0 + 10 * MIN, token: 'a', issuer: 'role-a', operation: 'cross_service_reuse:medium' }),
    ]);
    expect(incidents).toHaveLength(1);
    const [inc] = incidents;
    expect(inc!.alert_count).toBe(2);
    expect(inc!.detectors).toEqual(['cross_service_reuse', 'token_replay']);
    expect(inc!.max_alert_severity).toBe('high');
    expect(inc!.severity).toBe('critical'); // high, raised one level: two families agree
    expect(inc!.suppressed_repeats).toBe(2);
    const replay = inc!.alerts.find((a) => a.detector === 'token_replay')!;
    expect(replay.suppressed_repeats).toBe(2);
    expect(replay.linked_by).toBe('first');
    expect(inc!.alerts.find((a) => a.detector === 'cross_service_reuse')!.linked_by).toBe('token');
    expect(inc!.timeline.map((t) => t.detector)).toEqual(['token_replay', 'cross_service_reuse']);
    expect(inc!.first_seen).toBe(new Date(T0).toISOString());
    expect(inc!.last_seen).toBe(new Date(T0 + 10 * MIN).toISOString());
  });

  it('does not raise the severity when one detector family repeats itself on several tokens of an issuer', () => {
    const [inc, ...rest] = run([
      ev({ time: T0, token: 'a', issuer: 'role-a', operation: 'token_replay:high' }),
      ev({ time: T0 + MIN, token: 'b', issuer: 'role-a', operation: 'token_replay:medium' }),
    ]);
    expect(rest).toHaveLength(0);
    expect(inc!.alert_count).toBe(2);
    expect(inc!.alerts[1]!.linked_by).toBe('issuer');
    expect(inc!.severity).toBe('high');
  });

  it('joins a mint→use chain: an alert on a token and one on the token it was minted with', () => {
    const incidents = run([
      // the caller key (parent) mints a session key (child); different issuers, so only the chain links them
      ev({ time: T0, token: 'child', action: 'mint', parent_fp: fp('parent'), issuer: 'role-child' }),
      ev({ time: T0 + 2 * MIN, token: 'child', issuer: 'role-child', operation: 'cross_service_reuse:medium' }),
      ev({ time: T0 + 4 * MIN, token: 'parent', issuer: 'user-parent', operation: 'token_replay:high' }),
      ev({ time: T0 + 5 * MIN, token: 'other', issuer: 'unrelated', operation: 'token_replay:low' }),
    ]);
    expect(incidents).toHaveLength(2);
    const chain = incidents.find((i) => i.alert_count === 2)!;
    expect(chain.token_fps.sort()).toEqual([fp('child'), fp('parent')].sort());
    expect(chain.alerts.map((a) => a.linked_by)).toEqual(['first', 'chain']);
    expect(chain.severity).toBe('critical');
    expect(incidents.find((i) => i.alert_count === 1)!.issuers).toEqual(['unrelated']);
  });

  it('keeps alerts further apart than the window in two incidents', () => {
    const incidents = run([
      ev({ time: T0, token: 'a', issuer: 'role-a', operation: 'token_replay:high' }),
      ev({ time: T0 + 3 * 60 * MIN, token: 'a', issuer: 'role-a', operation: 'cross_service_reuse:medium' }),
    ]);
    expect(incidents).toHaveLength(2);
    expect(incidents.map((i) => i.alert_count)).toEqual([1, 1]);
    expect(incidents.map((i) => i.severity)).toEqual(['high', 'medium']); // no family agreement inside either
    expect(incidents[0]!.incident_id).not.toBe(incidents[1]!.incident_id);
  });

  it('merges two open incidents when an alert bridges them', () => {
    const incidents = run([
      ev({ time: T0, token: 'a', issuer: 'role-a', operation: 'token_replay:low' }),
      ev({ time: T0 + MIN, token: 'b', issuer: 'role-b', operation: 'token_replay:low' }),
      ev({ time: T0 + 2 * MIN, token: 'a', issuer: 'role-b', operation: 'cross_service_reuse:low' }),
    ]);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.alert_count).toBe(3);
    expect(incidents[0]!.issuers).toEqual(['role-a', 'role-b']);
  });

  it('is deterministic across replays and across a snapshot/restore', () => {
    const events = [
      ev({ time: T0, event_id: 'e1', token: 'child', action: 'mint', parent_fp: fp('parent'), issuer: 'r1' }),
      ev({ time: T0 + MIN, event_id: 'e2', token: 'child', issuer: 'r1', operation: 'token_replay:high' }),
      ev({ time: T0 + 2 * MIN, event_id: 'e3', token: 'parent', issuer: 'r2', operation: 'cross_service_reuse:low' }),
      ev({ time: T0 + 2 * 60 * MIN, event_id: 'e4', token: 'x', issuer: 'r3', operation: 'token_replay:low' }),
      ev({ time: T0 + 2 * 60 * MIN + MIN, event_id: 'e5', token: 'x', issuer: 'r3', operation: 'token_replay:low' }),
    ];
    const a = run(events);
    const b = run(events);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a).toHaveLength(2);

    // the builder alone, interrupted after the first alert and resumed from its JSON snapshot
    const alertsOf = (i: number) => a.flatMap((x) => x.alerts)[i]!;
    const whole = new IncidentBuilder();
    const first = new IncidentBuilder();
    for (const b2 of [whole, first]) b2.observeEvent(events[0]!);
    const asAlert = (i: number) => {
      const m = alertsOf(i);
      return { schema_version: 1 as const, alert_id: m.alert_id, detector: m.detector, detector_version: 1, kind: m.kind, severity: m.severity, score: m.score, title: m.title, summary: 's', token_fp: m.token_fp, issuer: m.issuer, first_seen: m.first_seen, last_seen: m.last_seen, evidence: { events: [], baseline: {} }, mitre_attack: [], owasp_nhi: [], runbook: '', dedup_key: 'k' };
    };
    whole.observeAlert(asAlert(0));
    first.observeAlert(asAlert(0));
    const resumed = new IncidentBuilder();
    resumed.restore(JSON.parse(JSON.stringify(first.snapshot())));
    for (const b2 of [whole, resumed]) {
      b2.observeAlert(asAlert(1));
      b2.finish();
    }
    expect(JSON.stringify(resumed.drain())).toBe(JSON.stringify(whole.drain()));
  });

  it('combines severities: max, one level up for two or more families, capped at critical', () => {
    expect(combinedSeverity(1, 1)).toBe('medium');
    expect(combinedSeverity(1, 2)).toBe('high');
    expect(combinedSeverity(3, 3)).toBe('critical');
  });

  it('bounds open incidents: the least recently active closes early', () => {
    const b = new IncidentBuilder({ maxOpen: 2 });
    const alert = (id: string, token: string, t: number) => ({
      schema_version: 1 as const, alert_id: id.padEnd(32, '0'), detector: 'token_replay' as const, detector_version: 1, kind: 'k', severity: 'low' as const, score: 0.1,
      title: 't', summary: 's', token_fp: fp(token), first_seen: new Date(t).toISOString(), last_seen: new Date(t).toISOString(),
      evidence: { events: [], baseline: {} }, mitre_attack: [], owasp_nhi: [], runbook: '', dedup_key: token,
    });
    b.observeAlert(alert('a', 'a', T0));
    b.observeAlert(alert('b', 'b', T0 + MIN));
    b.observeAlert(alert('c', 'c', T0 + 2 * MIN));
    expect(b.openCount).toBe(2);
    expect(b.drain().map((i) => i.token_fps)).toEqual([[fp('a')]]);
  });
});
