/**
 * Alert ↔ attack matching for the detection evaluation. An alert detects an attack when its
 * detector is one the attack accepts, its event time is inside [start, end + slack], and it
 * names the attack's identity: the attack's token (fingerprinted with the replay's own
 * fingerprinter) or its issuer (see `names`). Alerts inside an attack's window that name it
 * under a detector it does not accept, or that name only its issuer, and alerts that name it up
 * to a day after its window (rate windows still holding its events) are "related" (neither
 * true nor false); every other alert is false.
 */
import type { Fingerprinter } from '../core/fingerprint.js';

/** What the evaluation needs of an alert (schemas/alert.ts has more). */
export interface EvalAlert {
  detector: string;
  kind: string;
  /** Event time of the trigger (the alert's last_seen), epoch ms. */
  time: number;
  token_fp?: string;
  issuer?: string;
  summary: string;
}

/** What it needs of an attack's ground truth (src/simulate/attacks.ts InjectedAttack). */
export interface EvalAttack {
  name: string;
  detectors: readonly string[];
  start: number;
  end: number;
  identity: { token?: { namespace: string; id: string }; also_tokens?: { namespace: string; id: string }[]; issuer?: string };
  description?: string;
}

export type AlertVerdict = 'true' | 'related' | 'false';

export interface AttackOutcome {
  attack: EvalAttack;
  detected: boolean;
  /** Event time from the attack's start to its first accepted alert. */
  delayMs?: number;
  alerts: number;
  detectors: string[];
}

export interface MatchResult {
  attacks: AttackOutcome[];
  verdicts: { alert: EvalAlert; verdict: AlertVerdict; attack?: string }[];
}

interface Keyed {
  attack: EvalAttack;
  tokenFp?: string;
  /** Fingerprints of the other tokens the attack produced. */
  alsoFps: string[];
  issuer?: string;
}

/**
 * Whether `alert` names the attack. Token-keyed attacks: the alert's token, or its issuer when
 * it names no token (an issuer-keyed detector). Issuer-keyed attacks: the alert's issuer,
 * whichever token it also names (the attack mints tokens of its own).
 */
function names(alert: EvalAlert, k: Keyed): boolean {
  if (k.tokenFp !== undefined) {
    if (alert.token_fp === k.tokenFp || (alert.token_fp !== undefined && k.alsoFps.includes(alert.token_fp))) return true;
    return k.issuer !== undefined && alert.token_fp === undefined && alert.issuer === k.issuer;
  }
  return k.issuer !== undefined && alert.issuer === k.issuer;
}

/** After an attack's window, alerts that name it still count as related this long (24-hour rate windows). */
export const AFTERGLOW_MS = 24 * 60 * 60_000;

export function matchAlerts(
  alerts: readonly EvalAlert[], attacks: readonly EvalAttack[], fingerprint: Fingerprinter, slackMs: number,
): MatchResult {
  const keyed: Keyed[] = attacks.map((attack) => ({
    attack,
    tokenFp: attack.identity.token ? fingerprint(attack.identity.token.namespace, attack.identity.token.id) : undefined,
    alsoFps: (attack.identity.also_tokens ?? []).map((t) => fingerprint(t.namespace, t.id)),
    issuer: attack.identity.issuer,
  }));
  const outcomes = new Map<EvalAttack, AttackOutcome>(attacks.map((a) => [a, { attack: a, detected: false, alerts: 0, detectors: [] }]));
  const verdicts: MatchResult['verdicts'] = [];
  for (const alert of alerts) {
    let verdict: AlertVerdict = 'false';
    let which: string | undefined;
    for (const k of keyed) {
      const a = k.attack;
      if (alert.time < a.start || alert.time > a.end + Math.max(slackMs, AFTERGLOW_MS)) continue;
      const named = names(alert, k);
      if (!named && !(k.issuer !== undefined && alert.issuer === k.issuer)) continue;
      if (!named || !a.detectors.includes(alert.detector) || alert.time > a.end + slackMs) {
        if (verdict === 'false') {
          verdict = 'related';
          which = a.name;
        }
        continue;
      }
      verdict = 'true';
      which = a.name;
      const o = outcomes.get(a)!;
      o.alerts++;
      if (!o.detectors.includes(alert.detector)) o.detectors.push(alert.detector);
      const delay = alert.time - a.start;
      if (!o.detected || delay < o.delayMs!) o.delayMs = delay;
      o.detected = true;
    }
    verdicts.push(which === undefined ? { alert, verdict } : { alert, verdict, attack: which });
  }
  return { attacks: [...outcomes.values()], verdicts };
}

/** Reporting families: the detector an attack expects (all credential-theft variants are one family). */
export const EVAL_FAMILIES = ['mint_rate_spike', 'scope_drift', 'token_replay', 'credential_context'] as const;
export type EvalFamily = (typeof EVAL_FAMILIES)[number];

export function familyOfAttack(a: EvalAttack): EvalFamily {
  if (a.detectors.includes('credential_context') || a.detectors.length > 1) return 'credential_context';
  return (EVAL_FAMILIES as readonly string[]).includes(a.detectors[0]!) ? (a.detectors[0] as EvalFamily) : 'credential_context';
}

/** The family an alert's detector reports under (cross_service_reuse belongs to the credential family). */
export function familyOfDetector(detector: string): EvalFamily | undefined {
  if (detector === 'cross_service_reuse' || detector === 'credential_context') return 'credential_context';
  return (EVAL_FAMILIES as readonly string[]).includes(detector) ? (detector as EvalFamily) : undefined;
}
