/**
 * Alerts → incidents, in event time. An alert joins the open incident it shares a key with:
 *   token   its token_fp,
 *   chain   a token up its mint chain (the parent_fp of its token's mint, and that token's
 *           parent, up to MAX_CHAIN_DEPTH), learnt from the events the engine releases,
 *   issuer  its issuer,
 * when the alert started no later than `windowMs` after the incident's last activity. An alert
 * matching several open incidents merges them into the oldest. An incident closes once the
 * event-time clock (newest alert or repeat seen, or advanceTo()) is `windowMs` past its last
 * activity, or `maxSpanMs` past its start; closed incidents are collected by drain().
 *
 * Deterministic: the incident id is a hash of its first alert's id, and everything depends only
 * on the order of observe* calls, which the engine makes deterministic. Bounded: open incidents
 * (the least recently active closes early), keys and listed alerts per incident, parent links
 * (LRU + TTL). snapshot()/restore() make it serializable for checkpoints.
 */
import type { Alert, Severity } from '../../schemas/alert.js';
import { SEVERITIES } from '../../schemas/alert.js';
import type { Incident, IncidentAlert, IncidentLink, TimelineEntry } from '../../schemas/incident.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import type { EngineObserver } from '../pipeline/detection-engine.js';
import { KeyedStore, type KeyedEntry } from '../core/keyed-store.js';
import { sha256Hex } from '../core/hash.js';
import { isoTime } from '../core/time.js';

export interface IncidentBuilderOptions {
  /** Alerts this close (event time) to an incident's last activity join it. */
  windowMs: number;
  /** An incident closes at the latest this long after its first alert. */
  maxSpanMs: number;
  maxOpen: number;
  /** Token → parent links remembered (LRU; forgotten after maxSpanMs idle). */
  maxParents: number;
}

export const DEFAULT_INCIDENT_OPTIONS: Readonly<IncidentBuilderOptions> = {
  windowMs: 60 * 60_000,
  maxSpanMs: 24 * 60 * 60_000,
  maxOpen: 10_000,
  maxParents: 200_000,
};

const MAX_LISTED = 100;
const MAX_KEYS = 1000;
const MAX_CHAIN_DEPTH = 4;

interface OpenIncident {
  id: string;
  start: number;
  last: number;
  alertCount: number;
  suppressed: number;
  severity: number;
  detectors: string[];
  tokenFps: string[];
  issuers: string[];
  alerts: IncidentAlert[];
  keys: IndexEntry[];
}

/** A key of an incident; the same object is in the incident's `keys` and in the key index. */
interface IndexEntry {
  key: string;
  incident: string;
  /** Registered from a mint chain (by either alert): links through it are `chain` links. */
  chain: boolean;
}

export interface IncidentBuilderSnapshot {
  v: 1;
  clock: number;
  open: OpenIncident[];
  closed: Incident[];
  parents: [string, KeyedEntry<{ parent: string }>][];
}

const newParentSlot = (): { parent: string } => ({ parent: '' });

export class IncidentBuilder implements EngineObserver {
  private readonly opts: IncidentBuilderOptions;
  /** Open incidents by id, in creation order. */
  private open = new Map<string, OpenIncident>();
  private readonly keyIndex = new Map<string, IndexEntry>();
  private readonly alertIndex = new Map<string, string>();
  private readonly parents: KeyedStore<{ parent: string }>;
  private closed: Incident[] = [];
  private clock = -Infinity;

  constructor(opts: Partial<IncidentBuilderOptions> = {}) {
    this.opts = { ...DEFAULT_INCIDENT_OPTIONS, ...opts };
    this.parents = new KeyedStore(this.opts.maxParents, this.opts.maxSpanMs);
  }

  /** Engine hook: remember mint chains (token → the token it was minted with). */
  observeEvent(ev: TokenEvent): void {
    const parent = ev.parent_fp;
    if (parent === undefined || parent === ev.token.fp) return;
    this.parents.touch(ev.token.fp, ev.time, newParentSlot).parent = parent;
  }

  /** Engine hook: a repeat of `alertId` was suppressed; it counts and keeps the incident open. */
  observeSuppressed(alertId: string, time: number): void {
    this.advanceTo(time);
    const inc = this.open.get(this.alertIndex.get(alertId) ?? '');
    if (!inc) return;
    inc.suppressed++;
    const member = inc.alerts.find((a) => a.alert_id === alertId);
    if (member) member.suppressed_repeats++;
    if (time > inc.last) inc.last = time;
  }

  observeAlerts(alerts: readonly Alert[]): void {
    for (const a of alerts) this.observeAlert(a);
  }

  observeAlert(alert: Alert): void {
    const start = Date.parse(alert.first_seen);
    const end = Date.parse(alert.last_seen);
    this.advanceTo(end);
    const keys = this.keysOf(alert);
    let linked: IncidentLink = 'first';
    const matches: OpenIncident[] = [];
    for (const k of keys) {
      const hit = this.keyIndex.get(k.key);
      const inc = hit && this.open.get(hit.incident);
      if (!inc || start > inc.last + this.opts.windowMs || matches.includes(inc)) continue;
      if (matches.length === 0) linked = k.chain || hit.chain ? 'chain' : k.key.startsWith('i:') ? 'issuer' : 'token';
      matches.push(inc);
    }
    let target: OpenIncident;
    if (matches.length === 0) {
      target = this.create(alert, start);
    } else {
      // an alert bridging several incidents merges them into the oldest
      target = matches.reduce((a, b) => (b.start < a.start || (b.start === a.start && b.id < a.id) ? b : a));
      for (const o of matches) if (o !== target) this.merge(target, o);
    }
    this.add(target, alert, start, end, linked, keys);
    if (this.open.size > this.opts.maxOpen) this.closeLeastRecent();
  }

  /** Move the event-time clock: incidents idle for windowMs (or older than maxSpanMs) close. */
  advanceTo(time: number): void {
    if (!(time > this.clock)) return;
    this.clock = time;
    const closing: OpenIncident[] = [];
    for (const inc of this.open.values()) {
      if (time > inc.last + this.opts.windowMs || time > inc.start + this.opts.maxSpanMs) closing.push(inc);
    }
    this.close(closing);
    this.parents.evictIdle(time);
  }

  /** End of input: close everything. */
  finish(): void {
    this.close([...this.open.values()]);
  }

  /** Incidents closed since the last drain, by (first_seen, incident_id). */
  drain(): Incident[] {
    const out = this.closed;
    this.closed = [];
    return out;
  }

  get openCount(): number {
    return this.open.size;
  }

  snapshot(): IncidentBuilderSnapshot {
    return structuredClone({ v: 1, clock: this.clock, open: [...this.open.values()], closed: this.closed, parents: this.parents.toJSON() });
  }

  restore(s: IncidentBuilderSnapshot): void {
    const copy = structuredClone(s);
    this.clock = copy.clock ?? -Infinity;
    this.closed = copy.closed;
    this.parents.load(copy.parents);
    this.open = new Map();
    this.keyIndex.clear();
    this.alertIndex.clear();
    for (const inc of copy.open) this.index(inc);
  }

  private keysOf(alert: Alert): { key: string; chain: boolean }[] {
    const keys: { key: string; chain: boolean }[] = [];
    if (alert.token_fp !== undefined) {
      keys.push({ key: `t:${alert.token_fp}`, chain: false });
      let fp = alert.token_fp;
      for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
        const parent = this.parents.get(fp)?.parent;
        if (parent === undefined || keys.some((k) => k.key === `t:${parent}`)) break;
        keys.push({ key: `t:${parent}`, chain: true });
        fp = parent;
      }
    }
    if (alert.issuer !== undefined) keys.push({ key: `i:${alert.issuer}`, chain: false });
    return keys;
  }

  private create(alert: Alert, start: number): OpenIncident {
    const inc: OpenIncident = {
      id: sha256Hex(`incident\0${alert.alert_id}`),
      start, last: start, alertCount: 0, suppressed: 0, severity: 0,
      detectors: [], tokenFps: [], issuers: [], alerts: [], keys: [],
    };
    this.open.set(inc.id, inc);
    return inc;
  }

  private add(inc: OpenIncident, alert: Alert, start: number, end: number, linked: IncidentLink, keys: { key: string; chain: boolean }[]): void {
    inc.alertCount++;
    inc.start = Math.min(inc.start, start);
    inc.last = Math.max(inc.last, end);
    inc.severity = Math.max(inc.severity, SEVERITIES.indexOf(alert.severity));
    addBounded(inc.detectors, alert.detector);
    if (alert.token_fp !== undefined) addBounded(inc.tokenFps, alert.token_fp);
    if (alert.issuer !== undefined) addBounded(inc.issuers, alert.issuer);
    if (inc.alerts.length < MAX_LISTED) {
      inc.alerts.push({
        alert_id: alert.alert_id, detector: alert.detector, kind: alert.kind, severity: alert.severity, score: alert.score, title: alert.title,
        ...(alert.token_fp !== undefined && { token_fp: alert.token_fp }),
        ...(alert.issuer !== undefined && { issuer: alert.issuer }),
        first_seen: alert.first_seen, last_seen: alert.last_seen, suppressed_repeats: alert.suppressed_repeats ?? 0, linked_by: linked,
      });
    }
    this.alertIndex.set(alert.alert_id, inc.id);
    for (const k of keys) {
      const hit = this.keyIndex.get(k.key);
      if (hit?.incident === inc.id) {
        hit.chain ||= k.chain;
      } else if (inc.keys.length < MAX_KEYS) {
        // a key of a closed-over incident outside the window moves to this one
        const entry: IndexEntry = { key: k.key, incident: inc.id, chain: k.chain };
        if (hit) this.dropKey(hit);
        inc.keys.push(entry);
        this.keyIndex.set(k.key, entry);
      }
    }
  }

  private merge(into: OpenIncident, from: OpenIncident): void {
    this.open.delete(from.id);
    into.start = Math.min(into.start, from.start);
    into.last = Math.max(into.last, from.last);
    into.alertCount += from.alertCount;
    into.suppressed += from.suppressed;
    into.severity = Math.max(into.severity, from.severity);
    for (const d of from.detectors) addBounded(into.detectors, d);
    for (const t of from.tokenFps) addBounded(into.tokenFps, t);
    for (const i of from.issuers) addBounded(into.issuers, i);
    for (const a of from.alerts) {
      if (into.alerts.length < MAX_LISTED) into.alerts.push(a);
    }
    for (const [id, incId] of this.alertIndex) if (incId === from.id) this.alertIndex.set(id, into.id);
    for (const k of from.keys) {
      if (into.keys.length < MAX_KEYS) {
        k.incident = into.id;
        into.keys.push(k);
      } else this.keyIndex.delete(k.key);
    }
  }

  private dropKey(entry: IndexEntry): void {
    const owner = this.open.get(entry.incident);
    if (owner) owner.keys.splice(owner.keys.indexOf(entry), 1);
    this.keyIndex.delete(entry.key);
  }

  private closeLeastRecent(): void {
    let oldest: OpenIncident | undefined;
    for (const inc of this.open.values()) if (!oldest || inc.last < oldest.last) oldest = inc;
    if (oldest) this.close([oldest]);
  }

  private close(incidents: OpenIncident[]): void {
    if (incidents.length === 0) return;
    const out: Incident[] = [];
    for (const inc of incidents) {
      this.open.delete(inc.id);
      for (const k of inc.keys) if (this.keyIndex.get(k.key) === k) this.keyIndex.delete(k.key);
      for (const a of inc.alerts) this.alertIndex.delete(a.alert_id);
      out.push(toIncident(inc));
    }
    if (this.alertIndex.size > this.open.size * MAX_LISTED * 4) {
      // alerts past the listed 100 of an incident are indexed too: drop those of closed incidents
      for (const [id, incId] of this.alertIndex) if (!this.open.has(incId)) this.alertIndex.delete(id);
    }
    out.sort((a, b) => (a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : a.incident_id < b.incident_id ? -1 : 1));
    this.closed.push(...out);
  }

  private index(inc: OpenIncident): void {
    this.open.set(inc.id, inc);
    for (const k of inc.keys) this.keyIndex.set(k.key, k);
    for (const a of inc.alerts) this.alertIndex.set(a.alert_id, inc.id);
  }
}

function addBounded(list: string[], v: string): void {
  if (list.length < MAX_LISTED && !list.includes(v)) list.push(v);
}

/** Combined severity: the highest member severity, one level up when ≥ 2 detector families agree. */
export function combinedSeverity(maxIndex: number, detectorFamilies: number): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, maxIndex + (detectorFamilies >= 2 ? 1 : 0))]!;
}

function toIncident(inc: OpenIncident): Incident {
  const timeline: TimelineEntry[] = inc.alerts
    .map((a) => ({ time: a.first_seen, alert_id: a.alert_id, detector: a.detector, kind: a.kind, severity: a.severity, title: a.title }))
    .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.alert_id < b.alert_id ? -1 : 1));
  const detectors = [...inc.detectors].sort() as Incident['detectors'];
  const subject = inc.tokenFps.length === 1 ? `token ${inc.tokenFps[0]!.slice(0, 12)}…` : inc.issuers.length === 1 ? `issuer ${inc.issuers[0]}` : `${inc.tokenFps.length} tokens, ${inc.issuers.length} issuers`;
  return {
    schema_version: 1,
    incident_id: inc.id,
    title: `${inc.alertCount} alert${inc.alertCount === 1 ? '' : 's'} from ${detectors.join(', ')} on ${subject}`,
    severity: combinedSeverity(inc.severity, detectors.length),
    max_alert_severity: SEVERITIES[inc.severity]!,
    detectors,
    token_fps: inc.tokenFps,
    issuers: inc.issuers,
    first_seen: isoTime(inc.start),
    last_seen: isoTime(inc.last),
    alert_count: inc.alertCount,
    suppressed_repeats: inc.suppressed,
    alerts: inc.alerts,
    timeline,
  };
}
