/**
 * Conformance: run every NDJSON file of a directory (recursively) through the same path as
 * `tokenwatch replay` — decompression (gzip/zstd by magic bytes), envelope unwrapping
 * (src/envelopes/open-records.ts), format detection, schema validation and normalization — and
 * print accepted / rejected-with-reason counts per file. A record unwrapped from an envelope
 * counts as a record of its own. Never crashes on input: a record that breaks anything is a
 * rejection with a reason.
 *
 *   npm run conformance -- <dir>
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseConfig } from '../src/config/load-config.js';
import { createFingerprinter } from '../src/core/fingerprint.js';
import { decodeOpened, type RecordLimits } from '../src/envelopes/index.js';
import { openRecords } from '../src/envelopes/open-records.js';
import { decodeText, decodeValue, parseJsonRecord, type DecodeResult } from '../src/pipeline/decode.js';
import { DEFAULT_FILE_SOURCE_OPTIONS, readRecords, type RawRecord } from '../src/sources/file-source.js';

/** The default limits of a replay (config defaults): the same records are accepted or refused. */
const LIMITS_CONFIG = parseConfig({}).limits;
const LIMITS: RecordLimits = { maxEventBytes: LIMITS_CONFIG.max_event_bytes, maxDepth: LIMITS_CONFIG.max_depth, maxDecompressedBytes: LIMITS_CONFIG.max_decompressed_bytes };
/** NDJSON / JSON Lines, also gzip- or zstd-compressed, and compressed JSON (CloudTrail S3 objects are *.json.gz); decompressed by magic bytes, not by name. */
const INPUT_FILE = /\.(ndjson|jsonl)(\.gz|\.zst)?$|\.json\.(gz|zst)$/;

interface FileReport {
  file: string;
  records: number;
  accepted: number;
  token_events: number;
  rejected: number;
  formats: Record<string, number>;
  reasons: Record<string, number>;
  /** Records unwrapped from an envelope, by envelope chain; CloudWatch Logs control messages skipped. */
  envelopes: Record<string, number>;
  control_messages: number;
}

function ndjsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...ndjsonFiles(p));
    else if (INPUT_FILE.test(name)) out.push(p);
  }
  return out;
}

/** As replay decodes a record: opened ones by decodeOpened, anything else with the same checks. */
function decodeRecord(rec: RawRecord, ctx: { fingerprint: ReturnType<typeof createFingerprinter> }): DecodeResult {
  if (rec.opened) return decodeOpened(rec.opened, ctx);
  if (rec.text !== undefined) return decodeText(rec.text, ctx, undefined, LIMITS);
  const checked = parseJsonRecord(JSON.stringify(rec.value) ?? 'undefined', LIMITS);
  return checked.ok ? decodeValue(checked.value, ctx) : { ok: false, error: checked.error };
}

async function checkFile(file: string, root: string): Promise<FileReport> {
  const ctx = { fingerprint: createFingerprinter({ key: 'tokenwatch-conformance-key-000000' }) };
  const r: FileReport = { file: relative(root, file), records: 0, accepted: 0, token_events: 0, rejected: 0, formats: {}, reasons: {}, envelopes: {}, control_messages: 0 };
  const opening = { control_messages: 0 };
  const source = readRecords(file, file, { ...DEFAULT_FILE_SOURCE_OPTIONS, maxDecompressedBytes: LIMITS_CONFIG.max_decompressed_file_bytes });
  for await (const rec of openRecords(source, LIMITS, opening)) {
    r.records++;
    if (rec.origin.envelope !== undefined) r.envelopes[rec.origin.envelope] = (r.envelopes[rec.origin.envelope] ?? 0) + 1;
    let res;
    try {
      res = decodeRecord(rec, ctx);
    } catch (e) {
      // decoding promises not to throw; if it does, that is a bug worth seeing, not a crash
      const reason = `internal_error: ${(e as Error).message}`.slice(0, 120);
      r.rejected++;
      r.reasons[reason] = (r.reasons[reason] ?? 0) + 1;
      continue;
    }
    if (res.ok) {
      r.accepted++;
      r.token_events += res.events.length;
      r.formats[res.format] = (r.formats[res.format] ?? 0) + 1;
    } else {
      r.rejected++;
      const first = res.error.details?.[0];
      const reason = `${res.error.code}${res.format ? ` ${res.format}` : ''}${first ? `: ${first.path}: ${first.message}` : `: ${res.error.message}`}`.slice(0, 140);
      r.reasons[reason] = (r.reasons[reason] ?? 0) + 1;
    }
  }
  r.control_messages = opening.control_messages;
  return r;
}

async function main(): Promise<number> {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npm run conformance -- <dir>\n');
    return 2;
  }
  const files = ndjsonFiles(dir);
  let total = { records: 0, accepted: 0, rejected: 0, token_events: 0 };
  for (const f of files) {
    const r = await checkFile(f, dir);
    total = { records: total.records + r.records, accepted: total.accepted + r.accepted, rejected: total.rejected + r.rejected, token_events: total.token_events + r.token_events };
    process.stdout.write(`${r.file}: ${r.records} records, ${r.accepted} accepted (${r.token_events} token events; ${Object.entries(r.formats).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}), ${r.rejected} rejected\n`);
    // only for files that had any: plain NDJSON prints exactly as before
    const envelopes = Object.entries(r.envelopes).map(([k, v]) => `${k}=${v}`);
    if (r.control_messages > 0) envelopes.push(`control messages skipped=${r.control_messages}`);
    if (envelopes.length > 0) process.stdout.write(`    envelopes: ${envelopes.join(', ')}\n`);
    const top = Object.entries(r.reasons).sort((a, b) => b[1] - a[1]).slice(0, 8);
    for (const [reason, n] of top) process.stdout.write(`    ${String(n).padStart(5)} × ${reason}\n`);
  }
  process.stdout.write(`TOTAL: ${files.length} files, ${total.records} records, ${total.accepted} accepted, ${total.rejected} rejected, ${total.token_events} token events\n`);
  return 0;
}

process.exitCode = await main();
