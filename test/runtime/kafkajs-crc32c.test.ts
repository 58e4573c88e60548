import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { installNativeCrc32c, nativeCrc32c } from '../../src/runtime/kafkajs-crc32c.js';

const require = createRequire(import.meta.url);
/** kafkajs' own JavaScript CRC-32C (the inner function; its index wraps it as unsigned). */
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

describe('native CRC-32C for kafkajs', () => {
  it('gives kafkajs\' checksum for every buffer, including the empty one and the standard check value', () => {
    const native = nativeCrc32c();
    expect(native).toBeDefined();
    // CRC-32C check value of "123456789" (RFC 3720 / the Castagnoli catalogue)
    expect(native!(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(native!(Buffer.alloc(0))).toBe(kafkajsCrc32c(Buffer.alloc(0)));
    for (let i = 0; i < 300; i++) {
      const b = randomBytes(i < 100 ? i : Math.floor(Math.random() * 70_000));
      expect(native!(b)).toBe(kafkajsCrc32c(b));
    }
    // a slice into a larger buffer (kafkajs' encoder hands over subarrays)
    const big = randomBytes(4096);
    expect(native!(big.subarray(17, 3000))).toBe(kafkajsCrc32c(big.subarray(17, 3000)));
  });

  it('puts the native checksum where kafkajs\' record batch encoder loads it', async () => {
    expect(installNativeCrc32c()).toBe('native');
    expect(installNativeCrc32c()).toBe('native'); // idempotent
    const loaded = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
    expect(String(loaded)).not.toContain('unsigned('); // not kafkajs' own wrapper (`buffer => unsigned(crc32C(buffer))`)
    const b = randomBytes(1000);
    expect(loaded(b)).toBe(kafkajsCrc32c(b));
    // the encoder's own checksum: a record batch kafkajs encodes carries the native CRC at bytes 17–20
    const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (o: object) => Promise<{ buffer: Buffer }> };
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (o: object) => unknown;
    const batch = await RecordBatch({ records: [Record({ offsetDelta: 0, timestampDelta: 0, key: null, value: Buffer.from('v'), headers: {} })], firstTimestamp: 1, maxTimestamp: 1 });
    // batch layout: baseOffset(8) length(4) leaderEpoch(4) magic(1) crc(4), then the checksummed rest
    expect(batch.buffer.readUInt32BE(17)).toBe(kafkajsCrc32c(batch.buffer.subarray(21)));
  });
});
