/**
 * Replay benchmark (not a test): N simulated vendor events through the embedded runner,
 * without sinks and with the embedded ClickHouse (chDB) sink, plus heap bytes per live token.
 * Each configuration runs --reps times; medians are printed, all from this one run.
 *
 *   npm run bench -- [--events 1000000] [--reps 3] [--tokens 100000]
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { median } from 'simple-statistics';
import { parseConfig } from '../src/config/load-config.js';
import { detectorSet } from '../src/config/load-config.js';
import { createFingerprinter } from '../src/core/fingerprint.js';
import { createLogger } from '../src/core/logger.js';
import { TokenInventory } from '../src/inventory/token-inventory.js';
import { DetectionEngine, DEFAULT_ENGINE_OPTIONS } from '../src/pipeline/detection-engine.js';
import { runReplay } from '../src/runners/embedded-runner.js';
import { openReplayStore } from '../src/runners/replay-store.js';
import { simulatedEstateConfig } from '../src/cli/simulate-command.js';
import { ATTACK_NAMES, simulate } from '../src/simulate/index.js';
import type { TokenEvent } from '../schemas/token-event.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    reps: { type: 'string', default: '3' },
    tokens: { type: 'string', default: '100000' },
  },
});
const N = Number(values.events);
const REPS = Number(values.reps);
const TOKENS = Number(values.tokens);
const dir = mkdtempSync(join(tmpdir(), 'tw-bench-'));
const fingerprint = createFingerprinter({ key: 'bench-key-0123456789abcdef0123' });
const nullOut = () => new Writable({ write: (_c, _e, cb) => cb() });
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function generate(file: string): Promise<void> {
  // 48 h of the simulated estate is ~218k records at scale 1: scale up to reach N
  const scale = Math.max(1, Math.ceil((N / 200_000) * 10) / 10);
  const sim = simulate({ seed: 42, start: Date.UTC(2026, 0, 5), hours: 48, scale, attacks: [...ATTACK_NAMES] });
  const out = createWriteStream(file);
  let n = 0;
  for (const e of sim.events) {
    if (n++ >= N) break;
    if (!out.write(JSON.stringify(e.record) + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  if (n < N) throw new Error(`simulator produced only ${n} records`);
}

async function replayOnce(file: string, withStore: boolean, rep: number): Promise<{ eventsPerSec: number; recordsPerSec: number; events: number; alerts: number }> {
  const config = parseConfig({ ...simulatedEstateConfig(), store: { path: join(dir, 'chdb'), database: `bench_${rep}` } });
  const store = withStore ? await openReplayStore(config, createLogger({ level: 'warn' })) : undefined;
  const t0 = performance.now();
  const s = await runReplay({
    config,
    inputs: [{ name: 'bench', source: file }],
    fingerprint,
    alertsOut: nullOut(),
    deadLetters: { write: async () => undefined },
    store,
  });
  const secs = (performance.now() - t0) / 1000;
  await store?.close();
  return { eventsPerSec: s.events / secs, recordsPerSec: s.records / secs, events: s.events, alerts: s.alerts };
}

function heapPerToken(): { bytesPerToken: number; tokens: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const cfg = parseConfig({});
  const inventory = new TokenInventory({ maxTokens: TOKENS * 2, maxSetSize: cfg.inventory.max_set_size });
  const engine = new DetectionEngine({ ...DEFAULT_ENGINE_OPTIONS, detectors: detectorSet(cfg), inventory });
  const t0 = Date.UTC(2026, 0, 5);
  const make = (i: number, action: 'mint' | 'use', dt: number): TokenEvent => ({
    event_id: `bench:${action}:${i}`,
    source: 'okta',
    platform: 'okta',
    action,
    time: t0 + i * 10 + dt,
    token: { fp: fingerprint('bench', `token-${i}`), kind: 'oauth_access' },
    issuer: `client-${i % 1000}`,
    authority: 'https://acme.okta.com/oauth2/default',
    audience: ['api://default'],
    scopes_granted: ['orders:read', 'payments:write'],
    expires_at: t0 + i * 10 + 3_600_000,
    ...(action === 'use' ? { service: 'orders', network: { ip: `10.1.${(i >> 8) & 255}.${i & 255}` }, user_agent: 'okhttp/4.12.0' } : {}),
  });
  // warm up code paths and allocate the fixed parts before the baseline
  for (let i = 0; i < 1000; i++) engine.ingest(make(i, 'mint', 0));
  inventory.drainDirty();
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 1000; i < TOKENS + 1000; i++) {
    engine.ingest(make(i, 'mint', 0));
    engine.ingest(make(i, 'use', 5));
  }
  engine.advanceTo(t0 + (TOKENS + 1000) * 10);
  inventory.drainDirty();
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  const live = inventory.size - 1000;
  return { bytesPerToken: (after - before) / live, tokens: live };
}

const file = join(dir, 'events.ndjson');
process.stdout.write(`tokenwatch bench: ${fmt(N)} simulated records, ${REPS} reps per configuration, node ${process.version}\n`);
const g0 = performance.now();
await generate(file);
process.stdout.write(`  generated in ${((performance.now() - g0) / 1000).toFixed(1)} s\n`);
const results: Record<string, number[]> = { none: [], chdb: [] };
let events = 0;
let alerts = 0;
for (let rep = 0; rep < REPS; rep++) {
  for (const mode of ['none', 'chdb'] as const) {
    const r = await replayOnce(file, mode === 'chdb', rep);
    results[mode]!.push(r.eventsPerSec);
    events = r.events;
    alerts = r.alerts;
    process.stdout.write(`  rep ${rep + 1} ${mode === 'none' ? 'no sinks   ' : 'chDB sink  '}: ${fmt(r.eventsPerSec)} events/s (${fmt(r.recordsPerSec)} records/s)\n`);
  }
}
const heap = heapPerToken();
const mNone = median(results.none!);
const mChdb = median(results.chdb!);
process.stdout.write(
  [
    '',
    `token events per run: ${fmt(events)}, alerts per run: ${alerts}`,
    `median events/s, no sinks : ${fmt(mNone)}`,
    `median events/s, chDB sink: ${fmt(mChdb)}  (${(mChdb / mNone).toFixed(2)}× of no sinks)`,
    `heap per live token       : ${fmt(heap.bytesPerToken)} bytes (${fmt(heap.tokens)} tokens: inventory + all four detectors' state)`,
    '',
  ].join('\n'),
);
rmSync(dir, { recursive: true, force: true });
