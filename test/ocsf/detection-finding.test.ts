/**
 * Every alert kind of every detector, produced by running the detector's positive cases and
 * the alert builder, maps to an OCSF Detection Finding that validates against the OCSF 1.8.0
 * schema files with zero issues.
 */
import { describe, expect, it } from 'vitest';
import { DETECTORS } from '../../detectors/index.js';
import type { DetectorDefinition } from '../../detectors/types.js';
import type { Alert } from '../../schemas/alert.js';
import { buildAlert } from '../../src/pipeline/alert-builder.js';
import { toDetectionFinding } from '../../src/ocsf/detection-finding.js';
import { validateDetectionFinding } from '../../src/ocsf/validate.js';
import { feedDetector } from '../detectors/feed-detector.js';
import { loadTestSchema } from './ocsf-schema-dir.js';

const DAY = 86_400_000;
const schema = loadTestSchema();

function alertsOf(def: DetectorDefinition): Alert[] {
  const out: Alert[] = [];
  for (const c of def.cases.positive) {
    const drafts = feedDetector(def.create(def.config.parse({ ...(c.config ?? {}) })), c.events, DAY);
    for (const d of drafts) out.push(buildAlert(def.meta, d));
  }
  return out;
}

for (const def of DETECTORS) {
  describe(`OCSF findings from ${def.meta.id}`, () => {
    const alerts = alertsOf(def);

    it('has an alert for every kind the detector declares', () => {
      const kinds = new Set(alerts.map((a) => a.kind));
      for (const k of Object.keys(def.meta.kinds)) expect(kinds.has(k), `no positive-case alert of kind ${k}`).toBe(true);
    });

    for (const kind of Object.keys(def.meta.kinds)) {
      it(`${kind}: every finding validates with zero issues`, () => {
        const ofKind = alerts.filter((a) => a.kind === kind);
        expect(ofKind.length).toBeGreaterThan(0);
        for (const a of ofKind) {
          const f = toDetectionFinding(a);
          expect(validateDetectionFinding(schema, f), `${a.detector}/${a.kind} ${a.alert_id}`).toEqual([]);
          const info = f.finding_info as Record<string, unknown>;
          expect(info.uid).toBe(a.alert_id);
          expect(f.class_uid).toBe(2004);
          expect(f.type_uid).toBe(200401);
          expect((info.related_events as unknown[]).length).toBe(a.evidence.events.length);
          // the baseline the alert was judged against stays visible
          expect((f.unmapped as { baseline: unknown }).baseline).toEqual(a.evidence.baseline);
        }
      });
    }
  });
}

describe('mapping details', () => {
  const alert = alertsOf(DETECTORS.find((d) => d.meta.id === 'token_replay')!).find((a) => a.kind === 'use_after_revocation')!;
  const f = toDetectionFinding(alert);

  it('maps severity, times and the runbook', () => {
    expect(f.severity_id).toBe(5);
    expect(f.severity).toBe('Critical');
    expect(f.time).toBe(Date.parse(alert.last_seen));
    expect((f.finding_info as Record<string, unknown>).first_seen_time).toBe(Date.parse(alert.first_seen));
    expect((f.remediation as { desc: string }).desc).toBe(alert.runbook);
    expect((f.metadata as Record<string, unknown>).version).toBe('1.8.0');
  });

  it('maps ATT&CK ids to technique, sub-technique and tactic', () => {
    const attacks = f.attacks as { technique: { uid: string; name?: string }; sub_technique?: { uid: string; name?: string }; tactic?: { uid: string } }[];
    const aat = attacks.filter((x) => x.sub_technique?.uid === 'T1550.001');
    expect(aat.map((x) => x.tactic?.uid).sort()).toEqual(['TA0005', 'TA0008']);
    expect(aat[0]!.technique).toEqual({ uid: 'T1550', name: 'Use Alternate Authentication Material' });
    expect(aat[0]!.sub_technique!.name).toBe('Application Access Token');
  });

  it('puts the token fingerprint, IPs and user agents in observables, never anything token-shaped beyond fingerprints', () => {
    const obs = f.observables as { type_id: number; value: string }[];
    expect(obs).toContainEqual(expect.objectContaining({ type_id: 10, value: alert.token_fp }));
    const ips = new Set(alert.evidence.events.map((e) => e.ip).filter((x) => x && /^[\d.:a-f]+$/.test(x)));
    for (const ip of ips) expect(obs).toContainEqual(expect.objectContaining({ type_id: 2, value: ip }));
    expect(obs.some((o) => o.type_id === 16)).toBe(true);
  });

  it('counts folded repeats when the alert carries them', () => {
    expect(f.count).toBeUndefined();
    const g = toDetectionFinding({ ...alert, suppressed_repeats: 4 } as Alert);
    expect(g.count).toBe(5);
    expect(validateDetectionFinding(schema, g)).toEqual([]);
  });

  it('is deterministic', () => {
    expect(toDetectionFinding(alert)).toEqual(f);
  });
});
