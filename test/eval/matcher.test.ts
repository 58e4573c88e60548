/**
 * The evaluation's matcher and figures on hand-built alerts and attacks: which alert detects
 * which attack, what counts as false, delays, per-family figures and floors.
 */
import { describe, expect, it } from 'vitest';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { AFTERGLOW_MS, familyOfAttack, familyOfDetector, matchAlerts, type EvalAlert, type EvalAttack } from '../../src/eval/matcher.js';
import { checkFloors, floorsFrom, formatReport, summarize, TARGETS, type SeedRun } from '../../src/eval/report.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 12, 10);
const fingerprint = createFingerprinter({ key: 'matcher-test-key-0123456789' });
const CRED = ['credential_context', 'token_replay', 'cross_service_reuse'];

const stolenKey: EvalAttack = {
  name: 'stolen_sts_same_region', detectors: CRED, start: T0, end: T0 + 30 * MIN,
  identity: { token: { namespace: 'aws', id: 'ASIAEXAMPLEKEY000001' }, issuer: 'arn:aws:iam::123456789012:role/data-export-role' },
};
const ramp: EvalAttack = { name: 'mint_slow_ramp', detectors: ['mint_rate_spike'], start: T0, end: T0 + 3 * 24 * 60 * MIN, identity: { issuer: '0oaReportingEtl' } };
const revoked: EvalAttack = { name: 'use_10min_after_revoke', detectors: ['token_replay'], start: T0 + 60 * MIN, end: T0 + 62 * MIN, identity: { token: { namespace: 'jti', id: 'AT.revoked' } } };
const attacks = [stolenKey, ramp, revoked];
const keyFp = fingerprint('aws', 'ASIAEXAMPLEKEY000001');
const jtiFp = fingerprint('jti', 'AT.revoked');

const alert = (a: Partial<EvalAlert> & { detector: string; time: number }): EvalAlert => ({ kind: 'k', summary: 's', ...a });
const SLACK = 120 * MIN;

describe('matchAlerts', () => {
  it('an accepted detector naming the token inside the window detects the attack; delay is from the start', () => {
    const r = matchAlerts([
      alert({ detector: 'token_replay', time: T0 + 7 * MIN, token_fp: keyFp }),
      alert({ detector: 'credential_context', time: T0 + 3 * MIN, token_fp: keyFp }),
    ], attacks, fingerprint, SLACK);
    const o = r.attacks.find((x) => x.attack === stolenKey)!;
    expect(o.detected).toBe(true);
    expect(o.delayMs).toBe(3 * MIN); // the earliest matching alert, whatever the order of arrival
    expect(o.alerts).toBe(2);
    expect(o.detectors.sort()).toEqual(['credential_context', 'token_replay']);
    expect(r.verdicts.map((v) => v.verdict)).toEqual(['true', 'true']);
  });

  it('the token is matched through the replay fingerprinter: another key or another HMAC key does not match', () => {
    const other = createFingerprinter({ key: 'some-other-key-0123456789' });
    const r = matchAlerts([
      alert({ detector: 'token_replay', time: T0 + MIN, token_fp: other('aws', 'ASIAEXAMPLEKEY000001') }),
      alert({ detector: 'token_replay', time: T0 + MIN, token_fp: fingerprint('aws', 'ASIAEXAMPLEKEY000002') }),
      alert({ detector: 'token_replay', time: T0 + MIN, token_fp: fingerprint('jti', 'ASIAEXAMPLEKEY000001') }),
    ], attacks, fingerprint, SLACK);
    expect(r.attacks.find((x) => x.attack === stolenKey)!.detected).toBe(false);
    expect(r.verdicts.every((v) => v.verdict === 'false')).toBe(true);
  });

  it('an issuer-keyed alert (no token) names a token-keyed attack by its issuer; naming another token does not', () => {
    const r = matchAlerts([
      alert({ detector: 'credential_context', time: T0 + 2 * MIN, issuer: stolenKey.identity.issuer! }),
      alert({ detector: 'credential_context', time: T0 + 2 * MIN, issuer: stolenKey.identity.issuer!, token_fp: fingerprint('aws', 'ASIAOTHERKEY00000001') }),
    ], [stolenKey], fingerprint, SLACK);
    expect(r.verdicts.map((v) => v.verdict)).toEqual(['true', 'related']);
  });

  it('issuer-keyed attacks match any alert on that issuer, also one that names a token', () => {
    const r = matchAlerts([alert({ detector: 'mint_rate_spike', time: T0 + 20 * 60 * MIN, issuer: '0oaReportingEtl', token_fp: fingerprint('jti', 'AT.x') })], [ramp], fingerprint, SLACK);
    expect(r.attacks[0]!.detected).toBe(true);
    expect(r.attacks[0]!.delayMs).toBe(20 * 60 * MIN);
  });

  it('window: from the start to end + slack, inclusive; up to a day later related; otherwise false', () => {
    const at = (time: number) => matchAlerts([alert({ detector: 'token_replay', time, token_fp: jtiFp })], [revoked], fingerprint, SLACK).verdicts[0]!.verdict;
    expect(at(revoked.start - 1)).toBe('false');
    expect(at(revoked.start)).toBe('true');
    expect(at(revoked.end + SLACK)).toBe('true');
    expect(at(revoked.end + SLACK + 1)).toBe('related');
    expect(at(revoked.end + AFTERGLOW_MS)).toBe('related');
    expect(at(revoked.end + AFTERGLOW_MS + 1)).toBe('false');
    const late = matchAlerts([alert({ detector: 'token_replay', time: revoked.end + SLACK + 1, token_fp: jtiFp })], [revoked], fingerprint, SLACK);
    expect(late.attacks[0]!.detected).toBe(false);
  });

  it('a detector the attack does not accept is "related", not true and not false; unrelated alerts are false', () => {
    const r = matchAlerts([
      alert({ detector: 'cross_service_reuse', time: revoked.start, token_fp: jtiFp }),
      alert({ detector: 'scope_drift', time: T0, issuer: '0oaSomebodyElse' }),
    ], attacks, fingerprint, SLACK);
    expect(r.verdicts.map((v) => [v.verdict, v.attack])).toEqual([['related', 'use_10min_after_revoke'], ['false', undefined]]);
    expect(r.attacks.find((x) => x.attack === revoked)!.detected).toBe(false);
  });

  it("an alert on a token-keyed attack's issuer that names another token is related (about the attack, not its key)", () => {
    const r = matchAlerts([
      alert({ detector: 'mint_rate_spike', time: T0 + 5 * MIN, issuer: stolenKey.identity.issuer!, token_fp: fingerprint('aws', 'ASIAOTHERKEY00000001') }),
      alert({ detector: 'mint_rate_spike', time: T0 + 40 * 60 * MIN, issuer: stolenKey.identity.issuer! }),
    ], [stolenKey], fingerprint, SLACK);
    expect(r.verdicts.map((v) => v.verdict)).toEqual(['related', 'false']);
    expect(r.attacks[0]!.detected).toBe(false);
  });

  it('families: credential-theft variants report together; cross_service_reuse alerts count there', () => {
    expect(familyOfAttack(stolenKey)).toBe('credential_context');
    expect(familyOfAttack(ramp)).toBe('mint_rate_spike');
    expect(familyOfAttack(revoked)).toBe('token_replay');
    expect(familyOfDetector('cross_service_reuse')).toBe('credential_context');
    expect(familyOfDetector('token_replay')).toBe('token_replay');
  });
});

describe('summarize and floors', () => {
  const seedRun = (seed: number, alerts: EvalAlert[], benignEvents: number): SeedRun => ({
    seed, events: benignEvents + 10, benignEvents, result: matchAlerts(alerts, attacks, fingerprint, SLACK),
  });
  const runs = [
    seedRun(1, [
      alert({ detector: 'credential_context', time: T0 + 4 * MIN, token_fp: keyFp }),
      alert({ detector: 'mint_rate_spike', time: T0 + 10 * MIN, issuer: '0oaReportingEtl' }),
      alert({ detector: 'token_replay', kind: 'use_after_revocation', time: T0, token_fp: fingerprint('jti', 'AT.benign'), summary: 'drained request' }),
    ], 1_000_000),
    seedRun(2, [
      alert({ detector: 'mint_rate_spike', time: T0 + 30 * MIN, issuer: '0oaReportingEtl' }),
      alert({ detector: 'token_replay', kind: 'use_after_revocation', time: T0, token_fp: fingerprint('jti', 'AT.benign2') }),
      alert({ detector: 'token_replay', kind: 'new_context', time: T0, token_fp: fingerprint('jti', 'AT.benign3') }),
    ], 1_000_000),
  ];
  const s = summarize(runs);
  const fam = (f: string) => s.families.find((x) => x.family === f)!;

  it('per family: recall, precision, false alerts per million benign events, median and max delay', () => {
    expect(fam('mint_rate_spike')).toMatchObject({ attacks: 2, detected: 2, recall: 1, trueAlerts: 2, falseAlerts: 0, precision: 1, medianDelayMin: 20, maxDelayMin: 30 });
    expect(fam('credential_context')).toMatchObject({ attacks: 2, detected: 1, recall: 0.5, medianDelayMin: 4, maxDelayMin: 4 });
    expect(fam('token_replay')).toMatchObject({ attacks: 2, detected: 0, recall: 0, alerts: 3, trueAlerts: 0, falseAlerts: 3, precision: 0, falsePerMillion: 1.5, medianDelayMin: null });
    expect(fam('scope_drift')).toMatchObject({ attacks: 0, recall: null, precision: null, falsePerMillion: 0 });
    expect(s.total).toMatchObject({ attacks: 6, detected: 3, falseAlerts: 3 });
    expect(s.benignEvents).toBe(2_000_000);
  });

  it('lists missed attacks per seed and false-alert kinds by count with an example', () => {
    expect(s.missed.map((m) => `${m.seed}:${m.attack}`).sort()).toEqual(['1:use_10min_after_revoke', '2:stolen_sts_same_region', '2:use_10min_after_revoke']);
    expect(s.topFalse[0]).toEqual({ kind: 'token_replay/use_after_revocation', count: 2, example: 'drained request' });
    expect(s.topFalse[1]!.kind).toBe('token_replay/new_context');
    const text = formatReport(s, 'header');
    expect(text).toContain(`≤ ${TARGETS.falsePerMillion}`);
    expect(text).toContain('| `token_replay` | 0/2 | 0% | 3 | 0 | 3 | 0% | 1.5 |');
  });

  it('floors written from a run hold for that run and catch a worse one', () => {
    const floors = floorsFrom(s, 'npm run eval -- --ci');
    expect(floors.measured_with).toBe('npm run eval -- --ci');
    expect(floors.families.token_replay).toEqual({ min_recall: 0, min_precision: 0, max_false_per_million: 1.5 });
    expect(floors.families.scope_drift).toEqual({ max_false_per_million: 0 });
    expect(checkFloors(s, floors)).toEqual([]);
    const worse = summarize([runs[0]!, seedRun(2, [alert({ detector: 'token_replay', time: T0, token_fp: fingerprint('jti', 'AT.b') })], 1_000_000)]);
    expect(checkFloors(worse, floors)).toEqual(['mint_rate_spike: recall 50% < floor 100%']);
  });

  it('floors: nothing below them passes; each figure below its floor is reported', () => {
    expect(checkFloors(s, { families: { mint_rate_spike: { min_recall: 1, max_false_per_million: 0, max_median_delay_minutes: 20 } } })).toEqual([]);
    const below = checkFloors(s, {
      families: {
        credential_context: { min_recall: 0.6 },
        token_replay: { max_false_per_million: 1 },
        mint_rate_spike: { max_median_delay_minutes: 15, min_precision: 1 },
      },
    });
    // min_precision 1 holds (2 of 2 true); the others fail, in family order
    expect(below).toEqual([
      'mint_rate_spike: median delay 20.0 min > ceiling 15.0 min',
      'token_replay: 1.5 false alerts per million benign events > ceiling 1.0',
      'credential_context: recall 50% < floor 60%',
    ]);
  });
});
