/**
 * Deploy awareness for new read-level scopes. A release that adds a scope to an app reaches every
 * OAuth client of that app (per environment, tenant or region) within minutes; a thief adds a
 * scope to one. So an alert for a new read/unclassified scope is held for a short while in event
 * time, and dropped if enough other issuers of the same authority gained the same scope around
 * it (a rollout); write/admin scopes are never held.
 *
 * In the Kafka runtime each task sees only its share of issuers (keyed by issuer), so a rollout
 * is recognised from the issuers of one task: keep `min_issuers` small.
 */
import type { AlertDraft } from '../types.js';

export interface RolloutOptions {
  /** Distinct issuers gaining one scope within `windowMs` that make it a rollout. */
  minIssuers: number;
  windowMs: number;
  /** How long a read-level alert waits for the rest of a rollout; 0 emits at once. */
  holdMs: number;
  maxScopes: number;
  maxPending: number;
}

interface Gain {
  /** Event time the first issuer of this wave gained the scope. */
  first: number;
  /** Issuers of this wave and when each gained the scope (at most minIssuers). */
  issuers: [string, number][];
}

export interface PendingAlert {
  due: number;
  /** Rollout keys of the draft's scopes: it is dropped only if all of them rolled out. */
  keys: string[];
  draft: AlertDraft;
}

export interface RolloutSnapshot {
  gains: [string, number, [string, number][]][];
  pending: PendingAlert[];
}

export class RolloutTracker {
  /** Rollout key (authority + scope) → its current wave; Map order is LRU order. */
  private gains = new Map<string, Gain>();
  private pending: PendingAlert[] = [];
  /** Gains or pending alerts changed since the last takeChanged() (for the state changelog). */
  private changed = false;

  constructor(private readonly opts: RolloutOptions) {}

  static key(authority: string, scope: string): string {
    return `${authority}\u0000${scope}`;
  }

  /** `issuer` newly gained the scope behind `key` at `time`. */
  note(key: string, issuer: string, time: number): void {
    this.changed = true;
    let g = this.gains.get(key);
    if (g && time - g.first > this.opts.windowMs) g = undefined; // an old wave: start a new one
    if (!g) g = { first: time, issuers: [] };
    else this.gains.delete(key);
    if (g.issuers.length < this.opts.minIssuers && !g.issuers.some(([i]) => i === issuer)) g.issuers.push([issuer, time]);
    this.gains.set(key, g);
    if (this.gains.size > this.opts.maxScopes) {
      const oldest = this.gains.keys().next().value;
      if (oldest !== undefined) this.gains.delete(oldest);
    }
  }

  /** Whether enough issuers gained the scope by `time` (a held alert asks as of its due time, however late it is released). */
  rolledOut(key: string, time: number): boolean {
    const g = this.gains.get(key);
    if (!g || g.issuers.length < this.opts.minIssuers) return false;
    let n = 0;
    for (const [, t] of g.issuers) if (t <= time) n++;
    return n >= this.opts.minIssuers;
  }

  /**
   * Holds a read-level draft until `time + holdMs`; returns what must be emitted now: the draft
   * itself when holding is off, or the oldest held draft when the queue is full (never lost).
   */
  hold(draft: AlertDraft, keys: string[], time: number): AlertDraft[] {
    if (keys.every((k) => this.rolledOut(k, time))) return [];
    if (this.opts.holdMs <= 0) return [draft];
    this.changed = true;
    this.pending.push({ due: time + this.opts.holdMs, keys, draft });
    return this.pending.length > this.opts.maxPending ? [this.pending.shift()!.draft] : [];
  }

  /** Held drafts due by `watermark`: dropped when all their scopes rolled out, emitted otherwise. */
  release(watermark: number): AlertDraft[] {
    const out: AlertDraft[] = [];
    if (this.pending.length > 0) {
      const keep: PendingAlert[] = [];
      for (const p of this.pending) {
        if (p.due > watermark) keep.push(p);
        else if (!p.keys.every((k) => this.rolledOut(k, p.due))) out.push(p.draft);
      }
      if (keep.length !== this.pending.length) this.changed = true;
      this.pending = keep;
    }
    // waves whose window and every hold that could still ask about them are over
    const horizon = watermark - this.opts.windowMs - this.opts.holdMs;
    for (const [k, g] of this.gains) {
      if (g.first < horizon) {
        this.gains.delete(k);
        this.changed = true;
      }
    }
    return out;
  }

  /** Whether anything changed since the last call. */
  takeChanged(): boolean {
    const c = this.changed;
    this.changed = false;
    return c;
  }

  get size(): number {
    return this.gains.size + this.pending.length;
  }

  snapshot(): RolloutSnapshot {
    return {
      gains: [...this.gains].map(([k, g]) => [k, g.first, g.issuers.map(([i, t]) => [i, t] as [string, number])]),
      pending: this.pending.map((p) => ({ due: p.due, keys: [...p.keys], draft: p.draft })),
    };
  }

  restore(s: RolloutSnapshot | undefined): void {
    this.gains = new Map((s?.gains ?? []).map(([k, first, issuers]) => [k, { first, issuers: issuers.map(([i, t]) => [i, t] as [string, number]) }]));
    this.pending = (s?.pending ?? []).map((p) => ({ due: p.due, keys: [...p.keys], draft: p.draft }));
    this.changed = true;
  }

  /** Install the state a changelog holds (not a change). */
  put(s: RolloutSnapshot): void {
    this.restore(s);
    this.changed = false;
  }
}
