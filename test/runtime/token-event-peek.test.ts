/**
 * Records peeked at now and decoded later (token-event-peek.ts): inside a frame, a peeked record
 * has decodeRecord's source, route, order and watermark, its deferred event has the id and time
 * of the decoded one and decodes to an equal event (a new object every time); and on garbage
 * peekRecord throws exactly when decodeRecord throws, with the same message.
 */
import { describe, expect, it } from 'vitest';
import type { TokenEvent } from '../../schemas/token-event.js';
import { TokenwatchError } from '../../src/core/errors.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeValue } from '../../src/pipeline/decode.js';
import { isDeferred } from '../../src/pipeline/deferred-event.js';
import { FrameBuilder, frameRanges } from '../../src/runtime/repartition-frame.js';
import { CODEC_VERSION, decodeRecord, encodeRecord, type RepartitionRecord } from '../../src/runtime/token-event-codec.js';
import { peekRecord } from '../../src/runtime/token-event-peek.js';
import { ATTACK_NAMES, simulate } from '../../src/simulate/index.js';

const ctx = { fingerprint: createFingerprinter({ key: 'peek-test-key-0123456789abcdef' }) };

/** Every optional field, non-ASCII text, a lone surrogate (a wide record). */
const RICH: TokenEvent = {
  event_id: 'okta:ünïcödé-事件-🔑',
  source: 'okta',
  platform: 'okta',
  action: 'use',
  time: 1_767_225_600_123,
  token: { fp: 'tw1:00ff10ab9c8d7e6f5a4b3c2d1e0f9a8b', kind: 'oauth_access', hint: 'kid:ключ', one_time: false },
  parent_fp: 'tw1:ffffffffffffffffffffffffffffffff',
  issuer: 'https://login.example/oauth2/default',
  minted_by: 'svc-a',
  authority: 'https://login.example',
  subject: 'user@例え.jp',
  audience: ['api://a', 'api://ü'],
  service: 'api.example.com',
  scopes_requested: ['read', 'write'],
  scopes_granted: ['read'],
  scopes_used: ['read'],
  issued_at: 0,
  expires_at: 1.5,
  network: { ip: '2001:db8::1', asn: 'AS64496', label: 'edge', scope: 'public', as_org: 'Ünïcorn GmbH', country: 'DE', cloud_provider: 'aws', cloud_region: 'eu-central-1', cloud_service: 'EC2' },
  user_agent: 'curl/8 ✓',
  workload: { kind: 'k8s_pod', id: 'ns/pod-ñ' },
  outcome: 'success',
  operation: 'token.use',
  signal: 'x',
  envelope: 'eventbridge',
};

function records(): RepartitionRecord[] {
  const out: RepartitionRecord[] = [];
  for (const s of simulate({ seed: 4, start: Date.UTC(2026, 0, 5), hours: 10, scale: 0.1, attacks: [...ATTACK_NAMES] }).events) {
    const r = decodeValue(s.record, ctx, s.format);
    if (r.ok) for (const event of r.events) out.push({ kind: 'event', event, route: 'token', source: `tw.in.${s.format}`, order: event.time });
  }
  out.push({ kind: 'event', event: RICH, route: 'parent', source: 'tw.in.okta', order: RICH.time + 61_000 });
  out.push({ kind: 'event', event: { ...RICH, subject: 'lone \ud800' }, route: 'token', source: 'tw.in.okta', order: RICH.time });
  out.push({ kind: 'watermark', source: 'tw.in.kong', watermark: -Infinity, idle: true });
  out.push({ kind: 'watermark', source: 'tw.in.kong', watermark: 1_767_225_600_000, idle: false });
  return out;
}

describe('peeked repartition records', () => {
  it('match the decoded records inside a frame, and their events decode to equal, distinct objects', () => {
    const recs = records();
    expect(recs.length).toBeGreaterThan(500);
    const fb = new FrameBuilder();
    for (const r of recs) fb.add(encodeRecord(r));
    const frame = fb.build();
    const at = frameRanges(frame);
    expect(at.length).toBe(2 * recs.length);
    for (let i = 0; i < recs.length; i++) {
      const want = decodeRecord(frame.subarray(at[2 * i], at[2 * i + 1]));
      expect(want).toStrictEqual(recs[i]);
      const got = peekRecord(frame, at[2 * i]!, at[2 * i + 1]!);
      if (want.kind === 'watermark') {
        expect(got).toStrictEqual(want);
        continue;
      }
      if (got.kind !== 'event') throw new Error(`record ${i}: peeked as ${got.kind}`);
      expect(isDeferred(got.event)).toBe(true);
      expect([got.source, got.route, got.order, got.event.event_id, got.event.time]).toEqual([want.source, want.route, want.order, want.event.event_id, want.event.time]);
      const a = got.event.decode();
      const b = got.event.decode();
      expect(a).toStrictEqual(want.event);
      expect(b).toStrictEqual(want.event);
      expect(a).not.toBe(b);
    }
  });

  it('throws exactly when decodeRecord throws, with the same message (cuts, flipped bytes, random bytes)', () => {
    const valid = records()
      .filter((_, i) => i % 7 === 0 || i >= 500)
      .map((r) => encodeRecord(r));
    let seed = 777;
    const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
    const cases: Buffer[] = [];
    for (const v of valid.slice(-4)) for (let cut = 0; cut < v.length; cut++) cases.push(v.subarray(0, cut));
    for (let i = 0; i < 20_000; i++) {
      if (i % 2 === 0) {
        const b = Buffer.from(valid[i % valid.length]!);
        for (let k = 0; k < 3; k++) b[2 + ((rand() * 256 + rand()) % (b.length - 2))] = rand();
        cases.push(b);
      } else {
        const b = Buffer.alloc(rand() % 64);
        for (let k = 0; k < b.length; k++) b[k] = rand();
        if (b.length > 1) b[0] = CODEC_VERSION;
        cases.push(b);
      }
    }
    let thrown = 0;
    let peeked = 0;
    for (const b of cases) {
      let decodeError: unknown;
      try {
        decodeRecord(b);
      } catch (e) {
        decodeError = e;
      }
      let peekError: unknown;
      try {
        peekRecord(b, 0, b.length);
        peeked++;
      } catch (e) {
        peekError = e;
      }
      if (decodeError === undefined) expect(peekError).toBeUndefined();
      else {
        thrown++;
        expect(peekError).toBeInstanceOf(TokenwatchError);
        expect((peekError as Error).message).toBe((decodeError as Error).message);
      }
    }
    expect(thrown).toBeGreaterThan(1000);
    expect(peeked).toBeGreaterThan(100);
  });

  it('peeks a record in the middle of a buffer without reading past its end', () => {
    const r: RepartitionRecord = { kind: 'event', event: RICH, route: 'token', source: 'tw.in.okta', order: RICH.time };
    const enc = encodeRecord(r);
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), enc, Buffer.from([9, 9])]);
    const got = peekRecord(padded, 3, 3 + enc.length);
    if (got.kind !== 'event') throw new Error('not an event');
    expect(got.event.decode()).toStrictEqual(RICH);
    expect(() => peekRecord(padded, 3, 3 + enc.length + 1)).toThrow(/trailing bytes/);
    expect(() => peekRecord(padded, 3, 3 + enc.length - 1)).toThrow(TokenwatchError);
  });
});
