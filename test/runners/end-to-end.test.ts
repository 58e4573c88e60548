/**
 * End to end on the embedded default: simulated vendor logs (benign background + every
 * attack) → replay → alerts, dead letters, and the embedded ClickHouse store (chDB, in this
 * test file's own process). Every injected attack raises its family's alert; the benign
 * background raises none; no raw token or key reaches alerts, tables or logs.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Alert } from '../../schemas/alert.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { createLogger } from '../../src/core/logger.js';
import { runReplay, type ReplaySummary } from '../../src/runners/embedded-runner.js';
import { openReplayStore, type OpenReplayStore } from '../../src/runners/replay-store.js';
import { simulatedEstateConfig } from '../../src/cli/simulate-command.js';
import { simulate, ATTACK_NAMES, type InjectedAttack } from '../../src/simulate/index.js';
import type { DeadLetter } from '../../src/sinks/dead-letter-file.js';
import { createStoreClient } from '../../src/store/clickhouse-client.js';

const HMAC_KEY = 'end-to-end-test-key-0123456789abcdef';
const fingerprint = createFingerprinter({ key: HMAC_KEY });
const HOUR = 3_600_000;

function ndjson(events: Iterable<{ record: Record<string, unknown> }>): { stream: Readable; secrets: Set<string> } {
  const secrets = new Set<string>();
  const lines: string[] = [];
  for (const e of events) {
    const text = JSON.stringify(e.record);
    // every credential-like value the vendor records carry: key ids, session tokens, secrets, jtis, token hashes
    for (const m of text.matchAll(/"(?:accessKeyId|sessionToken|secretAccessKey|jti|tw_jti|tw_token_sha256|authorization|id)":"([^"]{12,})"/g)) {
      const v = m[1]!;
      if (/^(ASIA|AKIA)|^AT\.|^IQoJ|^[0-9a-f]{64}$|^Bearer |^ey/.test(v)) secrets.add(v.replace(/^Bearer /, ''));
    }
    lines.push(text);
  }
  return { stream: Readable.from([lines.join('\n') + '\n']), secrets };
}

interface Run {
  summary: ReplaySummary;
  alerts: Alert[];
  dls: DeadLetter[];
  logs: string;
}

async function replay(stream: Readable, store?: OpenReplayStore): Promise<Run> {
  const alerts: Alert[] = [];
  const dls: DeadLetter[] = [];
  const out = new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) alerts.push(JSON.parse(l)); cb(); } });
  const summary = await runReplay({
    config: parseConfig(simulatedEstateConfig()),
    inputs: [{ name: 'simulated', source: stream }],
    fingerprint,
    alertsOut: out,
    deadLetters: { write: async (d) => void dls.push(d) },
    store,
  });
  return { summary, alerts, dls, logs: '' };
}

const keyFp = (a: InjectedAttack): string | undefined =>
  a.issuer && /^(ASIA|AKIA)/.test(a.issuer) ? fingerprint('aws', a.issuer) : a.issuer?.startsWith('AT.') ? fingerprint('jti', a.issuer) : undefined;

/** An alert belongs to an attack when it is about the attack's token/issuer and inside its time window. */
function belongsTo(alert: Alert, a: InjectedAttack): boolean {
  const t = Date.parse(alert.last_seen);
  if (t < a.start - 10 * 60_000 || t > a.end + 2 * HOUR) return false;
  const fp = keyFp(a);
  return fp ? alert.token_fp === fp : alert.issuer === a.issuer;
}

describe('end to end: simulate → replay → alerts + embedded ClickHouse', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'tw-e2e-')), 'chdb');
  let store: OpenReplayStore;
  let attacked: Run;
  let secrets: Set<string>;
  let attacks: InjectedAttack[];
  const logLines: string[] = [];

  beforeAll(async () => {
    const logSink = new PassThrough();
    logSink.on('data', (c) => logLines.push(String(c)));
    const cfg = parseConfig({ store: { path: dataDir } });
    store = await openReplayStore(cfg, createLogger({ level: 'debug' }, logSink));
    const sim = simulate({ seed: 11, start: Date.UTC(2026, 0, 5), hours: 48, attacks: [...ATTACK_NAMES] });
    attacks = sim.attacks;
    const input = ndjson(sim.events);
    secrets = input.secrets;
    attacked = await replay(input.stream, store);
  }, 600_000);

  afterAll(async () => {
    await store?.close();
  });

  it('reads every record; the simulated stream is valid vendor data', () => {
    expect(attacked.summary.records).toBeGreaterThan(50_000);
    expect(attacked.summary.invalid).toBe(0);
    expect(attacked.dls).toEqual([]);
    expect(Object.keys(attacked.summary.records_by_source).sort()).toEqual(['cloudtrail', 'kong', 'okta']);
  });

  it('raises every injected attack as an alert of its family', () => {
    expect(attacks.map((a) => a.name).sort()).toEqual([...ATTACK_NAMES].sort());
    // A stolen credential used elsewhere is judged by credential_context (learned per issuer and workload).
    const detectorsFor = (a: (typeof attacks)[number]): string[] =>
      a.name === 'sts_replay' || a.name === 'ec2_credential_escape' ? ['credential_context'] : [a.family];
    for (const a of attacks) {
      const hits = attacked.alerts.filter((x) => detectorsFor(a).includes(x.detector) && belongsTo(x, a));
      const seen = attacked.alerts.map((x) => `${x.detector}/${x.kind}`).join(', ');
      expect(hits.length, `${a.name} (${detectorsFor(a).join('|')}): ${a.description}; alerts: ${seen}`).toBeGreaterThan(0);
    }
    const kinds = new Set(attacked.alerts.map((a) => `${a.detector}/${a.kind}`));
    expect(kinds).toContain('token_replay/use_after_revocation');
    expect(kinds).toContain('credential_context/new_context');
    expect(kinds).toContain('credential_context/workload_credential_exfiltration');
    expect(kinds).toContain('scope_drift/granted_beyond_baseline');
  });

  it('raises nothing that is not an injected attack', () => {
    const stray = attacked.alerts.filter((x) => !attacks.some((a) => belongsTo(x, a)));
    expect(stray.map((s) => `${s.detector}/${s.kind}: ${s.summary}`)).toEqual([]);
  });

  it('writes alerts that explain themselves', () => {
    for (const a of attacked.alerts) {
      expect(Alert.safeParse(a).success).toBe(true);
      expect(a.evidence.events.length).toBeGreaterThan(0);
      expect(Object.keys(a.evidence.baseline).length).toBeGreaterThan(0);
      expect(a.mitre_attack.length).toBeGreaterThan(0);
      expect(a.owasp_nhi.length).toBeGreaterThan(0);
    }
  });

  it('stores alerts, inventory and events in the embedded ClickHouse, queryable', { timeout: 60_000 }, async () => {
    const client = (await createStoreClient({ path: dataDir })).client; // same process, same directory
    const q = async (sql: string) => (await (await client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>());
    const [alerts] = await q('SELECT uniqExact(alert_id) AS n FROM tokenwatch.alerts');
    expect(Number(alerts!.n)).toBe(attacked.alerts.length);
    const [inv] = await q('SELECT count() AS n FROM tokenwatch.token_inventory FINAL');
    expect(Number(inv!.n)).toBe(attacked.summary.tokens_in_inventory);
    const [evs] = await q('SELECT count() AS n FROM tokenwatch.token_events');
    expect(Number(evs!.n)).toBe(attacked.summary.events);
    const revoked = await q("SELECT token_fp FROM tokenwatch.token_inventory FINAL WHERE revoked_at IS NOT NULL AND last_use > revoked_at");
    const uar = attacks.find((a) => a.name === 'use_after_revoke')!;
    expect(revoked.map((r) => r.token_fp)).toContain(keyFp(uar));
  });

  it('never lets a raw token, key id or session token reach alerts, tables or logs', async () => {
    expect(secrets.size).toBeGreaterThan(100);
    const client = (await createStoreClient({ path: dataDir })).client;
    const dump = async (t: string) => (await (await client.query({ query: `SELECT * FROM tokenwatch.${t}`, format: 'JSONEachRow' })).text());
    const haystacks = {
      alerts: JSON.stringify(attacked.alerts),
      alerts_table: await dump('alerts'),
      inventory_table: await dump('token_inventory'),
      events_table: await dump('token_events'),
      logs: logLines.join(''),
    };
    const sample = [...secrets].filter((_, i) => i % Math.ceil(secrets.size / 300) === 0);
    for (const [name, text] of Object.entries(haystacks)) {
      // every credential-shaped word of the output against the set of secrets (linear), plus a
      // substring search for a sample of them (catches a secret embedded in a longer word)
      const leaked = new Set<string>();
      for (const m of text.matchAll(/[A-Za-z0-9._+\/=-]{12,}/g)) if (secrets.has(m[0])) leaked.add(m[0]);
      for (const s of sample) if (text.includes(s)) leaked.add(s);
      expect([...leaked].slice(0, 3), `${name} leaks ${leaked.size} secrets`).toEqual([]);
    }
  }, 120_000);

  it('gives the same alerts, same ids, for the same logs replayed again (event time, not wall clock)', async () => {
    const sim = simulate({ seed: 11, start: Date.UTC(2026, 0, 5), hours: 48, attacks: [...ATTACK_NAMES] });
    const again = await replay(ndjson(sim.events).stream);
    expect(again.alerts.map((a) => a.alert_id)).toEqual(attacked.alerts.map((a) => a.alert_id));
  }, 300_000);

  it('raises no alert on the benign background alone', async () => {
    const sim = simulate({ seed: 11, start: Date.UTC(2026, 0, 5), hours: 48, attacks: [] });
    const benign = await replay(ndjson(sim.events).stream);
    expect(benign.summary.events).toBeGreaterThan(50_000);
    expect(benign.alerts.map((a) => `${a.detector}/${a.kind}: ${a.summary}`)).toEqual([]);
  }, 300_000);
});
