/**
 * The plausible event-time window (src/pipeline/plausible-time.ts): events outside it are
 * refused before they can move a watermark; the clock only caps the future bound.
 */
import { describe, expect, it } from 'vitest';
import type { TokenEvent } from '../../schemas/token-event.js';
import { PlausibleTimeGuard, plausibleTimeOptions } from '../../src/pipeline/plausible-time.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 2, 6, 0, 0);
const ev = (time: number): TokenEvent => ({ time, source: 'cloudtrail' }) as unknown as TokenEvent;
const guard = () => new PlausibleTimeGuard({ ...plausibleTimeOptions({ max_future_skew_seconds: 86_400, max_event_age_days: 30, min_event_time: '2000-01-01T00:00:00Z' }), now: () => NOW });

describe('plausible event-time window', () => {
  it('refuses a first event in 2100 (ahead of the clock): it never becomes the reference', () => {
    const g = guard();
    const err = g.check(ev(Date.UTC(2100, 0, 1)));
    expect(err?.code).toBe('implausible_time');
    expect(err?.message).toMatch(/max_future_skew_seconds.*clock/);
    expect(g.reference).toBe(-Infinity);
    // a real event after it is accepted and becomes the reference
    expect(g.check(ev(NOW - DAY))).toBeUndefined();
    expect(g.reference).toBe(NOW - DAY);
  });

  it('refuses events before min_event_time (1970) whatever the reference', () => {
    const g = guard();
    expect(g.check(ev(0))?.message).toMatch(/before limits.min_event_time 2000-01-01/);
    expect(g.check(ev(NOW - 2 * DAY))).toBeUndefined();
    expect(g.check(ev(1000))?.code).toBe('implausible_time');
    expect(g.check(ev(Number.NaN))?.code).toBe('implausible_time');
    expect(g.rejected).toBe(3);
  });

  it('refuses events more than max_event_age_days behind the newest accepted event', () => {
    const g = guard();
    expect(g.check(ev(NOW - DAY))).toBeUndefined();
    expect(g.check(ev(NOW - DAY - 29 * DAY))).toBeUndefined(); // late but within 30 days
    expect(g.check(ev(NOW - DAY - 31 * DAY))?.message).toMatch(/max_event_age_days \(30\) behind/);
    expect(g.reference).toBe(NOW - DAY);
    const off = new PlausibleTimeGuard({ ...plausibleTimeOptions({ max_future_skew_seconds: 86_400, max_event_age_days: 0, min_event_time: '2000-01-01T00:00:00Z' }), now: () => NOW });
    expect(off.check(ev(NOW))).toBeUndefined();
    expect(off.check(ev(Date.UTC(2001, 0, 1)))).toBeUndefined();
  });

  it('judges a replay of past logs by event time alone: gaps of days are fine, a jump past the clock is not', () => {
    const g = guard();
    const t0 = Date.UTC(2024, 2, 1);
    expect(g.check(ev(t0))).toBeUndefined();
    expect(g.check(ev(t0 + 9 * DAY))).toBeUndefined(); // a quiet account: 9 days without an event
    expect(g.check(ev(NOW + DAY - 1000))).toBeUndefined(); // within the skew of the clock
    expect(g.check(ev(NOW + 3 * DAY))?.message).toMatch(/ahead of the partition's newest event time .* and the clock/);
  });

  it('lets a live stream move ahead of the clock by up to the skew, and from the reference onwards', () => {
    const g = guard();
    expect(g.check(ev(NOW + DAY / 2))).toBeUndefined();
    expect(g.check(ev(NOW + DAY / 2 + DAY - 1))).toBeUndefined(); // within the skew of the reference
    expect(g.check(ev(NOW + 3 * DAY))?.code).toBe('implausible_time');
  });
});
