import { describe, expect, it } from 'vitest';
import type { TokenEvent } from '../../schemas/token-event.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeValue } from '../../src/pipeline/decode.js';
import { ATTACK_NAMES, simulate } from '../../src/simulate/index.js';
import { encodeRowLine, encodeTokenEventLine, tokenEventRow } from '../../src/store/rows.js';

const ctx = { fingerprint: createFingerprinter({ key: 'rows-test-key-0123456789abcdef' }) };

const base: TokenEvent = {
  event_id: 'e-1',
  source: 'cloudtrail',
  platform: 'aws',
  action: 'use',
  time: Date.UTC(2026, 0, 5, 10, 0, 0, 123),
  token: { fp: 'tw1:0123456789abcdef0123456789abcdef', kind: 'aws_access_key' },
} as TokenEvent;

/** Events whose strings need escaping or are empty, arrays empty or not, optional parts absent or present. */
const edgeCases: TokenEvent[] = [
  base,
  { ...base, token: { ...base.token, hint: 'AKIA…7XQ', one_time: true } },
  { ...base, token: { ...base.token, one_time: false, hint: '' } },
  { ...base, issuer: 'q"uote\\back\nline\ttab\u0001', subject: '', audience: [], scopes_used: [] },
  { ...base, audience: ['a', 'b"c'], scopes_requested: ['s3:Get*'], scopes_granted: ['x\u2028y'], scopes_used: ['\ud83d\ude00', 'lone \ud800 surrogate'] },
  { ...base, user_agent: 'Zürich-客户端 ✓ \u007f', service: 'svc', operation: 'op', signal: 'sig', outcome: 'failure' } as TokenEvent,
  { ...base, issued_at: Date.UTC(2026, 0, 5, 9), expires_at: Date.UTC(9999, 0, 1) },
  { ...base, network: {}, workload: { kind: 'ec2_instance', id: '' } } as TokenEvent,
  { ...base, network: { ip: '198.51.100.7', asn: 'AS64500', label: 'corp', scope: 'public', country: 'DE' }, workload: { kind: 'k8s_pod', id: 'ns/pod' } } as TokenEvent,
  { ...base, parent_fp: 'tw1:ffffffffffffffffffffffffffffffff', minted_by: 'm', authority: 'https://idp/' },
  { ...base, event_id: '', issuer: '' },
];

function simulated(): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (const s of simulate({ seed: 5, start: Date.UTC(2026, 0, 5), hours: 12, scale: 0.3, attacks: [...ATTACK_NAMES] }).events) {
    const r = decodeValue(s.record, ctx, s.format);
    if (r.ok) out.push(...r.events);
  }
  return out;
}

describe('encodeTokenEventLine', () => {
  it('writes the line the generic row encoder writes, byte for byte, at both time precisions', () => {
    const events = [...edgeCases, ...simulated()];
    expect(events.length).toBeGreaterThan(1_000);
    for (const precision of ['ms', 's'] as const) {
      for (const ev of events) expect(encodeTokenEventLine(ev, precision)).toBe(encodeRowLine(tokenEventRow(ev, precision)));
    }
  });

  it('keeps JSON escaping: every line parses back to the row without its default-valued fields', () => {
    for (const ev of edgeCases) {
      const parsed = JSON.parse(encodeTokenEventLine(ev, 'ms')) as Record<string, unknown>;
      const row = tokenEventRow(ev, 'ms') as unknown as Record<string, unknown>;
      const expected = Object.fromEntries(Object.entries(row).filter(([, v]) => v !== '' && v !== null && !(Array.isArray(v) && v.length === 0)));
      expect(parsed).toEqual(expected);
    }
  });

  it('rejects what the row encoder rejects (a time that is not finite)', () => {
    expect(() => encodeTokenEventLine({ ...base, time: Number.NaN }, 'ms')).toThrow(/non-finite/);
    expect(() => encodeTokenEventLine({ ...base, issued_at: Number.POSITIVE_INFINITY }, 's')).toThrow(/non-finite/);
  });
});
