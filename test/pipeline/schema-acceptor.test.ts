/**
 * The compiled acceptors (src/pipeline/schema-acceptor.ts) are a fast path in front of zod: an
 * acceptor may say "don't know" (zod decides), never "valid" where zod says invalid. Checked
 * differentially on vendor fixtures and simulated records, each mutated many ways.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenEvent } from '../../schemas/token-event.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { detectFormat } from '../../src/pipeline/decode.js';
import { acceptorOf } from '../../src/pipeline/schema-acceptor.js';
import { ATTACK_NAMES, simulate } from '../../src/simulate/index.js';

const ctx = { fingerprint: createFingerprinter({ key: 'acceptor-test-key-0123456789abcdef' }) };
let seed = 12345;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff);
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;

const VALUES: unknown[] = [null, 0, -1, 1.5, 1e20, '', '-', 'x'.repeat(300), 'x'.repeat(600), '😀', 'REDACTED', '2026-01-05T00:00:00Z', 1767571234348, true, false, [], [1], ['a', 'b'], {}, { a: 1 }, 'tw1:0123456789abcdef0123456789abcdef', 'ASIAABCDEFGHIJKLMNOP', 'AssumeRole', 200, 401, '401'];

function paths(o: unknown, pre: string[] = [], out: string[][] = []): string[][] {
  if (o && typeof o === 'object') for (const k of Object.keys(o)) { out.push([...pre, k]); if (pre.length < 4) paths((o as Record<string, unknown>)[k], [...pre, k], out); }
  return out;
}
function mutate<T>(o: T): T {
  const c = structuredClone(o) as Record<string, unknown>;
  for (let i = 0, n = 1 + Math.floor(rnd() * 3); i < n; i++) {
    const ps = paths(c);
    if (ps.length === 0) break;
    const p = pick(ps);
    let t = c;
    for (const k of p.slice(0, -1)) t = t[k] as Record<string, unknown>;
    const last = p[p.length - 1]!;
    const r = rnd();
    if (r < 0.3) delete t[last];
    else if (r < 0.9) t[last] = structuredClone(pick(VALUES));
    else t[pick(['extra', 'id', 'status', 'method'])] = structuredClone(pick(VALUES));
  }
  return c as T;
}

function fixtures(dir: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...fixtures(p));
    else if (f.endsWith('.json')) out.push(JSON.parse(readFileSync(p, 'utf8')));
  }
  return out;
}

const simulated = [...simulate({ seed: 9, start: Date.UTC(2026, 0, 5), hours: 12, scale: 0.2, attacks: [...ATTACK_NAMES] }).events]
  .filter((_, i) => i % 40 === 0)
  .map((e) => e.record);
const records = [...fixtures('test/fixtures/vendors'), ...simulated];

describe('compiled schema acceptors', () => {
  it('never accept a record or token event that zod rejects, and accepted records normalize the same', () => {
    const unsound: string[] = [];
    let vendorChecks = 0;
    let eventChecks = 0;
    const eventAcceptor = acceptorOf(TokenEvent, false);
    expect(eventAcceptor).toBeDefined();
    for (const original of records) {
      for (let round = 0; round < 12; round++) {
        const raw = round === 0 ? original : mutate(original);
        const format = detectFormat(raw);
        const acc = format && acceptorOf(format.schema, true);
        if (!format || !acc) continue;
        vendorChecks++;
        const before = JSON.stringify(raw);
        let accepted: boolean;
        try { accepted = acc(raw); } catch { accepted = false; }
        if (!accepted) continue;
        const z = format.schema.safeParse(raw);
        if (!z.success) { unsound.push(`${format.id}: ${JSON.stringify(z.error.issues[0])}`); continue; }
        if (JSON.stringify(raw) !== before) unsound.push(`${format.id}: acceptor mutated its input`);
        const fast = JSON.stringify(format.normalize(raw, ctx));
        const slow = JSON.stringify(format.normalize(z.data, ctx));
        if (fast !== slow) unsound.push(`${format.id}: normalize differs on the raw record and zod's output`);
        for (const e of JSON.parse(fast) as unknown[]) {
          for (const x of [e, mutate(e), mutate(e), mutate(e)]) {
            eventChecks++;
            if (eventAcceptor!(x) && !TokenEvent.safeParse(x).success) unsound.push(`TokenEvent: ${JSON.stringify(x).slice(0, 200)}`);
          }
        }
      }
    }
    expect(unsound.slice(0, 5)).toEqual([]);
    expect(vendorChecks).toBeGreaterThan(1000);
    expect(eventChecks).toBeGreaterThan(1000);
  });

  it('take the fast path for the common case: valid simulated records and their events', () => {
    let fast = 0;
    for (const raw of simulated) {
      const format = detectFormat(raw)!;
      const acc = acceptorOf(format.schema, true);
      if (acc?.(raw)) fast++;
      for (const e of format.normalize(raw, ctx)) expect(acceptorOf(TokenEvent, false)!(e)).toBe(true);
    }
    // kong and cloudtrail (nearly all simulated traffic) compile; okta uses z.preprocess and goes to zod
    expect(fast / simulated.length).toBeGreaterThan(0.8);
  });
});
