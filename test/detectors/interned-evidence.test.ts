/**
 * Compact evidence (detectors/interned-evidence.ts): a kept event rebuilds into exactly what
 * evidenceOf keeps, repeated parts are one shared object, and the interner stays bounded.
 */
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { evidenceOf } from '../../detectors/evidence.js';
import { EvidenceInterner, timeAt, timeOffset, toTokenEvent } from '../../detectors/interned-evidence.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { realisticEvents } from './realistic-events.js';

/** The event as a fresh JSON copy, as the runtime delivers it (no string shared with the original). */
const fresh = (e: TokenEvent): TokenEvent => JSON.parse(JSON.stringify(e)) as TokenEvent;

describe('compact evidence', () => {
  let events: TokenEvent[] = [];
  beforeAll(() => {
    events = realisticEvents({ days: 5, scale: 0.2 });
  }, 120_000);

  it('rebuilds every realistic event into what evidenceOf keeps (own token and another token)', () => {
    const interner = new EvidenceInterner();
    // kept in another token's record too (a child's mint kept for its parent)
    const owner = 'tw1:00000000000000000000000000000000';
    const differ: string[] = [];
    for (const e of events) {
      const want = evidenceOf(e);
      if (!isDeepStrictEqual(toTokenEvent(interner.evidence(fresh(e), e.token.fp), e.token.fp), want)) differ.push(e.event_id);
      if (!isDeepStrictEqual(toTokenEvent(interner.evidence(fresh(e), owner), owner), want)) differ.push(`${e.event_id} (other owner)`);
    }
    expect(events.length).toBeGreaterThan(1000);
    expect(differ).toEqual([]);
  });

  it('keeps one shared head, network and scope list for events that repeat them', () => {
    const interner = new EvidenceInterner();
    const e = events.find((x) => x.network !== undefined && x.scopes_granted !== undefined && x.issuer !== undefined)!;
    const a = interner.evidence(fresh(e), e.token.fp);
    const b = interner.evidence({ ...fresh(e), event_id: 'other', time: e.time + 1 }, e.token.fp);
    expect(b.head).toBe(a.head);
    expect(b.network).toBe(a.network);
    expect(b.head.scopes).toBe(a.head.scopes);
    expect(Object.isFrozen(a.head) && Object.isFrozen(a.network) && Object.isFrozen(a.head.scopes)).toBe(true);
    // a different issuer is another head
    const c = interner.evidence({ ...fresh(e), issuer: `${e.issuer}-x` }, e.token.fp);
    expect(c.head).not.toBe(a.head);
    expect(toTokenEvent(c, e.token.fp).issuer).toBe(`${e.issuer}-x`);
  });

  it('flat() shares one copy per distinct record, absent members stay absent', () => {
    const interner = new EvidenceInterner();
    const fields = ['ip', 'network', 'private'] as const;
    const a = interner.flat<{ ip?: string; network?: string; private: boolean }>(fields as never, { ip: '10.0.0.1', private: true });
    const b = interner.flat<{ ip?: string; network?: string; private: boolean }>(fields as never, { ip: '10.0.0.1', private: true });
    const c = interner.flat<{ ip?: string; network?: string; private: boolean }>(fields as never, { ip: '10.0.0.1', private: false });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(a).toEqual({ ip: '10.0.0.1', private: true });
    expect('network' in a).toBe(false);
  });

  it('shares one tail per distinct head, network and user agent; a child token event keeps its own', () => {
    const interner = new EvidenceInterner();
    const e = events.find((x) => x.network !== undefined && x.user_agent !== undefined)!;
    const a = interner.evidence(fresh(e), e.token.fp);
    const b = interner.evidence({ ...fresh(e), event_id: 'other', time: e.time + 1 }, e.token.fp);
    expect(b.tail).toBe(a.tail);
    expect([b.event_id, b.time]).toEqual(['other', e.time + 1]);
    const owner = 'tw1:00000000000000000000000000000000';
    const c = interner.evidence(fresh(e), owner);
    expect(c.tail).not.toBe(a.tail);
    expect(c.fp).toBe(e.token.fp);
    expect(c.head).toBe(a.head);
  });

  it('keeps times as offsets from a base exactly: near, far, fractional, before the base', () => {
    const base = 1_767_225_600_000;
    for (const t of [base, base + 1, base - 3_600_000, base + 20 * 86_400_000, base + 400 * 86_400_000, base + 0.25, 0, -5, 1.5, Number.MAX_SAFE_INTEGER]) {
      expect(timeAt(timeOffset(t, base), base)).toBe(t);
    }
    // a time within days of its base is a small integer (no heap number)
    expect(typeof timeOffset(base + 86_400_000, base)).toBe('number');
    expect(typeof timeOffset(base + 400 * 86_400_000, base)).toBe('object');
    expect(timeAt(timeOffset(base + 0.5, 1.25), 1.25)).toBe(base + 0.5);
  });

  it('stays bounded: past its bound it starts over and keeps working', () => {
    const interner = new EvidenceInterner(100);
    for (let i = 0; i < 1000; i++) expect(interner.str(`value-${i}`)).toBe(`value-${i}`);
    expect(interner.size).toBeLessThanOrEqual(100);
    const e = events[0]!;
    for (let i = 0; i < 300; i++) {
      const ev = { ...fresh(e), issuer: `issuer-${i}` };
      expect(toTokenEvent(interner.evidence(ev, e.token.fp), e.token.fp)).toEqual(evidenceOf(ev));
    }
    expect(interner.size).toBeLessThan(100 + 40);
  });
});
