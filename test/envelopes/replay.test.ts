/**
 * Compressed and enveloped files through the embedded replay runner: every shape becomes the
 * same token events and the same alert (a deleted key used again: token_replay
 * use_after_revocation); broken records inside an envelope are dead-lettered on their own with
 * their origin; bombs and corrupt gzip are dead-lettered with a reason; a record without a
 * credential is counted as skipped.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../schemas/alert.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createFingerprinter } from '../../src/core/fingerprint.js';
import { runReplay, type ReplaySummary } from '../../src/runners/embedded-runner.js';
import type { DeadLetter } from '../../src/sinks/dead-letter-file.js';

const FIX = fileURLToPath(new URL('../fixtures/envelopes/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tw-envelope-replay-'));
const fixture = (name: string): string => readFileSync(FIX + name, 'utf8');

async function replay(source: string | Readable, config: Record<string, unknown> = {}): Promise<{ summary: ReplaySummary; dls: DeadLetter[]; alerts: Alert[] }> {
  const dls: DeadLetter[] = [];
  const alerts: Alert[] = [];
  const summary = await runReplay({
    config: parseConfig(config),
    inputs: [{ name: typeof source === 'string' ? source.slice(source.lastIndexOf('/') + 1) : 'stdin', source }],
    fingerprint: createFingerprinter({ key: 'envelope-replay-key-0123456789abcdef' }),
    alertsOut: new Writable({
      write(c, _e, cb) {
        for (const l of String(c).split('\n')) if (l) alerts.push(JSON.parse(l) as Alert);
        cb();
      },
    }),
    deadLetters: { write: async (d) => void dls.push(d) },
  });
  return { summary, dls, alerts };
}

const kinds = (alerts: Alert[]): string[] => alerts.map((a) => `${a.detector}/${a.kind}`);

describe('replay of compressed and enveloped files', () => {
  it.each([
    ['cloudtrail-s3-object.json.gz', undefined],
    ['cloudtrail-records.json.zst', undefined],
    ['eventbridge-cloudtrail.ndjson', 'eventbridge'],
    ['cloudwatch-logs-batch.json', 'cloudwatch_logs'],
    ['cloudwatch-logs-lambda-event.json', 'cloudwatch_logs'],
    ['lookup-events.json', 'cloudtrail_lookup_events'],
    ['elasticsearch-search-response.json', 'elasticsearch/logstash'],
    ['filebeat-message.ndjson', 'logstash'],
  ])('%s → 7 token events, 1 skipped without a credential, the use-after-revocation alert', async (name, envelope) => {
    const { summary, dls, alerts } = await replay(FIX + name);
    expect(dls).toEqual([]);
    expect(summary.records).toBe(6);
    expect(summary.events).toBe(7);
    expect(summary.skipped_no_credential).toBe(1);
    expect(summary.records_by_envelope).toEqual(envelope ? { [envelope]: 6 } : {});
    expect(kinds(alerts)).toEqual(['token_replay/use_after_revocation']);
  });

  it('reads gzip from stdin', async () => {
    const stdin = new PassThrough();
    stdin.end(readFileSync(FIX + 'cloudtrail-s3-object.json.gz'));
    const { summary, alerts } = await replay(stdin);
    expect(summary.events).toBe(7);
    expect(kinds(alerts)).toEqual(['token_replay/use_after_revocation']);
  });

  it('reads a gzip file of enveloped NDJSON (EventBridge lines, gzipped by a Firehose)', async () => {
    const p = join(dir, 'firehose-object');
    writeFileSync(p, gzipSync(fixture('eventbridge-cloudtrail.ndjson')));
    const { summary } = await replay(p);
    expect(summary.records_by_envelope).toEqual({ eventbridge: 6 });
    expect(summary.events).toBe(7);
  });

  it('reads a Firehose S3 object of CloudWatch Logs batches gzipped and concatenated without a delimiter', async () => {
    const batch = JSON.stringify(JSON.parse(fixture('cloudwatch-logs-batch.json')));
    const control = JSON.stringify(JSON.parse(fixture('cloudwatch-logs-control-message.json')));
    const p = join(dir, 'firehose-cwl-object');
    writeFileSync(p, Buffer.concat([gzipSync(control), gzipSync(batch)]));
    const { summary, dls, alerts } = await replay(p);
    expect(dls).toEqual([]);
    expect(summary.records_by_envelope).toEqual({ 'concatenated_json/cloudwatch_logs': 6 });
    expect(summary.skipped_control_messages).toBe(1);
    expect(kinds(alerts)).toEqual(['token_replay/use_after_revocation']);
  });

  it('counts a CloudWatch Logs CONTROL_MESSAGE as skipped, never as a dead letter', async () => {
    const { summary, dls } = await replay(FIX + 'cloudwatch-logs-control-message.json');
    expect(dls).toEqual([]);
    expect(summary.skipped_control_messages).toBe(1);
    expect(summary.invalid).toBe(0);
  });

  it('dead-letters a broken record inside an envelope with its own origin and raw text', async () => {
    const batch = JSON.parse(fixture('cloudwatch-logs-batch.json'));
    batch.logEvents[3].message = '{"eventVersion":"1.08","eventName":';
    const p = join(dir, 'cwl-broken.json');
    writeFileSync(p, JSON.stringify(batch) + '\n' + JSON.stringify(batch) + '\n');
    const { summary, dls } = await replay(p);
    expect(summary.invalid).toBe(2);
    expect(dls.map((d) => d.origin)).toEqual([
      { file: 'cwl-broken.json', index: 0, envelope: 'cloudwatch_logs', envelope_index: 3 },
      { file: 'cwl-broken.json', index: 1, envelope: 'cloudwatch_logs', envelope_index: 3 },
    ]);
    expect(dls[0]!.error.code).toBe('invalid_json');
    expect(dls[0]!.raw).toBe('{"eventVersion":"1.08","eventName":');
    // the siblings: the other five records of each batch (the second batch's are duplicates)
    expect(summary.records).toBe(12);
    expect(summary.duplicates).toBeGreaterThan(0);
  });

  it('dead-letters a gzip bomb with too_large, naming the limit', async () => {
    const p = join(dir, 'bomb.json.gz');
    writeFileSync(p, gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x20)));
    const { summary, dls } = await replay(p, { limits: { max_decompressed_file_bytes: 1024 * 1024 } });
    expect(summary.invalid_by_code).toEqual({ too_large: 1 });
    expect(dls[0]!.error.message).toMatch(/max_decompressed_file_bytes.*decompression bomb/);
    expect(dls[0]!.origin).toEqual({ file: 'bomb.json.gz', index: 0 });
  });

  it('dead-letters a corrupt gzip file with decompression_failed, after the records read before the damage', async () => {
    const good = fixture('eventbridge-cloudtrail.ndjson');
    const gz = gzipSync(good + 'x'.repeat(200_000));
    const p = join(dir, 'corrupt.ndjson.gz');
    writeFileSync(p, gz.subarray(0, gz.length - 40));
    const { summary, dls } = await replay(p);
    expect(dls.at(-1)!.error.code).toBe('decompression_failed');
    expect(summary.events).toBe(7);
  });

  it('dead-letters a corrupt gzip Kafka-style line (base64 of damaged gzip) with decompression_failed', async () => {
    const gz = gzipSync(fixture('cloudwatch-logs-batch.json'));
    const p = join(dir, 'b64-lines.txt');
    writeFileSync(p, gz.toString('base64') + '\n' + gz.subarray(0, 300).toString('base64') + '\n');
    const { summary, dls } = await replay(p);
    expect(summary.events).toBe(7);
    expect(dls.map((d) => [d.error.code, d.origin.index])).toEqual([['decompression_failed', 1]]);
  });
});
