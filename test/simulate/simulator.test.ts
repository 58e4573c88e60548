import { createHash } from 'node:crypto';
import { BlockList } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { decodeValue, parseJsonRecord } from '../../src/pipeline/decode.js';
import {
  ATTACK_NAMES, DECLARED_EGRESS_RANGES, DEFAULT_START, WORKLOAD_CIDRS, simulate, writeNdjson,
  type AttackName, type SimEvent, type SimulateOptions,
} from '../../src/simulate/index.js';
import type { TokenEvent } from '../../schemas/token-event.js';

const HOUR = 3_600_000;
const fingerprint = createFingerprinter({ key: 'simulator-test-key-0123456789' });
const ALL: AttackName[] = [...ATTACK_NAMES];

class Collect extends Writable {
  readonly chunks: string[] = [];
  constructor(private readonly delayMs = 0) {
    super({ highWaterMark: 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk.toString('utf8'));
    if (this.delayMs > 0) setTimeout(cb, this.delayMs);
    else cb();
  }
  text(): string {
    return this.chunks.join('');
  }
}

async function ndjson(opts: SimulateOptions): Promise<string> {
  const out = new Collect();
  await writeNdjson(simulate(opts).events, out);
  return out.text();
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function decodeAll(e: SimEvent): TokenEvent[] {
  const d = decodeValue(e.record, { fingerprint });
  if (!d.ok) throw new Error(`${e.format} record rejected: ${d.error.message}`);
  expect(d.format).toBe(e.format);
  return d.events;
}

function blockList(cidrs: readonly string[]): BlockList {
  const b = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    b.addSubnet(addr!, Number(bits));
  }
  return b;
}

describe('simulate: determinism', () => {
  const base: SimulateOptions = { seed: 42, start: DEFAULT_START, hours: 6, attacks: [] };

  it('same options give byte-identical output, also when the same result is iterated twice', async () => {
    const a = await ndjson(base);
    const b = await ndjson({ ...base });
    expect(a.length).toBeGreaterThan(10_000);
    expect(sha(a)).toBe(sha(b));
    const r = simulate(base);
    const first = [...r.events].map((e) => JSON.stringify(e.record)).join('\n');
    const second = [...r.events].map((e) => JSON.stringify(e.record)).join('\n');
    expect(sha(first)).toBe(sha(second));
  });

  it('a different seed gives different output', async () => {
    const a = await ndjson(base);
    const b = await ndjson({ ...base, seed: 43 });
    expect(sha(a)).not.toBe(sha(b));
  });

  it('times derive from start, not the wall clock', () => {
    const start = Date.UTC(2030, 5, 1);
    const events = [...simulate({ ...base, start, hours: 2 }).events];
    expect(events[0]!.time).toBeGreaterThanOrEqual(start);
    expect(events[events.length - 1]!.time).toBeLessThan(start + 2 * HOUR);
  });
});

describe('simulate: records', () => {
  // 10 h is long enough to place every attack (after 60% of the run) and short enough to decode fully.
  const run = simulate({ seed: 7, start: DEFAULT_START, hours: 10, attacks: ALL });
  const events = [...run.events];

  it('yields events in non-decreasing time order inside the run', () => {
    let last = DEFAULT_START;
    for (const e of events) {
      expect(e.time).toBeGreaterThanOrEqual(last);
      last = e.time;
    }
    expect(last).toBeLessThan(DEFAULT_START + 10 * HOUR);
    expect(new Set(events.map((e) => e.format))).toEqual(new Set(['cloudtrail', 'okta', 'kong']));
  });

  it('every record is safe JSON that decodes, validates and normalizes at its event time', () => {
    for (const e of events) {
      const text = JSON.stringify(e.record);
      expect(text.includes('__proto__')).toBe(false);
      const parsed = parseJsonRecord(text);
      expect(parsed.ok).toBe(true);
      const tokenEvents = decodeAll(e);
      expect(tokenEvents.length).toBeGreaterThan(0);
      for (const te of tokenEvents) expect(te.time).toBe(e.time);
    }
  });

  it('CloudTrail records are single records (not a Records wrapper) with documented STS shapes', () => {
    const mints = events.filter((e) => e.format === 'cloudtrail' && e.record.eventName === 'AssumeRole');
    expect(mints.length).toBeGreaterThan(10);
    for (const m of mints) {
      expect(m.record.Records).toBeUndefined();
      const creds = (m.record.responseElements as { credentials: { accessKeyId: string; expiration: string } }).credentials;
      expect(creds.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
      expect(creds.expiration).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} (AM|PM)$/);
    }
    const ec2 = mints.filter((m) => (m.record.userIdentity as { invokedBy?: string }).invokedBy === 'ec2.amazonaws.com');
    expect(ec2.length).toBeGreaterThan(0);
    for (const m of ec2) {
      expect(m.record.sourceIPAddress).toBe('ec2.amazonaws.com');
      expect((m.record.requestParameters as { roleSessionName: string }).roleSessionName).toMatch(/^i-0[0-9a-f]{16}$/);
    }
  });
});

describe('simulate: attacks', () => {
  it('the attack list matches the options, in a fixed order, each after ≥ 24 h of history', () => {
    const start = DEFAULT_START;
    const all = simulate({ seed: 1, start, hours: 48, attacks: ALL }).attacks;
    expect(all.map((a) => a.name)).toEqual(ALL);
    expect(Object.fromEntries(all.map((a) => [a.name, a.family]))).toEqual({
      mint_loop: 'mint_rate_spike',
      sts_replay: 'token_replay',
      ec2_credential_escape: 'cross_service_reuse',
      scope_escalation: 'scope_drift',
      use_after_revoke: 'token_replay',
    });
    for (const a of all) {
      expect(a.start).toBeGreaterThanOrEqual(start + 30 * HOUR);
      expect(a.end).toBeGreaterThanOrEqual(a.start);
      expect(a.end).toBeLessThan(start + 48 * HOUR);
      expect(a.issuer).toBeTruthy();
      expect(a.description.length).toBeGreaterThan(10);
    }
    const two = simulate({ seed: 1, start, hours: 48, attacks: ['use_after_revoke', 'mint_loop'] }).attacks;
    expect(two.map((a) => a.name)).toEqual(['mint_loop', 'use_after_revoke']);
    // Toggling attacks does not move the others.
    expect(two[0]).toEqual(all[0]);
    expect(simulate({ seed: 1, start, hours: 48, attacks: [] }).attacks).toEqual([]);
  });

  it('rejects unknown attacks and runs too short for a learning period', () => {
    expect(() => simulate({ seed: 1, start: DEFAULT_START, hours: 48, attacks: ['nope' as AttackName] })).toThrow(/unknown attack/);
    expect(() => simulate({ seed: 1, start: DEFAULT_START, hours: 4, attacks: ['mint_loop'] })).toThrow(/at least 8 hours/);
  });

  const run = simulate({ seed: 11, start: DEFAULT_START, hours: 10, attacks: ALL });
  const events = [...run.events];
  const attack = (name: AttackName) => run.attacks.find((a) => a.name === name)!;

  it('sts_replay and ec2_credential_escape use the named ASIA key from an external IP within its lifetime', () => {
    for (const name of ['sts_replay', 'ec2_credential_escape'] as const) {
      const a = attack(name);
      expect(a.issuer).toMatch(/^ASIA/);
      const mint = events.find((e) => e.format === 'cloudtrail' && (e.record.responseElements as any)?.credentials?.accessKeyId === a.issuer);
      expect(mint, `${name}: the stolen key is minted by the victim`).toBeDefined();
      const uses = events.filter((e) => e.format === 'cloudtrail' && (e.record.userIdentity as any).accessKeyId === a.issuer);
      const outside = uses.filter((e) => String(e.record.sourceIPAddress).startsWith('198.51.100.'));
      const inside = uses.filter((e) => String(e.record.sourceIPAddress).startsWith('10.20.'));
      expect(outside.length).toBeGreaterThan(3);
      expect(inside.length).toBeGreaterThan(0);
      expect(outside[0]!.time).toBe(a.start);
      expect(outside[outside.length - 1]!.time).toBe(a.end);
      for (const e of outside) expect(e.time).toBeGreaterThan(mint!.time);
      if (name === 'ec2_credential_escape') {
        expect((outside[0]!.record.userIdentity as any).arn).toMatch(/assumed-role\/[^/]+\/i-0[0-9a-f]{16}$/);
      }
    }
  });

  it('mint_loop mints for the named client at tens of times its usual rate', () => {
    const a = attack('mint_loop');
    const grants = events.filter((e) => e.format === 'okta' && (e.record.actor as any).id === a.issuer);
    const during = grants.filter((e) => e.time >= a.start && e.time <= a.end).length;
    const before = grants.filter((e) => e.time >= a.start - 3 * HOUR && e.time < a.start).length / 3;
    expect(during).toBeGreaterThan(30 * Math.max(before, 1));
  });

  it('scope_escalation requests more than it is granted, then is granted an admin scope it never had', () => {
    const a = attack('scope_escalation');
    const grants = events.filter((e) => e.format === 'okta' && (e.record.actor as any).id === a.issuer);
    const scopes = (e: SimEvent, k: string): string[] => String((e.record.debugContext as any).debugData[k]).split(', ');
    const baseline = new Set(grants.filter((e) => e.time < a.start).flatMap((e) => scopes(e, 'grantedScopes')));
    expect(baseline.has('okta.users.manage')).toBe(false);
    const probe = grants.find((e) => e.time === a.start)!;
    expect(scopes(probe, 'requestedScopes').length).toBeGreaterThan(scopes(probe, 'grantedScopes').length);
    expect(grants.some((e) => e.time > a.start && scopes(e, 'grantedScopes').includes('okta.users.manage'))).toBe(true);
  });

  it('use_after_revoke: the revoked token and the gateway uses after it are one fingerprint', () => {
    const a = attack('use_after_revoke');
    const revoke = events.find((e) => e.format === 'okta' && e.record.eventType === 'app.oauth2.as.token.revoke' && (e.record.target as any[])[0].id === a.issuer);
    expect(revoke).toBeDefined();
    const uses = events.filter((e) => e.format === 'kong' && (e.record.tw_claims as any).jti === a.issuer);
    const after = uses.filter((e) => e.time > revoke!.time);
    expect(uses.length).toBeGreaterThan(after.length); // the holder used it before the revoke too
    expect(after.length).toBeGreaterThan(0);
    expect(after[0]!.time).toBe(a.start);
    const revokedFp = decodeAll(revoke!)[0]!.token.fp;
    for (const u of after) expect(decodeAll(u)[0]!.token.fp).toBe(revokedFp);
  });
});

describe('simulate: benign background', () => {
  const run = simulate({ seed: 5, start: DEFAULT_START, hours: 14, attacks: [] });
  const events = [...run.events];

  it('contains no attacker traffic and stays inside the declared networks', () => {
    const egress = blockList(DECLARED_EGRESS_RANGES.flatMap((r) => r.cidrs));
    const workload = blockList(WORKLOAD_CIDRS);
    for (const e of events) {
      if (e.format === 'kong') expect(egress.check(String(e.record.client_ip))).toBe(true);
      if (e.format === 'okta') expect(egress.check(String((e.record.client as any).ipAddress))).toBe(true);
      if (e.format === 'cloudtrail') {
        const src = String(e.record.sourceIPAddress);
        expect(src.endsWith('.amazonaws.com') || workload.check(src)).toBe(true);
      }
    }
  });

  it('grants scopes exactly as requested, and gateway load follows a day curve', () => {
    for (const e of events.filter((x) => x.format === 'okta' && x.record.eventType === 'app.oauth2.as.token.grant.access_token')) {
      const d = (e.record.debugContext as any).debugData;
      expect(d.requestedScopes).toBe(d.grantedScopes);
      expect(d.grantType).toBe('client_credentials');
    }
    const inHour = (h: number): number => events.filter((e) => e.format === 'kong' && e.time >= DEFAULT_START + h * HOUR && e.time < DEFAULT_START + (h + 1) * HOUR).length;
    expect(inHour(12) / inHour(1)).toBeGreaterThan(1.8);
  });

  it('a token is never presented at the gateway after its holder revoked it', () => {
    const revoked = new Map<string, number>();
    for (const e of events) {
      if (e.format === 'okta' && e.record.eventType === 'app.oauth2.as.token.revoke') revoked.set((e.record.target as any[])[0].id, e.time);
    }
    expect(revoked.size).toBeGreaterThan(0);
    for (const e of events) {
      if (e.format !== 'kong') continue;
      const at = revoked.get((e.record.tw_claims as any).jti);
      if (at !== undefined) expect(e.time).toBeLessThan(at);
    }
  });
});

describe('writeNdjson', () => {
  it('writes one JSON line per event and waits for drain on a slow stream', async () => {
    const events = [...simulate({ seed: 3, start: DEFAULT_START, hours: 2, attacks: [] }).events].slice(0, 3000);
    const out = new Collect(1);
    const n = await writeNdjson(events, out);
    expect(n).toBe(3000);
    const lines = out.text().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(3000);
    expect(JSON.parse(lines[1234]!)).toEqual(events[1234]!.record);
  });
});
