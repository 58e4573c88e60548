import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DetectionEngine, DEFAULT_ENGINE_OPTIONS } from '../../src/pipeline/detection-engine.js';
import { TokenInventory } from '../../src/inventory/token-inventory.js';
import type { DetectorDefinition } from '../../detectors/types.js';
import { ev, fp, MIN, T0 } from '../../detectors/case-helpers.js';
import { Alert } from '../../schemas/alert.js';

/** A minimal real detector: alerts on every revoke event; counts windows on advance. */
const revokeWatcher: DetectorDefinition<{ n: number }> = {
  meta: {
    id: 'token_replay', version: 1, title: 'test revoke watcher', description: 'alerts on every revoke, for engine tests',
    key_by: 'token', mitre_attack: ['T1528'], owasp_nhi: ['NHI2'], runbook: 'none',
    kinds: { revoked: { title: 'revoked', severity: 'low' } },
  },
  config: z.object({ n: z.number().default(1) }),
  create: () => {
    let seen = 0;
    return {
      process: (e) => {
        seen++;
        return e.action === 'revoke' ? [{ kind: 'revoked', score: 0.5, title: 't', summary: 's', dedup_key: e.token.fp, token_fp: e.token.fp, events: [e], baseline: { seen } }] : [];
      },
      advance: () => [],
      snapshot: () => ({ seen }),
      restore: (s: unknown) => { seen = (s as { seen: number }).seen; },
      size: () => seen,
      changedKeys: () => [],
      getKey: () => undefined,
      putKey: () => {},
    };
  },
  cases: { positive: [], negative: [] },
};

const engine = (inventory?: TokenInventory) =>
  new DetectionEngine({ ...DEFAULT_ENGINE_OPTIONS, reorder: { maxDelayMs: MIN, maxBuffered: 100 }, suppressWindowMs: 60 * MIN, detectors: [{ definition: revokeWatcher, config: { n: 1 } }], inventory });

describe('DetectionEngine', () => {
  it('drops duplicate event ids (Entra writes several rows per request)', () => {
    const e = engine();
    const x = ev({ time: T0, token: 'a', action: 'revoke', event_id: 'dup' });
    e.ingest(x);
    e.ingest({ ...x });
    const alerts = e.finish();
    expect(alerts).toHaveLength(1);
    expect(e.stats().duplicates).toBe(1);
  });

  it('suppresses repeats of one dedup key inside the window, not after it', () => {
    const e = engine();
    const out = [
      ...e.ingest(ev({ time: T0, token: 'a', action: 'revoke' })),
      ...e.ingest(ev({ time: T0 + 10 * MIN, token: 'a', action: 'revoke' })),
      ...e.ingest(ev({ time: T0 + 90 * MIN, token: 'a', action: 'revoke' })),
      ...e.ingest(ev({ time: T0 + 91 * MIN, token: 'b', action: 'revoke' })),
      ...e.finish(),
    ];
    expect(out.map((a) => a.token_fp)).toEqual([fp('a'), fp('a'), fp('b')]);
    expect(e.stats().suppressed).toBe(1);
  });

  it('produces valid alerts with deterministic ids, whatever the arrival order', () => {
    const events = [0, 1, 2, 3].map((i) => ev({ time: T0 + i * 1000, token: `t${i}`, action: 'revoke', event_id: `id-${i}` }));
    const run = (order: number[]) => {
      const e = engine();
      const out = order.flatMap((i) => e.ingest(events[i]!));
      return [...out, ...e.finish()];
    };
    const a = run([0, 1, 2, 3]);
    const b = run([3, 1, 0, 2]);
    expect(a.map((x) => x.alert_id)).toEqual(b.map((x) => x.alert_id));
    expect(new Set(a.map((x) => x.alert_id)).size).toBe(4);
    for (const x of a) expect(Alert.parse(x)).toBeTruthy();
    expect(a[0]!.evidence.baseline).toEqual({ seen: 1 });
  });

  it('feeds the token inventory with every released event', () => {
    const inv = new TokenInventory({ maxTokens: 10, maxSetSize: 4 });
    const e = engine(inv);
    e.ingest(ev({ time: T0, token: 'a', action: 'mint' }));
    e.ingest(ev({ time: T0 + 1, token: 'a', action: 'use' }));
    e.finish();
    expect(inv.get(fp('a'))).toMatchObject({ minted_at: T0, use_count: 1 });
  });
});

describe('DetectionEngine snapshot/restore', () => {
  it('resumes detector state in a fresh engine from a JSON snapshot', () => {
    const a = engine();
    a.ingest(ev({ time: T0, token: 'a', action: 'use' }));
    a.ingest(ev({ time: T0 + 1, token: 'a', action: 'use' }));
    a.finish();
    const snap = JSON.parse(JSON.stringify(a.snapshot()));
    expect(snap).toEqual({ token_replay: { seen: 2 } });
    const b = engine();
    b.restore(snap);
    b.ingest(ev({ time: T0 + 2, token: 'a', action: 'revoke' }));
    const [alert] = b.finish();
    expect(alert!.evidence.baseline).toEqual({ seen: 3 });
  });
});
