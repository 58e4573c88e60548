/**
 * One test that checks every detector follows the conventions: metadata, config defaults,
 * folder layout, cases as data (positives and negatives) that pass, valid alerts, bounded
 * serializable state, and no I/O or wall clock in detector code.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { feedDetector } from './feed-detector.js';
import { z } from 'zod';
import { DETECTORS } from '../../detectors/index.js';
import type { AlertDraft, DetectorCase, DetectorDefinition } from '../../detectors/types.js';
import { Alert, DETECTOR_IDS } from '../../schemas/alert.js';
import { buildAlert } from '../../src/pipeline/alert-builder.js';

const DAY = 86_400_000;

function runCase(def: DetectorDefinition, c: DetectorCase): AlertDraft[] {
  return feedDetector(def.create(def.config.parse({ ...(c.config ?? {}) })), c.events, DAY);
}

const keyOf = (x: { kind: string; token_fp?: string; issuer?: string }) => `${x.kind}|${x.token_fp ?? ''}|${x.issuer ?? ''}`;

describe('detector registry', () => {
  it('has every detector family, each once', () => {
    expect(DETECTORS.map((d) => d.meta.id).sort()).toEqual([...DETECTOR_IDS].sort());
  });
});

for (const def of DETECTORS) {
  const m = def.meta;
  const folder = join('detectors', m.id.replaceAll('_', '-'));
  describe(`detector ${m.id}`, () => {
    it('has complete metadata', () => {
      expect(Number.isInteger(m.version) && m.version > 0).toBe(true);
      expect(['token', 'issuer']).toContain(m.key_by);
      expect(m.title.length).toBeGreaterThan(5);
      expect(m.description.length).toBeGreaterThan(20);
      expect(m.runbook.length).toBeGreaterThan(40);
      expect(m.mitre_attack.length).toBeGreaterThan(0);
      for (const t of m.mitre_attack) expect(t).toMatch(/^T\d{4}(\.\d{3})?$/);
      expect(m.owasp_nhi.length).toBeGreaterThan(0);
      for (const n of m.owasp_nhi) expect(n).toMatch(/^NHI([1-9]|10)(:2025)?$/);
      const kinds = Object.entries(m.kinds);
      expect(kinds.length).toBeGreaterThan(0);
      for (const [k, km] of kinds) {
        expect(k).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(['low', 'medium', 'high', 'critical']).toContain(km.severity);
        for (const t of km.mitre_attack ?? []) expect(t).toMatch(/^T\d{4}(\.\d{3})?$/);
      }
    });

    it('keeps metadata, config, module and cases side by side', () => {
      for (const f of ['meta.ts', 'config.ts', 'detector.ts', 'cases.ts', 'index.ts']) expect(existsSync(join(folder, f)), `${folder}/${f}`).toBe(true);
    });

    it('has a config schema whose defaults parse and whose every field is described', () => {
      expect(() => def.config.parse({})).not.toThrow();
      const js = z.toJSONSchema(def.config, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, { description?: string }> };
      const fields = Object.entries(js.properties ?? {});
      expect(fields.length).toBeGreaterThan(0);
      for (const [name, f] of fields) expect(f.description?.length ?? 0, `config field ${name} needs .describe()`).toBeGreaterThan(10);
    });

    it('has positive and negative cases, a positive for every kind', () => {
      expect(def.cases.positive.length).toBeGreaterThan(0);
      expect(def.cases.negative.length).toBeGreaterThan(0);
      const covered = new Set(def.cases.positive.flatMap((c) => c.expect.map((x) => x.kind)));
      for (const k of Object.keys(m.kinds)) expect(covered.has(k), `positive case for kind ${k}`).toBe(true);
      for (const c of def.cases.negative) expect(c.expect).toEqual([]);
    });

    for (const c of def.cases.positive) {
      it(`positive: ${c.name}`, () => {
        const drafts = runCase(def, c);
        const got = new Set(drafts.map(keyOf));
        for (const x of c.expect) {
          const want = keyOf(x);
          const found = [...got].some((g) => g === want || (x.token_fp === undefined && x.issuer === undefined && g.startsWith(`${x.kind}|`)) || (x.token_fp === undefined && x.issuer !== undefined && g.startsWith(`${x.kind}|`) && g.endsWith(`|${x.issuer}`)) || (x.issuer === undefined && x.token_fp !== undefined && g.startsWith(`${x.kind}|${x.token_fp}|`)));
          expect(found, `expected ${want} in ${[...got].join(', ')}`).toBe(true);
        }
        const allowedKinds = new Set(c.expect.map((x) => x.kind));
        for (const d of drafts) expect(allowedKinds.has(d.kind), `unexpected ${d.kind}`).toBe(true);
        for (const d of drafts) {
          expect(Object.keys(m.kinds)).toContain(d.kind);
          expect(d.score).toBeGreaterThanOrEqual(0);
          expect(d.score).toBeLessThanOrEqual(1);
          expect(d.events.length).toBeGreaterThan(0);
          const alert = buildAlert(m, d);
          expect(Alert.safeParse(alert).success).toBe(true);
          expect(alert.evidence.baseline).toBeTypeOf('object');
        }
      });
    }

    for (const c of def.cases.negative) {
      it(`negative: ${c.name}`, () => {
        expect(runCase(def, c).map((d) => `${d.kind}: ${d.summary}`)).toEqual([]);
      });
    }

    it('has JSON-serializable state that restores to the same state', () => {
      const c = def.cases.positive[0]!;
      const inst = def.create(def.config.parse({ ...(c.config ?? {}) }));
      for (const e of c.events.slice(0, Math.ceil(c.events.length / 2))) inst.process(e);
      const snap = JSON.parse(JSON.stringify(inst.snapshot()));
      const copy = def.create(def.config.parse({ ...(c.config ?? {}) }));
      copy.restore(snap);
      expect(JSON.parse(JSON.stringify(copy.snapshot()))).toEqual(snap);
      expect(copy.size()).toBe(inst.size());
    });

    it('does no I/O and never reads the wall clock', () => {
      for (const f of readdirSync(folder).filter((x) => x.endsWith('.ts') && x !== 'cases.ts')) {
        const src = readFileSync(join(folder, f), 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
        expect(src, `${f}: wall clock`).not.toMatch(/Date\.now\(|new Date\(\s*\)|performance\.now|process\.hrtime/);
        expect(src, `${f}: I/O import`).not.toMatch(/from ['"](node:)?(fs|fs\/promises|http|https|http2|tls|dns|dgram|child_process|worker_threads)['"]|kafkajs|@clickhouse|chdb/);
        // node:net is allowed only for its pure in-memory helpers (CIDR matching, IP parsing)
        const pureNet = new Set(['BlockList', 'isIP', 'isIPv4', 'isIPv6', 'SocketAddress']);
        for (const m of src.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+['"](?:node:)?net['"]/g)) {
          for (const name of m[1]!.split(',').map((x) => x.trim()).filter(Boolean)) expect(pureNet.has(name), `${f}: node:net ${name}`).toBe(true);
        }
        expect(src, `${f}: node:net default import`).not.toMatch(/import\s+\w+\s+from\s+['"](node:)?net['"]|import\s+\*\s+as/);
      }
    });
  });
}
