/**
 * The repartition record codec: every event the real normalizers produce from the vendor and
 * envelope fixtures (also after enrichment), simulator events and a hand-built event with every
 * optional field come back deep-equal, key for key; watermarks keep -Infinity; truncated,
 * versioned-away, mis-tagged or trailing bytes throw invalid_token_event, and garbage never hangs.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PLATFORMS, SOURCE_FORMATS, TOKEN_KINDS, TokenEvent } from '../../schemas/token-event.js';
import { TokenwatchError } from '../../src/core/errors.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { EnrichConfig } from '../../src/config/config-schema.js';
import { EnrichStage } from '../../src/enrich/enrich-stage.js';
import { planEnrichment } from '../../src/enrich/enrichment-data.js';
import { decodeOpened, openRecord, type RecordLimits } from '../../src/envelopes/index.js';
import { decodeValue } from '../../src/pipeline/decode.js';
import { ATTACK_NAMES, simulate } from '../../src/simulate/index.js';
import { CODEC_VERSION, decodeRecord, encodeRecord, type RepartitionRecord } from '../../src/runtime/token-event-codec.js';

const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));
const LIMITS: RecordLimits = { maxEventBytes: 256 * 1024, maxDepth: 32, maxDecompressedBytes: 16 * 1024 * 1024 };
const ctx = { fingerprint: createFingerprinter({ key: 'codec-test-key-0123456789abcdef' }) };

/** Token events of every fixture record the pipeline accepts (plain files, ndjson lines, envelopes). */
function fixtureEvents(): TokenEvent[] {
  const files: string[] = [];
  for (const dir of readdirSync(`${FIX}vendors`)) for (const f of readdirSync(`${FIX}vendors/${dir}`)) files.push(`${FIX}vendors/${dir}/${f}`);
  for (const f of readdirSync(`${FIX}envelopes`)) if (/\.(json|ndjson)$/.test(f)) files.push(`${FIX}envelopes/${f}`);
  const out: TokenEvent[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const inputs = file.endsWith('.ndjson') ? text.split('\n').filter((l) => l.trim() !== '') : [text];
    for (const input of inputs) {
      for (const o of openRecord(input, LIMITS)) {
        if (o.skipped) continue;
        const r = decodeOpened(o, ctx);
        if (r.ok) out.push(...r.events);
      }
    }
  }
  return out;
}

function enrichedCopies(events: readonly TokenEvent[]): TokenEvent[] {
  const E = `${FIX}enrich`;
  const stage = new EnrichStage(
    planEnrichment(
      EnrichConfig.parse({
        data_dir: `${E}/no-such-dir`,
        asn_csv: { ipv4: `${E}/asn-ipv4.csv`, ipv6: `${E}/asn-ipv6.csv` },
        country_csv: { ipv4: `${E}/asn-country-ipv4.csv`, ipv6: `${E}/asn-country-ipv6.csv` },
        cloud_ranges: [
          { provider: 'aws', file: `${E}/aws-ip-ranges.json` },
          { provider: 'gcp', file: `${E}/gcp-cloud.json` },
          { provider: 'azure', file: `${E}/azure-service-tags.json` },
        ],
      }),
    ),
  );
  const out = events.map((e) => structuredClone(e));
  for (const e of out) stage.enrich(e);
  // addresses the fixture data knows, so every enrichment field is exercised
  for (const ip of ['81.2.69.160', '2a02:8010::7', '3.5.140.2', '34.80.0.1', '20.38.112.1', '10.0.0.7', '100.64.1.1']) {
    const e: TokenEvent = { event_id: `enrich:${ip}`, source: 'kong', platform: 'gateway', action: 'use', time: 1_760_000_000_000, token: { fp: ctx.fingerprint('t', ip), kind: 'api_key' }, network: { ip } };
    stage.enrich(e);
    out.push(e);
  }
  return out;
}

function simulatorEvents(): TokenEvent[] {
  const out: TokenEvent[] = [];
  for (const s of simulate({ seed: 9, start: Date.UTC(2026, 0, 5), hours: 10, scale: 0.1, attacks: [...ATTACK_NAMES] }).events) {
    const r = decodeValue(s.record, ctx, s.format);
    if (r.ok) out.push(...r.events);
  }
  return out;
}

const eventRecord = (event: TokenEvent, over: Partial<Extract<RepartitionRecord, { kind: 'event' }>> = {}): RepartitionRecord => ({ kind: 'event', event, route: 'token', source: 'tw.in.cloudtrail', order: event.time, ...over });
const roundTrip = (r: RepartitionRecord): RepartitionRecord => decodeRecord(encodeRecord(r));

const many = (n: number, len: number, tag: string): string[] => Array.from({ length: n }, (_, i) => `${tag}${i}:`.padEnd(len, 'x'));

/** Every optional field set, arrays at their schema maximum, non-ASCII text of 1-4 UTF-8 bytes a character. */
const FULL: TokenEvent = {
  event_id: 'okta:ünïcödé-事件-🔑'.padEnd(200, 'é'),
  source: 'github_audit',
  platform: 'github',
  action: 'reuse_signal',
  time: 1_767_225_600_123,
  token: { fp: 'tw1:00ff10ab9c8d7e6f5a4b3c2d1e0f9a8b', kind: 'vault_token', hint: 'ASIA—kid:ключ', one_time: true },
  parent_fp: 'tw1:ffffffffffffffffffffffffffffffff',
  issuer: 'spiffe://prod/ns/支付/sa/billing',
  minted_by: 'arn:aws:iam::123456789012:user/zoë',
  authority: 'https://login.example/tenant/😀',
  subject: 'user@例え.jp',
  audience: many(64, 512, 'aud-ü-'),
  service: 'ec2.amazonaws.com',
  scopes_requested: many(256, 256, 'scope:read-'),
  scopes_granted: many(256, 256, 'scope:écrire-'),
  scopes_used: [],
  issued_at: 0,
  expires_at: Number.MAX_SAFE_INTEGER,
  network: { ip: '2001:db8::1', asn: 'AS64496', label: 'AWS Internal', scope: 'reserved', as_org: 'Ünïcorn Networks GmbH', country: 'DE', cloud_provider: 'aws', cloud_region: 'eu-central-1', cloud_service: 'EC2' },
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64) '.padEnd(1024, 'ä'),
  workload: { kind: 'gce_instance', id: 'projects/p/zones/z/instances/ñ' },
  outcome: 'failure',
  operation: 'oauth_access.create',
  signal: 'reuse detected — 再利用',
  envelope: 'eventbridge/cloudwatch_logs',
};

/** The same, with short arrays: small enough to cut at every byte. */
const SMALL_FULL: TokenEvent = { ...FULL, audience: ['a', 'ü'], scopes_requested: ['r'], scopes_granted: ['g', 'h'], scopes_used: ['u'], user_agent: 'curl/8 ✓', event_id: 'id-é' };

describe('token event codec: round trips', () => {
  const fixtures = fixtureEvents();
  const sims = simulatorEvents();

  it('keeps every event the normalizers produce from the fixtures, exactly', () => {
    expect(fixtures.length).toBeGreaterThan(100);
    // every vendor format has a fixture that yields events
    expect(new Set(fixtures.map((e) => e.source))).toEqual(new Set(SOURCE_FORMATS));
    expect(fixtures.some((e) => e.envelope !== undefined)).toBe(true);
    for (const e of fixtures) expect(roundTrip(eventRecord(e))).toStrictEqual(eventRecord(e));
  });

  it('keeps enriched events (scope, asn, org, country, cloud fields)', () => {
    const enriched = enrichedCopies(fixtures);
    const nets = enriched.map((e) => e.network).filter((n) => n !== undefined);
    for (const k of ['scope', 'asn', 'as_org', 'country', 'cloud_provider', 'cloud_region', 'cloud_service'] as const) expect(nets.some((n) => n[k] !== undefined), k).toBe(true);
    for (const e of enriched) expect(roundTrip(eventRecord(e, { route: 'parent', order: e.time + 1 }))).toStrictEqual(eventRecord(e, { route: 'parent', order: e.time + 1 }));
  });

  it('keeps simulator events', () => {
    expect(sims.length).toBeGreaterThan(1000);
    for (const e of sims) expect(roundTrip(eventRecord(e))).toStrictEqual(eventRecord(e));
  });

  it('keeps a hand-built event with every optional field, max-length arrays and non-ASCII text', () => {
    expect(TokenEvent.parse(FULL)).toStrictEqual(FULL);
    for (const route of ['token', 'parent'] as const) {
      for (const order of [FULL.time, FULL.time + 1, FULL.time + 0.5]) {
        const r = eventRecord(FULL, { route, order, source: 'tw.in.ökta' });
        expect(roundTrip(r)).toStrictEqual(r);
      }
    }
    const decoded = roundTrip(eventRecord(FULL));
    // the decoded event is the schema's own shape: same keys in the same order as a zod parse
    expect(JSON.stringify(decoded.kind === 'event' && decoded.event)).toBe(JSON.stringify(TokenEvent.parse(FULL)));
    expect(roundTrip(eventRecord({ ...FULL, token: { ...FULL.token, one_time: false } }))).toStrictEqual(eventRecord({ ...FULL, token: { ...FULL.token, one_time: false } }));
  });

  it('adds no keys to a minimal event and covers every enum value', () => {
    const min: TokenEvent = { event_id: 'x', source: 'cloudtrail', platform: 'aws', action: 'mint', time: 0, token: { fp: 'tw1:0123456789abcdef0123456789abcdef', kind: 'unknown' } };
    const back = roundTrip(eventRecord(min));
    expect(back).toStrictEqual(eventRecord(min));
    expect(Object.keys(back.kind === 'event' ? back.event : {})).toEqual(['event_id', 'source', 'platform', 'action', 'time', 'token']);
    for (const source of SOURCE_FORMATS) for (const platform of PLATFORMS) for (const kind of TOKEN_KINDS) {
      const e = { ...min, source, platform, token: { ...min.token, kind } };
      expect(roundTrip(eventRecord(e))).toStrictEqual(eventRecord(e));
    }
    const net = { ...min, network: {}, workload: { kind: 'other' as const, id: '' }, outcome: 'success' as const, audience: [] };
    expect(roundTrip(eventRecord(net))).toStrictEqual(eventRecord(net));
  });

  it('keeps a string that is not well-formed Unicode (a lone surrogate from a JSON escape)', () => {
    const e: TokenEvent = { ...SMALL_FULL, user_agent: 'bad \ud800 agent', issuer: 'tail \udfff' };
    expect(roundTrip(eventRecord(e))).toStrictEqual(eventRecord(e));
    const w: RepartitionRecord = { kind: 'watermark', source: 'topic-\ud83d', watermark: 5, idle: false };
    expect(roundTrip(w)).toStrictEqual(w);
  });

  it('hands repeated short ASCII strings back as one string, and never another string that shares its cache slot', () => {
    const a = roundTrip(eventRecord(sims[0]!));
    const b = roundTrip(eventRecord(sims[0]!));
    if (a.kind !== 'event' || b.kind !== 'event') throw new Error('not events');
    expect(b.event.issuer).toBeDefined();
    expect(Object.is(a.event.issuer, b.event.issuer)).toBe(true);
    expect(b.source).toBe(a.source);
    // 20,000 distinct short values through a 4,096-slot cache: collisions on every slot, each value exact
    const values = Array.from({ length: 20_000 }, (_, i) => `svc-${i.toString(36)}.example`);
    for (let round = 0; round < 2; round++) {
      for (const service of values) {
        const r = roundTrip(eventRecord({ ...sims[0]!, service, scopes_granted: [service, 'read'] }));
        expect(r.kind === 'event' && r.event.service).toBe(service);
        expect(r.kind === 'event' && r.event.scopes_granted).toEqual([service, 'read']);
      }
    }
    // non-ASCII, and as many UTF-8 bytes as another string's characters: decoded, never taken from the cache
    for (const issuer of ['https://idp.example/é', 'https://idp.example/ab', 'https://idp.example/é', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(64)]) {
      const r = roundTrip(eventRecord({ ...sims[0]!, issuer }));
      expect(r.kind === 'event' && r.event.issuer).toBe(issuer);
    }
  });


  it('hands a repeated fingerprint back as one string, and never the text of another fingerprint in its cache slot', () => {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    const fp = (w: number[]): string => `tw1:${w.map(hex).join('')}`;
    const a = roundTrip(eventRecord(sims[0]!));
    const b = roundTrip(eventRecord(sims[0]!));
    if (a.kind !== 'event' || b.kind !== 'event') throw new Error('not events');
    expect(Object.is(a.event.token.fp, b.event.token.fp)).toBe(true);
    // same first and last word (one slot), different middle words; and a twin differing in its last byte
    const twins = [fp([0x11223344, 1, 2, 0x55667788]), fp([0x11223344, 3, 4, 0x55667788]), fp([0x11223344, 1, 2, 0x55667789]), fp([0x11223344, 1, 2, 0x55667788])];
    // 20,000 random fingerprints through 4,096 slots, twice: every one exact, token and parent
    const many = Array.from({ length: 20_000 }, (_, i) => fp([i * 2654435761, i, i ^ 0xdeadbeef, i * 40503].map((v) => v >>> 0)));
    for (let round = 0; round < 2; round++) {
      for (const [i, f] of [...twins, ...many].entries()) {
        const parent = twins[(i + 1) % twins.length]!;
        const r = roundTrip(eventRecord({ ...sims[0]!, token: { ...sims[0]!.token, fp: f }, parent_fp: parent }));
        expect(r.kind === 'event' && r.event.token.fp).toBe(f);
        expect(r.kind === 'event' && r.event.parent_fp).toBe(parent);
      }
    }
  });
  it('keeps watermarks, including -Infinity and idle', () => {
    for (const watermark of [-Infinity, 0, 1_767_225_600_123, 1.5, Number.MAX_VALUE]) {
      for (const idle of [false, true]) {
        const r: RepartitionRecord = { kind: 'watermark', source: 'tw.in.okta', watermark, idle };
        expect(roundTrip(r)).toStrictEqual(r);
      }
    }
    expect(encodeRecord({ kind: 'watermark', source: 'a', watermark: -Infinity, idle: true }).length).toBe(2 + 2 + 8);
  });

  it('returns a buffer of its own each time (the scratch buffer is reused and grows)', () => {
    const small = encodeRecord(eventRecord(SMALL_FULL));
    const copy = Buffer.from(small);
    const big = encodeRecord(eventRecord(FULL));
    expect(big.length).toBeGreaterThan(100_000);
    encodeRecord({ kind: 'watermark', source: 'x', watermark: 1, idle: false });
    expect(small.equals(copy)).toBe(true);
    expect(decodeRecord(big)).toStrictEqual(eventRecord(FULL));
  });

  it('is smaller than the JSON it replaces', () => {
    for (const set of [fixtures, sims]) {
      let bin = 0;
      let json = 0;
      for (const e of set) {
        bin += encodeRecord(eventRecord(e)).length;
        json += Buffer.byteLength(JSON.stringify(e));
      }
      expect(bin / json).toBeLessThan(1);
    }
  });
});

const expectInvalid = (buf: Buffer, message?: RegExp): void => {
  let err: unknown;
  try {
    decodeRecord(buf);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TokenwatchError);
  expect((err as TokenwatchError).code).toBe('invalid_token_event');
  if (message) expect((err as TokenwatchError).message).toMatch(message);
};

describe('token event codec: bad input', () => {
  const samples: RepartitionRecord[] = [
    eventRecord(SMALL_FULL, { route: 'parent', order: SMALL_FULL.time + 61_000 }),
    eventRecord({ ...SMALL_FULL, subject: 'lone \ud800' }),
    eventRecord(fixtureEvents()[0]!),
    { kind: 'watermark', source: 'tw.in.kong', watermark: -Infinity, idle: true },
  ];

  it('throws on a buffer cut at any byte', () => {
    for (const r of samples) {
      const buf = encodeRecord(r);
      for (let cut = 0; cut < buf.length; cut++) expectInvalid(buf.subarray(0, cut));
    }
  });

  it('throws on trailing bytes, an unknown version, kind or tag bit', () => {
    const buf = encodeRecord(samples[0]!);
    expectInvalid(Buffer.concat([buf, Buffer.from([0])]), /trailing/);
    for (const version of [0, CODEC_VERSION + 1, 255]) {
      const v = Buffer.from(buf);
      v[0] = version;
      expectInvalid(v, /version/);
    }
    for (const tag of [2, 3, 64, 128, 0 | 16, 1 | 4, 1 | 8]) {
      const t = Buffer.from(buf);
      t[1] = tag;
      expectInvalid(t, /kind|tag/);
    }
  });

  it('throws on an unknown enum index or presence bit', () => {
    const min: TokenEvent = { event_id: 'x', source: 'cloudtrail', platform: 'aws', action: 'mint', time: 0, token: { fp: 'tw1:0123456789abcdef0123456789abcdef', kind: 'unknown' } };
    const buf = encodeRecord(eventRecord(min, { source: 's' }));
    // version, tag, "s" (2 bytes), mask (3 bytes), "x" (2 bytes), then source, platform, action
    const at = 2 + 2 + 3 + 2;
    for (const [off, value] of [[at, SOURCE_FORMATS.length], [at + 1, 200], [at + 2, 4]] as const) {
      const b = Buffer.from(buf);
      b[off] = value;
      expectInvalid(b, /unknown (source|platform|action)/);
    }
    const mask = Buffer.from(buf);
    mask[6] = 0x40; // bit 22: no such field
    expectInvalid(mask, /presence/);
    const oneTime = Buffer.from(buf);
    oneTime[4] = 4; // one_time value without one_time
    expectInvalid(oneTime, /presence/);
  });

  it('never hangs or reads out of bounds on garbage', () => {
    let seed = 12345;
    const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
    const valid = samples.map((r) => encodeRecord(r));
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      let b: Buffer;
      if (i % 2 === 0) {
        b = Buffer.from(valid[i % valid.length]!);
        for (let k = 0; k < 3; k++) b[2 + (rand() * 256 + rand()) % (b.length - 2)] = rand();
      } else {
        b = Buffer.alloc(rand() % 64);
        for (let k = 0; k < b.length; k++) b[k] = rand();
        if (b.length > 1) b[0] = CODEC_VERSION;
      }
      try {
        decodeRecord(b);
        decoded++;
      } catch (e) {
        expect(e).toBeInstanceOf(TokenwatchError);
      }
    }
    expect(decoded).toBeGreaterThan(0); // flipped string bytes still decode: trusted, not checksummed
  });

  it('refuses to encode what it cannot represent', () => {
    const bad = (e: Partial<TokenEvent>): void => {
      expect(() => encodeRecord(eventRecord({ ...SMALL_FULL, ...e } as TokenEvent))).toThrow(TokenwatchError);
    };
    bad({ token: { fp: 'tw1:0123456789ABCDEF0123456789abcdef', kind: 'api_key' } });
    bad({ parent_fp: 'not-a-fingerprint' });
    bad({ source: 'syslog' as never });
    bad({ network: { scope: 'intergalactic' as never } });
    // the scratch buffer is fine after a failed encode
    expect(roundTrip(eventRecord(SMALL_FULL))).toStrictEqual(eventRecord(SMALL_FULL));
  });
});
