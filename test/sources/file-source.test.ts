import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readRecords, type RawRecord } from '../../src/sources/file-source.js';

const dir = mkdtempSync(join(tmpdir(), 'tw-src-'));
async function collect(content: string): Promise<RawRecord[]> {
  const p = join(dir, `f${Math.random()}.json`);
  writeFileSync(p, content);
  const out: RawRecord[] = [];
  for await (const r of readRecords(p, 'f')) out.push(r);
  return out;
}

describe('readRecords', () => {
  it('streams NDJSON line by line, skipping blank lines, keeping bad lines for the decoder', async () => {
    const r = await collect('{"a":1}\n\n{"b":2}\nnot json\n');
    expect(r.map((x) => x.text)).toEqual(['{"a":1}', '{"b":2}', 'not json']);
    expect(r.map((x) => x.origin.index)).toEqual([0, 1, 2]);
  });

  it('splits a JSON array document', async () => {
    const r = await collect('[\n  {"a":1},\n  {"b":2}\n]\n');
    expect(r.map((x) => x.value)).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('splits a CloudTrail {"Records":[...]} file, pretty-printed or on one line', async () => {
    expect((await collect('{\n "Records": [\n  {"eventID":"1"},\n  {"eventID":"2"}\n ]\n}\n')).map((x) => x.value)).toEqual([{ eventID: '1' }, { eventID: '2' }]);
    // CloudTrail's own S3 files: one wrapper object per line
    const lines = await collect('{"Records":[{"eventID":"1"},{"eventID":"2"}]}\n{"Records":[{"eventID":"3"}]}\n');
    expect(lines.map((x) => x.value)).toEqual([{ eventID: '1' }, { eventID: '2' }, { eventID: '3' }]);
    expect(lines.map((x) => x.origin.index)).toEqual([0, 1, 2]);
  });

  it('yields a truncated document as one record for the dead-letter path instead of throwing', async () => {
    const r = await collect('[\n {"a":1},\n {"b":');
    expect(r).toHaveLength(1);
    expect(r[0]!.text).toContain('"b":');
  });

  it('reads from a stream (stdin)', async () => {
    const out: RawRecord[] = [];
    for await (const r of readRecords(Readable.from(['{"a":1}\n{"a":2}\n']), 'stdin')) out.push(r);
    expect(out).toHaveLength(2);
    expect(out[0]!.origin.file).toBe('stdin');
  });
});
