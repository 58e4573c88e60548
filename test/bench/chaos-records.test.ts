import { describe, expect, it } from 'vitest';
import { MALFORMED_KINDS, malformedRecord, malformedSlots } from '../../bench/chaos-records.js';

const cloudtrail = { eventTime: '2026-01-05T10:00:00Z', eventID: 'e-1', sourceIPAddress: '198.51.100.7', userIdentity: { type: 'IAMUser' } };
const kong = { started_at: 1767607200000, request: { id: 'r-1' }, client_ip: '198.51.100.7' };

describe('chaos malformed records', () => {
  it('cycles through every kind', () => {
    expect(MALFORMED_KINDS.map((_, n) => malformedRecord('cloudtrail', cloudtrail, n).malformed)).toEqual([...MALFORMED_KINDS]);
  });

  it('bad_json does not parse', () => {
    for (const n of [0, 5]) expect(() => JSON.parse(malformedRecord('cloudtrail', cloudtrail, n).value.toString('utf8'))).toThrow();
  });

  it('invalid_utf8 holds bytes that are not UTF-8 and otherwise the record', () => {
    const v = malformedRecord('cloudtrail', cloudtrail, 1).value;
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(v)).toThrow();
    expect(v.includes(Buffer.from('"sourceIPAddress":"198.51.100.7"'))).toBe(true);
  });

  it('wrong_types keeps the time and gives the id and an identity field other types', () => {
    const r = JSON.parse(malformedRecord('cloudtrail', cloudtrail, 2).value.toString('utf8'));
    expect(r.eventTime).toBe(cloudtrail.eventTime);
    expect(typeof r.eventID).toBe('number');
    expect(typeof r.sourceIPAddress).not.toBe('string');
  });

  it('dated copies are well-formed, in 1970 / 2100, in the original time shape, with a fresh id', () => {
    const old = JSON.parse(malformedRecord('cloudtrail', cloudtrail, 3).value.toString('utf8'));
    expect(old.eventTime).toMatch(/^1970-01-01T00:00:03Z$/);
    expect(old.eventID).not.toBe('e-1');
    const future = JSON.parse(malformedRecord('kong', kong, 4).value.toString('utf8'));
    expect(future.started_at).toBe(Date.UTC(2100, 0, 1) + 4000);
    expect(future.request.id).toBe('chaos-date_2100-4');
  });

  it('leaves the original record untouched', () => {
    const copy = structuredClone(kong);
    for (let n = 0; n < 5; n++) malformedRecord('kong', kong, n);
    expect(kong).toEqual(copy);
  });

  it('spreads exactly the asked number of hostile records evenly', () => {
    const slots = malformedSlots(1000, 100);
    const per = Array.from({ length: 1000 }, (_, i) => slots(i));
    expect(per.reduce((a, b) => a + b, 0)).toBe(100);
    expect(Math.max(...per)).toBe(1);
    expect(per.slice(0, 10).reduce((a, b) => a + b, 0)).toBe(1);
    const none = malformedSlots(1000, 0);
    expect(none(5)).toBe(0);
  });
});
