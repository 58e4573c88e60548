/**
 * What a dead letter keeps (dead_letter.payload), for the file and the Kafka topic alike:
 * secrets and credential identifiers masked, cut to a bound, or no payload at all.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { TokenwatchError } from '../../src/core/errors.js';
import { deadLetterPayload, MASKED } from '../../src/sinks/dead-letter-payload.js';
import { toDeadLetter } from '../../src/sinks/dead-letter-file.js';
import { deadLetterMessage, type DeadLetter } from '../../src/sinks/kafka-dead-letter-sink.js';

const SECRETS = {
  accessKeyId: 'ASIAQDLQSECRET000001',
  sessionToken: 'IQoJb3JpZ2luX2VjDLQSESSIONTOKEN',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/DLQ',
  oktaTokenId: '00Tdlqtokenid0000001',
  oktaSession: '102dlqexternalsession',
  jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkbHEifQ.c2lnbmF0dXJl',
  vaultAccessor: 'hmac-sha256:dlqaccessor0001',
};
const cloudtrail = JSON.stringify({
  eventTime: 'not-a-time',
  userIdentity: { type: 'AssumedRole', accessKeyId: SECRETS.accessKeyId },
  responseElements: { credentials: { accessKeyId: SECRETS.accessKeyId, sessionToken: SECRETS.sessionToken, secretAccessKey: SECRETS.secretAccessKey } },
});
const okta = JSON.stringify({
  eventType: 'system.api_token.create',
  authenticationContext: { externalSessionId: SECRETS.oktaSession },
  target: [{ type: 'Token', id: SECRETS.oktaTokenId, displayName: 'ci' }, { type: 'User', id: '00uuser', displayName: 'alice' }],
  request: { headers: { Authorization: `Bearer ${SECRETS.jwt}` }, note: `token ${SECRETS.jwt} seen` },
  auth: { accessor: SECRETS.vaultAccessor },
});
const error = new TokenwatchError('schema_violation', 'eventTime: invalid');
const letter = (value: Buffer | null): DeadLetter => ({ value, key: Buffer.from('k'), topic: 't', partition: 0, offset: '7', format: 'cloudtrail', error });
const noSecret = (text: string) => {
  for (const s of Object.values(SECRETS)) expect(text).not.toContain(s);
};

describe('dead-letter payload', () => {
  it('mask: secrets, key ids, session ids, Okta token ids, JWTs and bearer values are masked; the rest stays', () => {
    for (const raw of [cloudtrail, okta]) {
      const p = deadLetterPayload(raw, 'mask');
      expect(p.disposition).toBe('masked');
      noSecret(p.text);
      expect(p.text).toContain(MASKED);
    }
    const o = JSON.parse(deadLetterPayload(okta, 'mask').text);
    expect(o.target[1].id).toBe('00uuser'); // a user id is not a credential
    expect(o.target[0].displayName).toBe('ci');
    expect(o.eventType).toBe('system.api_token.create');
  });

  it('mask: text that is not JSON is masked field by field', () => {
    const truncated = cloudtrail.slice(0, cloudtrail.length - 3);
    const p = deadLetterPayload(truncated, 'mask');
    noSecret(p.text);
    expect(p.text).toContain(`"sessionToken":"${MASKED}"`);
  });

  it('truncate cuts the masked text to 1 KiB; drop keeps nothing; mask cuts at 64 KiB', () => {
    const big = JSON.stringify({ sessionToken: SECRETS.sessionToken, blob: 'x'.repeat(100 * 1024) });
    const t = deadLetterPayload(big, 'truncate');
    expect(t.text.length).toBe(1024);
    expect(t.truncated).toBe(true);
    noSecret(t.text);
    const m = deadLetterPayload(big, 'mask');
    expect(m.text.length).toBe(64 * 1024);
    expect(m.truncated).toBe(true);
    expect(deadLetterPayload(big, 'drop')).toEqual({ text: '', disposition: 'dropped', truncated: false });
  });

  it('the file dead letter applies the mode', () => {
    const dl = toDeadLetter(okta, error, { file: 'x', index: 1 }, 'okta', 'mask');
    noSecret(dl.raw);
    expect(dl.payload).toBe('masked');
    const dropped = toDeadLetter(okta, error, { file: 'x', index: 1 }, 'okta', 'drop');
    expect(dropped.raw).toBe('');
    expect(dropped.payload).toBe('dropped');
  });

  it('the Kafka dead letter masks the value and says so in headers; compressed values are stored decompressed and masked', () => {
    const opts = { payload: 'mask' as const, maxDecompressedBytes: 1024 * 1024 };
    const plain = deadLetterMessage(letter(Buffer.from(cloudtrail)), opts);
    noSecret(String(plain.value));
    expect(plain.headers).toMatchObject({ reason_code: 'schema_violation', payload: 'masked', payload_truncated: 'false', payload_bytes: String(Buffer.byteLength(cloudtrail)) });
    const gz = deadLetterMessage(letter(gzipSync(okta)), opts);
    expect(gz.headers!.payload).toBe('masked');
    noSecret(String(gz.value));
    expect(JSON.parse(String(gz.value)).eventType).toBe('system.api_token.create');
    const b64 = deadLetterMessage(letter(Buffer.from(gzipSync(okta).toString('base64'))), opts);
    noSecret(String(b64.value));
  });

  it('the Kafka dead letter drops values it cannot mask: invalid UTF-8, a decompression bomb, mode drop', () => {
    const opts = { payload: 'mask' as const, maxDecompressedBytes: 1024 };
    const bad = deadLetterMessage(letter(Buffer.concat([Buffer.from(`{"sessionToken":"${SECRETS.sessionToken}","x":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])), opts);
    expect(bad.value).toBeNull();
    expect(bad.headers!.payload).toBe('dropped_binary');
    const bomb = deadLetterMessage(letter(gzipSync(Buffer.alloc(1024 * 1024, 0x61))), opts);
    expect(bomb.value).toBeNull();
    expect(bomb.headers!.payload).toBe('dropped_binary');
    const dropped = deadLetterMessage(letter(Buffer.from(cloudtrail)), { ...opts, payload: 'drop' });
    expect(dropped.value).toBeNull();
    expect(dropped.headers).toMatchObject({ payload: 'dropped', reason_code: 'schema_violation', source_offset: '7' });
  });
});
