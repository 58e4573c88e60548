/**
 * kafkajs checksums every record batch it produces with CRC-32C computed in JavaScript, one byte
 * and one table lookup at a time: 4.8 % of the runner's main thread in the steady state of
 * `bench:kafka` (it produces the repartition frames, alerts and changelog records). @node-rs/crc32
 * computes the same checksum natively, ~11× faster on a 512 KiB frame. kafkajs loads its checksum
 * module lazily (on the first produce request), so putting ours in its place in the CommonJS module
 * cache before then is enough; kafkajs 2.2.4 is its last release, so the path stays put.
 *
 * Where the native binding cannot load (a platform without a prebuilt binary), kafkajs keeps its
 * own implementation: same checksum, slower.
 */
import { createRequire, Module } from 'node:module';

const require = createRequire(import.meta.url);

/** The module kafkajs' record batch encoder requires (`recordBatch/v0/index.js`: `require('../crc32C')`). */
const KAFKAJS_CRC32C = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';

type Checksum = (buffer: Buffer) => number;

let installed: 'native' | 'kafkajs' | undefined;

/** The native CRC-32C, or undefined when its binding is not available here. */
export function nativeCrc32c(): Checksum | undefined {
  try {
    const { crc32c } = require('@node-rs/crc32') as { crc32c: (input: Buffer, initial?: number) => number };
    return (buffer) => crc32c(buffer) >>> 0;
  } catch {
    return undefined;
  }
}

/**
 * Make kafkajs checksum with the native CRC-32C (idempotent). Returns which implementation kafkajs
 * uses from now on: 'kafkajs' when the binding is missing, or when kafkajs had loaded its own
 * before this ran (then nothing is changed: its encoder holds the function already).
 */
export function installNativeCrc32c(): 'native' | 'kafkajs' {
  if (installed) return installed;
  const path = require.resolve(KAFKAJS_CRC32C);
  const native = nativeCrc32c();
  if (native === undefined || require.cache[path] !== undefined) return (installed = 'kafkajs');
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = native;
  require.cache[path] = m;
  return (installed = 'native');
}
