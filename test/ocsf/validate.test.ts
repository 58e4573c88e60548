/** The OCSF validator catches what it claims to: each check has a finding broken just there. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DETECTORS } from '../../detectors/index.js';
import { buildAlert } from '../../src/pipeline/alert-builder.js';
import { toDetectionFinding, type DetectionFinding } from '../../src/ocsf/detection-finding.js';
import { loadOcsfSchema, validateDetectionFinding } from '../../src/ocsf/validate.js';
import { TokenwatchError } from '../../src/core/errors.js';
import { feedDetector } from '../detectors/feed-detector.js';
import { loadTestSchema } from './ocsf-schema-dir.js';

const schema = loadTestSchema();

/** A valid finding from a real token_replay case (it has IPs, user agents, a token and a subject). */
function validFinding(): DetectionFinding {
  const def = DETECTORS.find((d) => d.meta.id === 'token_replay')!;
  for (const c of def.cases.positive) {
    for (const d of feedDetector(def.create(def.config.parse({ ...(c.config ?? {}) })), c.events, 86_400_000)) {
      const a = buildAlert(def.meta, d);
      if (a.evidence.events.some((e) => e.ip !== undefined && e.user_agent !== undefined)) return structuredClone(toDetectionFinding(a));
    }
  }
  throw new Error('no token_replay case alert with an IP and a user agent');
}

type Json = Record<string, any>;
const issuesOf = (mutate: (f: Json) => void) => {
  const f = validFinding() as Json;
  mutate(f);
  return validateDetectionFinding(schema, f);
};

describe('OCSF validator', () => {
  it('accepts the valid finding the negative cases start from', () => {
    expect(validateDetectionFinding(schema, validFinding())).toEqual([]);
  });

  it('reports a missing required attribute, at the top level and inside objects', () => {
    expect(issuesOf((f) => delete f.class_uid)).toEqual([{ path: 'class_uid', message: 'required attribute of detection_finding is missing' }]);
    expect(issuesOf((f) => delete f.finding_info.uid)).toEqual([{ path: 'finding_info.uid', message: 'required attribute of finding_info is missing' }]);
    expect(issuesOf((f) => delete f.metadata.product)).toEqual([{ path: 'metadata.product', message: 'required attribute of metadata is missing' }]);
    expect(issuesOf((f) => delete f.remediation.desc).map((i) => i.path)).toEqual(['remediation.desc']);
    // inside an array element
    expect(issuesOf((f) => delete f.finding_info.related_events[1].uid).map((i) => i.path)).toEqual(['finding_info.related_events[1].uid']);
  });

  it('reports wrong types per the dictionary types', () => {
    expect(issuesOf((f) => (f.time = '2026-01-06T19:28:03Z'))[0]).toMatchObject({ path: 'time', message: expect.stringMatching(/must be an integer \(long\).*\(timestamp_t\)/) });
    expect(issuesOf((f) => (f.severity_id = 4.5))[0]).toMatchObject({ path: 'severity_id', message: expect.stringContaining('32-bit integer') });
    expect(issuesOf((f) => (f.severity_id = 2 ** 40))[0]!.path).toBe('severity_id');
    expect(issuesOf((f) => (f.finding_info.uid = 42))[0]).toMatchObject({ path: 'finding_info.uid', message: expect.stringContaining('must be a string') });
    expect(issuesOf((f) => (f.is_alert = 'true'))[0]).toMatchObject({ path: 'is_alert', message: expect.stringContaining('boolean') });
    expect(issuesOf((f) => (f.finding_info.types = 'tokenwatch'))[0]).toMatchObject({ path: 'finding_info.types', message: expect.stringContaining('array') });
    expect(issuesOf((f) => (f.remediation = 'rotate it'))[0]).toMatchObject({ path: 'remediation', message: expect.stringContaining('must be an object') });
    expect(issuesOf((f) => (f.metadata.uid = null))[0]).toMatchObject({ path: 'metadata.uid', message: expect.stringContaining('null') });
    // string subtypes: ip_t carries a regex in dictionary.json
    expect(issuesOf((f) => (f.evidences.find((e: Json) => e.src_endpoint?.ip).src_endpoint.ip = 'prod-eks-nat'))[0]).toMatchObject({ message: expect.stringContaining('(ip_t)') });
  });

  it('reports enum values outside the schema', () => {
    expect(issuesOf((f) => (f.severity_id = 7))).toEqual([{ path: 'severity_id', message: expect.stringContaining('not one of the enum values 0, 1, 2, 3, 4, 5, 6, 99') }]);
    expect(issuesOf((f) => (f.status_id = 42))[0]!.path).toBe('status_id');
    expect(issuesOf((f) => (f.class_uid = 2005))[0]!.path).toBe('class_uid');
    expect(issuesOf((f) => (f.type_uid = 200404))[0]!.path).toBe('type_uid');
    expect(issuesOf((f) => (f.finding_info.analytic.type_id = 12))[0]!.path).toBe('finding_info.analytic.type_id');
    expect(issuesOf((f) => (f.observables[0].type_id = 1000))[0]!.path).toBe('observables[0].type_id');
    expect(issuesOf((f) => (f.evidences[0].http_request = { user_agent: 'x', http_method: 'FETCH' }))[0]!.path).toBe('evidences[0].http_request.http_method');
  });

  it('reports an enum caption that disagrees with its id, except for 99 Other', () => {
    expect(issuesOf((f) => (f.severity = 'High'))).toEqual([{ path: 'severity', message: '"High" disagrees with severity_id 5 ("Critical")' }]);
    expect(issuesOf((f) => (f.finding_info.analytic.type = 'Statistical'))[0]!.path).toBe('finding_info.analytic.type');
    expect(issuesOf((f) => (f.observables[0].type = 'IP Address'))[0]!.path).toBe('observables[0].type');
    expect(issuesOf((f) => Object.assign(f, { severity_id: 99, severity: 'Sev-1' }))).toEqual([]);
  });

  it('reports object constraints (at_least_one) and unknown attributes', () => {
    expect(issuesOf((f) => (f.finding_info.analytic = { type_id: 1 }))).toEqual([{ path: 'finding_info.analytic', message: 'analytic needs at least one of: name, uid' }]);
    expect(issuesOf((f) => (f.evidences[0] = { uid: 'e1', name: 'use' }))[0]).toMatchObject({ path: 'evidences[0]', message: expect.stringContaining('evidences needs at least one of: actor') });
    expect(issuesOf((f) => (f.attacks[0] = { version: '17' }))[0]!.path).toBe('attacks[0]');
    expect(issuesOf((f) => (f.finding_info.severity = 'high'))).toEqual([{ path: 'finding_info.severity', message: 'unknown attribute of finding_info' }]);
  });

  it('holds profile attributes to metadata.profiles', () => {
    const issues = issuesOf((f) => delete f.metadata.profiles);
    expect(issues.map((i) => i.path).sort()).toEqual(['action', 'action_id', 'attacks', 'disposition', 'disposition_id']);
    expect(issues[0]!.message).toContain('security_control');
    // a listed profile makes its required attributes required: cloud needs `cloud`
    expect(issuesOf((f) => f.metadata.profiles.push('cloud'))).toEqual([{ path: 'cloud', message: 'required attribute of detection_finding is missing' }]);
  });

  it('accepts anything JSON under unmapped and json_t attributes', () => {
    expect(issuesOf((f) => (f.unmapped = { a: null, b: [1, { c: 'x' }] }))).toEqual([]);
    expect(issuesOf((f) => (f.evidences[0].data = [1, 'two', null]))).toEqual([]);
  });

  it('fails loudly, naming the path, when the schema files are absent', () => {
    const empty = mkdtempSync(join(tmpdir(), 'tw-ocsf-'));
    expect(() => loadOcsfSchema(empty)).toThrow(TokenwatchError);
    expect(() => loadOcsfSchema(empty)).toThrow(/OCSF schema file not found: .*compiled\/detection_finding-1\.8\.0\.json/);
  });
});
