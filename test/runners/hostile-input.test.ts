/**
 * Invalid, truncated and hostile input ends in the dead-letter destination with a reason;
 * the pipeline never crashes and nothing is dropped silently.
 */
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { runReplay } from '../../src/runners/embedded-runner.js';
import type { DeadLetter } from '../../src/sinks/dead-letter-file.js';

const ct = (over: Record<string, unknown> = {}) => ({
  eventVersion: '1.08',
  eventTime: '2026-01-05T10:00:00Z',
  eventSource: 's3.amazonaws.com',
  eventName: 'GetObject',
  awsRegion: 'us-east-1',
  sourceIPAddress: '10.20.1.5',
  userAgent: 'aws-sdk-go/1.44.0',
  eventID: 'e-' + Math.random().toString(36).slice(2),
  eventType: 'AwsApiCall',
  recipientAccountId: '123456789012',
  userIdentity: {
    type: 'AssumedRole',
    principalId: 'AROAEXAMPLE:i-0abc',
    arn: 'arn:aws:sts::123456789012:assumed-role/web/i-0abc',
    accountId: '123456789012',
    accessKeyId: 'ASIAHOSTILETEST00001',
    sessionContext: {
      sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLE', arn: 'arn:aws:iam::123456789012:role/web', accountId: '123456789012', userName: 'web' },
      attributes: { creationDate: '2026-01-05T09:00:00Z', mfaAuthenticated: 'false' },
    },
  },
  ...over,
});

async function replay(lines: (string | Buffer)[], config: Record<string, unknown> = {}) {
  const dls: DeadLetter[] = [];
  const alerts: string[] = [];
  const bytes = Buffer.concat(lines.map((l) => Buffer.concat([typeof l === 'string' ? Buffer.from(l) : l, Buffer.from('\n')])));
  const summary = await runReplay({
    config: parseConfig(config),
    inputs: [{ name: 'hostile', source: Readable.from([bytes]) }],
    fingerprint: createFingerprinter({ key: 'test-key-0123456789abcdef' }),
    alertsOut: new Writable({ write(c, _e, cb) { alerts.push(String(c)); cb(); } }),
    deadLetters: { write: async (d) => void dls.push(d) },
  });
  return { summary, dls };
}

describe('hostile input → dead letters, never a crash', () => {
  it('routes each bad record with its own reason and still processes the good ones', async () => {
    let deep = '{"a":1}';
    for (let i = 0; i < 200; i++) deep = `{"x":${deep}}`;
    const lines = [
      JSON.stringify(ct()), // valid
      '{"eventVersion": "1.08", "eventTime": ', // truncated JSON
      'garbage \u0000 bytes',
      JSON.stringify(ct({ eventTime: { nested: true } })), // wrong type
      JSON.stringify(ct({ eventName: 12345 })), // wrong type on a key format detection relies on
      JSON.stringify({ ...ct(), requestParameters: { blob: 'x'.repeat(300 * 1024) } }), // huge field
      '{"__proto__": {"polluted": true}, "eventVersion": "1.08"}', // prototype pollution
      JSON.stringify(ct()).replace('"userIdentity":{', '"userIdentity":{"constructor":{"prototype":{"x":1}},'),
      deep, // pathological nesting
      '[1,2,3]', // not an object
      '{"hello":"world"}', // unknown format
      JSON.stringify(ct()), // valid again
    ];
    const { summary, dls } = await replay(lines);
    expect(summary.records).toBe(lines.length);
    expect(summary.invalid).toBe(10);
    expect(summary.records_by_source.cloudtrail).toBe(2);
    expect(summary.invalid + 2).toBe(summary.records); // nothing dropped silently
    const codes = dls.map((d) => d.error.code);
    expect(codes).toEqual([
      'invalid_json', 'invalid_json', 'schema_violation', 'unknown_format', 'too_large',
      'hostile_input', 'hostile_input', 'hostile_input', 'schema_violation', 'unknown_format',
    ]);
    for (const d of dls) {
      expect(d.error.message.length).toBeGreaterThan(5);
      expect(typeof d.origin.index).toBe('number');
      expect(d.raw.length).toBeLessThanOrEqual(64 * 1024);
    }
    expect(dls[4]!.raw_truncated).toBe(true);
    expect(dls[2]!.error.details?.[0]?.path).toBe('eventTime');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('masks secrets in dead-lettered raw records', async () => {
    const bad = { ...ct({ eventTime: 'not-a-time' }), responseElements: { credentials: { accessKeyId: 'ASIAX', sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESECRET', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG' } } };
    const { dls } = await replay([JSON.stringify(bad)]);
    expect(dls).toHaveLength(1);
    expect(dls[0]!.raw).not.toContain('IQoJb3JpZ2luX2VjEXAMPLESECRET');
    expect(dls[0]!.raw).not.toContain('wJalrXUtnFEMI/K7MDENG');
    expect(dls[0]!.raw).toContain('"sessionToken":"[masked]"');
  });

  it('masks key ids too, and keeps no payload with dead_letter.payload: drop', async () => {
    const bad = { ...ct({ eventTime: 'not-a-time' }), responseElements: { credentials: { accessKeyId: 'ASIAMASKEDKEYID00001', sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESECRET' } } };
    const masked = await replay([JSON.stringify(bad)]);
    expect(masked.dls[0]!.raw).not.toContain('ASIAMASKEDKEYID00001');
    expect(masked.dls[0]!.raw).not.toContain('ASIAHOSTILETEST00001'); // userIdentity.accessKeyId
    expect(masked.dls[0]!.payload).toBe('masked');
    const dropped = await replay([JSON.stringify(bad)], { dead_letter: { payload: 'drop' } });
    expect(dropped.dls[0]).toMatchObject({ raw: '', payload: 'dropped', error: { code: 'schema_violation' } });
  });
});

describe('well-formed but hostile input', () => {
  it('dead-letters event times outside the plausible window; they never move the watermark', async () => {
    const at = (t: string) => JSON.stringify(ct({ eventTime: t }));
    const lines = [
      at('2026-01-05T10:00:00Z'),
      at('2100-01-01T00:00:00Z'), // would move the watermark to 2100: every real event after it late
      at('1970-01-01T00:00:01Z'),
      at('2026-01-05T10:05:00Z'),
      at('2025-10-01T00:00:00Z'), // more than max_event_age_days (30 here) behind the newest accepted
      at('2026-01-09T08:00:00Z'), // a 4-day gap in a quiet log: plausible
      at('2026-01-09T08:10:00Z'),
    ];
    const { summary, dls } = await replay(lines, { limits: { max_event_age_days: 30 } });
    expect(dls.map((d) => d.error.code)).toEqual(['implausible_time', 'implausible_time', 'implausible_time']);
    expect(dls.map((d) => d.origin.index)).toEqual([2, 3, 5].map((i) => i - 1));
    expect(dls[0]!.error.message).toMatch(/2100-01-01T00:00:00.000Z is more than limits.max_future_skew_seconds \(86400\) ahead/);
    expect(dls[1]!.error.message).toMatch(/before limits.min_event_time/);
    expect(dls[2]!.error.message).toMatch(/max_event_age_days \(30\) behind/);
    expect(summary.events).toBe(4);
    expect(summary.invalid).toBe(3);
    expect(summary.late_events).toBe(0); // nothing after the 2100 record was late
  });

  it('the window is configurable', async () => {
    const lines = [JSON.stringify(ct({ eventTime: '2026-01-05T10:00:00Z' })), JSON.stringify(ct({ eventTime: '2025-10-01T00:00:00Z' })), JSON.stringify(ct({ eventTime: '1999-06-01T00:00:00Z' }))];
    const { summary, dls } = await replay(lines, { limits: { min_event_time: '1990-01-01T00:00:00Z' } });
    expect(dls).toHaveLength(0); // the age bound is off by default: a backfill behind live data is real
    expect(summary.events).toBe(3);
    const strict = await replay(lines, { limits: { max_event_age_days: 30 } });
    expect(strict.dls.map((d) => [d.origin.index, d.error.code])).toEqual([[1, 'implausible_time'], [2, 'implausible_time']]);
  });

  it('rejects invalid UTF-8 at the edge instead of decoding it into replacement characters', async () => {
    const good = JSON.stringify(ct());
    const [head, tail] = [good.slice(0, good.indexOf('aws-sdk-go')), good.slice(good.indexOf('aws-sdk-go'))];
    const broken = Buffer.concat([Buffer.from(head), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(tail)]);
    const overlong = Buffer.concat([Buffer.from(head), Buffer.from([0xc0, 0xaf]), Buffer.from(tail)]); // overlong '/'
    const { summary, dls } = await replay([good, broken, overlong, JSON.stringify(ct())]);
    expect(dls.map((d) => d.error.code)).toEqual(['invalid_utf8', 'invalid_utf8']);
    expect(summary.records_by_source.cloudtrail).toBe(2);
  });

  it('rejects wrong-typed fields with the path of the field', async () => {
    const ui = ct().userIdentity;
    const cases: [Record<string, unknown>, string][] = [
      [{ sourceIPAddress: 42 }, 'sourceIPAddress'],
      [{ userAgent: { a: 1 } }, 'userAgent'],
      [{ recipientAccountId: 123456789012 }, 'recipientAccountId'],
      [{ eventTime: 1767607200000 }, 'eventTime'],
      [{ userIdentity: { ...ui, accessKeyId: 12345 } }, 'userIdentity.accessKeyId'],
      [{ userIdentity: { ...ui, arn: ['x'] } }, 'userIdentity.arn'],
      [{ responseElements: 5 }, 'responseElements'],
    ];
    const { summary, dls } = await replay(cases.map(([over]) => JSON.stringify(ct(over))));
    expect(summary.invalid).toBe(cases.length);
    expect(dls.map((d) => [d.error.code, d.error.details?.[0]?.path])).toEqual(cases.map(([, path]) => ['schema_violation', path]));
  });
});
