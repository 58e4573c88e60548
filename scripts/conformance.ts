/**
 * Conformance: run every NDJSON file of a directory (recursively) through format detection,
 * schema validation and normalization, and print accepted / rejected-with-reason counts per
 * file. Never crashes on input: a record that breaks anything is a rejection with a reason.
 *
 *   npm run conformance -- <dir>
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createFingerprinter } from '../src/core/fingerprint.js';
import { decodeText } from '../src/pipeline/decode.js';
import { readRecords } from '../src/sources/file-source.js';

interface FileReport {
  file: string;
  records: number;
  accepted: number;
  token_events: number;
  rejected: number;
  formats: Record<string, number>;
  reasons: Record<string, number>;
}

function ndjsonFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...ndjsonFiles(p));
    else if (name.endsWith('.ndjson') || name.endsWith('.jsonl')) out.push(p);
  }
  return out;
}

async function checkFile(file: string, root: string): Promise<FileReport> {
  const ctx = { fingerprint: createFingerprinter({ key: 'tokenwatch-conformance-key-000000' }) };
  const r: FileReport = { file: relative(root, file), records: 0, accepted: 0, token_events: 0, rejected: 0, formats: {}, reasons: {} };
  for await (const rec of readRecords(file, file)) {
    r.records++;
    let res;
    try {
      res = decodeText(rec.text ?? JSON.stringify(rec.value), ctx);
    } catch (e) {
      // decodeText promises not to throw; if it does, that is a bug worth seeing, not a crash
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
    const top = Object.entries(r.reasons).sort((a, b) => b[1] - a[1]).slice(0, 8);
    for (const [reason, n] of top) process.stdout.write(`    ${String(n).padStart(5)} × ${reason}\n`);
  }
  process.stdout.write(`TOTAL: ${files.length} files, ${total.records} records, ${total.accepted} accepted, ${total.rejected} rejected, ${total.token_events} token events\n`);
  return 0;
}

process.exitCode = await main();
