import { describe, expect, it } from 'vitest';
import { preEncodeLive, stampLive } from '../../bench/kafka-bench-live.js';
import { simulate } from '../../src/simulate/index.js';

const TIME_FIELD: Record<string, string> = { cloudtrail: 'eventTime', okta: 'published', kong: 'started_at' };

/** What the live load used to send: the record re-serialized with its event time set to `now`. */
function expected(format: string, rec: Record<string, unknown>, now: number): string {
  const field = TIME_FIELD[format]!;
  return JSON.stringify({ ...rec, [field]: format === 'kong' ? now : new Date(now).toISOString() });
}

describe('live load records pre-encoded for the bench', () => {
  it('stamped bytes equal the record serialized with the produce time, for every simulated format', () => {
    const sim = simulate({ seed: 2, start: Date.parse('2026-12-01T00:00:00Z'), hours: 2, attacks: [], scale: 1 });
    const seen = new Set<string>();
    let n = 0;
    for (const e of sim.events) {
      if (n++ >= 3_000) break;
      seen.add(e.format);
      const pre = preEncodeLive('t', e.format, e.record);
      const now = Date.parse('2026-12-03T20:13:06.321Z') + n * 997;
      expect(stampLive(pre, now, new Date(now).toISOString()).toString('utf8')).toBe(expected(e.format, e.record, now));
      // stamped again (the same bytes, in place): only the time changes
      const later = now + 86_400_123;
      expect(stampLive(pre, later, new Date(later).toISOString()).toString('utf8')).toBe(expected(e.format, e.record, later));
    }
    expect([...seen].sort()).toEqual(['cloudtrail', 'kong', 'okta']);
  });

  it('places the time by bytes when text before it is not ASCII', () => {
    const rec = { userAgent: 'Zürich-客户端 ✓', eventTime: '2026-01-01T00:00:00Z', after: 'x' };
    const now = Date.parse('2026-12-03T20:13:06.321Z');
    expect(stampLive(preEncodeLive('t', 'cloudtrail', rec), now, new Date(now).toISOString()).toString('utf8')).toBe(expected('cloudtrail', rec, now));
  });

  it('refuses a record it cannot place a time in, and times of the wrong width', () => {
    expect(() => preEncodeLive('t', 'syslog', { time: 1 })).toThrow(/no live-time rewrite/);
    // the placeholder already in the record: two places would match
    expect(() => preEncodeLive('t', 'kong', { started_at: 1, nested: { started_at: 1_000_000_000_000 } })).toThrow(/cannot place/);
    const pre = preEncodeLive('t', 'kong', { started_at: 1 });
    expect(() => stampLive(pre, 99_999_999_999, '')).toThrow(/13 digits/);
    const ct = preEncodeLive('t', 'cloudtrail', { eventTime: 'x' });
    expect(() => stampLive(ct, 0, '+010000-01-01T00:00:00.000Z')).toThrow(/24 characters/);
  });
});
