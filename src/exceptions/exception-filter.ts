/**
 * Operator exceptions applied where drafts become alerts (DetectionEngine's AlertFilter): a
 * draft matching a live exception is dropped and counted per (detector, exception id); one
 * matching only expired exceptions is kept and counted as an expired match, so a lapsed
 * exception shows up instead of silently paging again. Expiry is judged at the trigger
 * event's time (replays of old logs honour the exceptions that were live then).
 */
import type { DetectorId } from '../../schemas/alert.js';
import { expiresAt, type ExceptionEntry } from '../../schemas/exception.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { AlertDraft } from '../../detectors/types.js';
import type { AlertFilter } from '../pipeline/detection-engine.js';
import { compileGlob, type GlobMatcher } from '../policy/glob.js';
import { compileNetworkList, type NetworkVerdict } from '../policy/network-match.js';

interface CompiledException {
  entry: ExceptionEntry;
  expiresAt: number;
  issuer?: GlobMatcher;
  network?: (n: TokenEvent['network']) => NetworkVerdict;
  userAgent?: (ua: string) => boolean;
  workload?: GlobMatcher;
}

export interface ExceptedCount {
  detector: DetectorId;
  exception: string;
  count: number;
}

/** The product part of a user agent: "payments-worker/1.22.1 Go-http-client/2.0" → "payments-worker". */
export const userAgentFamily = (ua: string): string => (ua.trim().split(/[/\s]/, 1)[0] ?? '').toLowerCase();

function compile(entry: ExceptionEntry): CompiledException {
  const c: CompiledException = { entry, expiresAt: expiresAt(entry) };
  if (entry.issuer !== undefined) c.issuer = compileGlob(entry.issuer);
  if (entry.network !== undefined || entry.asn !== undefined) c.network = compileNetworkList({ cidrs: entry.network, asns: entry.asn });
  if (entry.user_agent !== undefined) {
    const p = entry.user_agent;
    if (p.includes('*') || p.includes('?')) c.userAgent = compileGlob(p);
    else {
      const family = p.toLowerCase();
      c.userAgent = (ua) => userAgentFamily(ua) === family;
    }
  }
  if (entry.workload !== undefined) c.workload = compileGlob(entry.workload);
  return c;
}

function workloadOf(draft: AlertDraft, trigger: TokenEvent | undefined): TokenEvent['workload'] {
  if (trigger?.workload) return trigger.workload;
  for (const e of draft.events) if (e.workload) return e.workload;
  return undefined;
}

/** Does the exception's scope (everything but expiry) cover this draft? */
function covers(c: CompiledException, draft: AlertDraft): boolean {
  if (c.entry.kind !== undefined && c.entry.kind !== draft.kind) return false;
  const trigger = draft.events[draft.events.length - 1];
  if (c.issuer) {
    const issuer = draft.issuer ?? trigger?.issuer;
    if (issuer === undefined || !c.issuer(issuer)) return false;
  }
  if (c.network && c.network(trigger?.network) !== 'inside') return false;
  if (c.userAgent && (trigger?.user_agent === undefined || !c.userAgent(trigger.user_agent))) return false;
  if (c.workload) {
    const w = workloadOf(draft, trigger);
    if (!w || !(c.workload(w.id) || c.workload(`${w.kind}:${w.id}`))) return false;
  }
  return true;
}

export class ExceptionFilter implements AlertFilter {
  private readonly byDetector = new Map<string, CompiledException[]>();
  private readonly excepted = new Map<string, ExceptedCount>();
  private readonly expired = new Map<string, number>();

  constructor(readonly entries: readonly ExceptionEntry[]) {
    for (const e of entries) {
      const list = this.byDetector.get(e.detector) ?? [];
      list.push(compile(e));
      this.byDetector.set(e.detector, list);
    }
  }

  drop(detector: DetectorId, draft: AlertDraft, time: number): string | undefined {
    const list = this.byDetector.get(detector);
    if (list === undefined) return undefined;
    let lapsed: string | undefined;
    for (const c of list) {
      if (!covers(c, draft)) continue;
      if (time >= c.expiresAt) {
        lapsed ??= c.entry.id;
        continue;
      }
      const key = `${detector}\u0000${c.entry.id}`;
      const n = this.excepted.get(key);
      if (n) n.count++;
      else this.excepted.set(key, { detector, exception: c.entry.id, count: 1 });
      return c.entry.id;
    }
    if (lapsed !== undefined) this.expired.set(lapsed, (this.expired.get(lapsed) ?? 0) + 1);
    return undefined;
  }

  /** Drafts dropped, per (detector, exception id). */
  counts(): ExceptedCount[] {
    return [...this.excepted.values()].map((c) => ({ ...c }));
  }

  /** Drafts dropped, per exception id (the replay summary). */
  countsByException(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.excepted.values()) out[c.exception] = (out[c.exception] ?? 0) + c.count;
    return out;
  }

  /** Drafts an expired exception would have dropped (they were raised), per exception id. */
  expiredMatches(): Record<string, number> {
    return Object.fromEntries(this.expired);
  }
}

/** Exceptions whose expiry is at or before `at` (epoch ms), soonest-expired first. */
export function expiredExceptions(entries: readonly ExceptionEntry[], at: number): ExceptionEntry[] {
  return entries.filter((e) => expiresAt(e) <= at).sort((a, b) => expiresAt(a) - expiresAt(b));
}
