/**
 * The packed inventory (interned strings and sets, typed-array columns, fingerprints as words)
 * against the object-per-token one it replaced: the same records, the same evictions; and the
 * interning tables release what evicted tokens held.
 */
import { describe, expect, it } from 'vitest';
import { TokenInventory } from '../../src/inventory/token-inventory.js';
import type { InventoryRecord } from '../../src/inventory/inventory-record.js';
import { ev, fp, HOUR, T0 } from '../../detectors/case-helpers.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeValue } from '../../src/pipeline/decode.js';
import { DEFAULT_START, REALISTIC_ATTACK_NAMES, simulate } from '../../src/simulate/index.js';
import type { TokenEvent } from '../../schemas/token-event.js';
import { ReferenceInventory } from './reference-inventory.js';

/** The reference leaves keys present with the value undefined (`??=`); records are compared without them. */
const clean = (r: InventoryRecord | undefined): Record<string, unknown> | undefined =>
  r && Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));

function realisticEvents(limit: number): TokenEvent[] {
  const fingerprint = createFingerprinter({ key: 'packed-inventory-test-key-000000' });
  const sim = simulate({ seed: 7, start: DEFAULT_START, hours: 5 * 24, scale: 0.1, profile: 'realistic', attacks: [...REALISTIC_ATTACK_NAMES] });
  const out: TokenEvent[] = [];
  for (const s of sim.events) {
    const d = decodeValue(s.record, { fingerprint });
    if (d.ok) out.push(...d.events);
    if (out.length >= limit) break;
  }
  return out;
}

/** A small deterministic PRNG (mulberry32): the random stream is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomEvents(n: number, seed: number): TokenEvent[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const actions = ['mint', 'use', 'use', 'use', 'revoke', 'reuse_signal'] as const;
  const kinds = ['oauth_access', 'unknown', 'sts_session', 'oauth_refresh'] as const;
  const platforms = ['okta', 'aws', 'gateway', 'github'] as const;
  const out: TokenEvent[] = [];
  for (let i = 0; i < n; i++) {
    // most keys are tw1: fingerprints; some are not (upper-case hex, other text) and take the fallback path
    const k = Math.floor(rnd() * 300);
    const key = k % 29 === 0 ? `TW1:${fp(`r${k}`).slice(4).toUpperCase()}` : k % 31 === 0 ? `other-key-${k}` : fp(`r${k}`);
    const action = pick(actions);
    // some events 40 days on: a token's times then lie further apart than its Int32 offsets reach
    const far = rnd() < 0.05 ? 40 * 24 * HOUR : 0;
    const e = ev({ time: T0 + far + Math.floor(rnd() * 10 * HOUR), token: { fp: key, kind: pick(kinds) }, action, platform: pick(platforms) });
    if (rnd() < 0.7) e.issuer = `client-${Math.floor(rnd() * 5)}`;
    if (rnd() < 0.5) e.subject = `user-${Math.floor(rnd() * 50)}`;
    if (rnd() < 0.3) e.authority = pick(['https://a.example', 'https://b.example']);
    if (rnd() < 0.3) e.minted_by = pick(['svc-a', 'svc-b']);
    if (rnd() < 0.4) e.scopes_granted = Array.from({ length: Math.floor(rnd() * 5) }, () => `scope:${Math.floor(rnd() * 40)}`);
    else if (rnd() < 0.4) e.scopes_used = [`scope:${Math.floor(rnd() * 40)}`];
    if (rnd() < 0.3) e.audience = [pick(['api://a', 'api://b', 'https://c.example', 'd'])];
    if (rnd() < 0.5) e.expires_at = e.time + Math.floor(rnd() * 4 * HOUR) - HOUR;
    else if (rnd() < 0.1) e.expires_at = e.time + (rnd() < 0.5 ? 90 * 24 * HOUR : 0.5); // a refresh token's expiry; a fractional time
    if (rnd() < 0.6) e.service = `svc-${Math.floor(rnd() * 8)}`;
    if (rnd() < 0.6) e.network = rnd() < 0.8 ? { ip: `10.0.${Math.floor(rnd() * 3)}.${Math.floor(rnd() * 12)}` } : { label: 'vpc-endpoint' };
    out.push(e);
  }
  return out;
}

function compare(events: readonly TokenEvent[], opts: { maxTokens: number; maxSetSize: number }, drainEvery: number): void {
  const packed = new TokenInventory(opts);
  const ref = new ReferenceInventory(opts);
  let i = 0;
  for (const e of events) {
    packed.observe(e);
    ref.observe(e);
    if (++i % drainEvery === 0) {
      expect(packed.drainDirty().map(clean)).toEqual(ref.drainDirty().map(clean));
      expect(packed.size).toBe(ref.size);
      expect(packed.evicted).toBe(ref.evicted);
    }
  }
  expect(packed.drainDirty().map(clean)).toEqual(ref.drainDirty().map(clean));
  for (const key of new Set(events.map((e) => e.token.fp))) expect(clean(packed.get(key))).toEqual(clean(ref.get(key)));
}

describe('packed TokenInventory', () => {
  it('gives the same records as the object-per-token inventory on the realistic simulator stream, with evictions', () => {
    const events = realisticEvents(30_000);
    expect(events.length).toBeGreaterThan(20_000);
    compare(events, { maxTokens: 150, maxSetSize: 4 }, 97);
    compare(events, { maxTokens: 100_000, maxSetSize: 16 }, 1000);
  });

  it('gives the same records on random events: all actions, unknown kinds, other keys, full sets, heavy eviction', () => {
    compare(randomEvents(20_000, 1), { maxTokens: 40, maxSetSize: 3 }, 13);
    compare(randomEvents(20_000, 2), { maxTokens: 1000, maxSetSize: 16 }, 500);
  });

  it('round-trips fingerprints exactly: tw1 words and other keys', () => {
    const inv = new TokenInventory({ maxTokens: 10, maxSetSize: 4 });
    const keys = [fp('a'), `TW1:${fp('b').slice(4).toUpperCase()}`, 'tw1:short', 'plain-key'];
    for (const [i, key] of keys.entries()) inv.observe(ev({ time: T0 + i, token: { fp: key, kind: 'oauth_access' } }));
    expect(inv.drainDirty().map((r) => r.token_fp)).toEqual(keys);
    for (const key of keys) expect(inv.get(key)?.token_fp).toBe(key);
    expect(inv.get(fp('never-seen'))).toBeUndefined();
  });

  it('interns strings and sets once across tokens', () => {
    const inv = new TokenInventory({ maxTokens: 1000, maxSetSize: 16 });
    for (let i = 0; i < 500; i++) {
      inv.observe(ev({ time: T0 + i, token: `t${i}`, action: 'mint', issuer: 'client-a', authority: 'https://idp', scopes_granted: ['read', 'write'], audience: ['api://x'] }));
      inv.observe(ev({ time: T0 + i + 1, token: `t${i}`, action: 'use', service: 'orders', network: { ip: '10.0.0.1' } }));
    }
    // oauth_access, client-a, https://idp, read, write, api://x, okta (platform), orders, 10.0.0.1; one set of two: [read, write]
    expect(inv.internedCounts).toEqual({ strings: 9, sets: 1 });
    const r = inv.get(fp('t7'))!;
    expect(r).toMatchObject({ issuer: 'client-a', authority: 'https://idp', scopes: ['read', 'write'], audience: ['api://x'], services: ['orders'], networks: ['10.0.0.1'], use_count: 1 });
  });

  it('releases interned values with the last token holding them', () => {
    const inv = new TokenInventory({ maxTokens: 2, maxSetSize: 16 });
    inv.observe(ev({ time: T0, token: 'a', issuer: 'only-a', scopes_granted: ['s1', 's2'], network: { ip: '10.9.9.9' } }));
    inv.observe(ev({ time: T0 + 1, token: 'b', issuer: 'shared', scopes_granted: ['s1'] }));
    const held = inv.internedCounts;
    expect(held.sets).toBe(1);
    inv.observe(ev({ time: T0 + 2, token: 'c', issuer: 'shared' })); // evicts a
    expect(inv.get(fp('a'))).toBeUndefined();
    // gone with a: only-a, s2, 10.9.9.9 and the set [s1, s2]; s1 stays (b's singleton set)
    expect(inv.internedCounts).toEqual({ strings: held.strings - 3, sets: 0 });
    // 10k tokens through a 2-token inventory: the tables stay as small as what 2 tokens hold
    for (let i = 0; i < 10_000; i++) inv.observe(ev({ time: T0 + 10 + i, token: `x${i}`, issuer: `issuer-${i}`, subject: `subject-${i}`, scopes_granted: [`a${i}`, `b${i}`], network: { ip: `10.${i >> 8 & 255}.${i & 255}.1` } }));
    expect(inv.size).toBe(2);
    expect(inv.evicted).toBe(10_001);
    expect(inv.internedCounts.sets).toBeLessThanOrEqual(2);
    expect(inv.internedCounts.strings).toBeLessThanOrEqual(2 * 6);
  });

  it('keeps the per-token set bounds: maxSetSize for services, networks, audience, platforms; 4× for scopes', () => {
    const inv = new TokenInventory({ maxTokens: 10, maxSetSize: 3 });
    for (let i = 0; i < 20; i++) {
      inv.observe(ev({ time: T0 + i, token: 't', service: `svc-${i}`, network: { ip: `10.0.0.${i}` }, audience: [`aud-${i}`], scopes_granted: [`s${i}`] }));
    }
    const r = inv.get(fp('t'))!;
    expect(r.services).toEqual(['svc-0', 'svc-1', 'svc-2']);
    expect(r.networks).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.2']);
    expect(r.audience).toEqual(['aud-0', 'aud-1', 'aud-2']);
    expect(r.scopes).toHaveLength(12);
    expect(r.use_count).toBe(20);
  });

  it('widens its 16-bit id columns once more than 32k distinct values are held', () => {
    const inv = new TokenInventory({ maxTokens: 50_000, maxSetSize: 4 });
    const n = 40_000;
    // distinct issuers (string ids past 32767) and distinct two-scope sets (set ids past 32767)
    for (let i = 0; i < n; i++) inv.observe(ev({ time: T0 + i, token: `w${i}`, action: 'mint', issuer: `issuer-${i}`, scopes_granted: [`a${i}`, `b${i}`], service: `svc-${i}` }));
    expect(inv.internedCounts.sets).toBe(n);
    for (const i of [0, 1, 32_766, 32_767, 32_768, n - 1]) {
      expect(inv.get(fp(`w${i}`))).toMatchObject({ issuer: `issuer-${i}`, scopes: [`a${i}`, `b${i}`] });
    }
  });

  it('holds at most maxTokens, growing its columns only as tokens arrive', () => {
    const inv = new TokenInventory({ maxTokens: 5000, maxSetSize: 4 });
    for (let i = 0; i < 12_000; i++) inv.observe(ev({ time: T0 + i, token: `g${i}` }));
    expect(inv.size).toBe(5000);
    expect(inv.evicted).toBe(7000);
    expect(inv.get(fp('g6999'))).toBeUndefined();
    expect(inv.get(fp('g7000'))?.first_seen).toBe(T0 + 7000);
    expect(inv.drainDirty()).toHaveLength(5000);
  });
});
