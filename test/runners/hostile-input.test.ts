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

async function replay(lines: string[]) {
  const dls: DeadLetter[] = [];
  const alerts: string[] = [];
  const summary = await runReplay({
    config: parseConfig({}),
    inputs: [{ name: 'hostile', source: Readable.from([lines.join('\n') + '\n']) }],
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
});
