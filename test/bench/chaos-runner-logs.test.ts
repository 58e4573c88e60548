import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarizeRunnerLogs } from '../../bench/chaos-runner-process.js';

describe('chaos runner log summary', () => {
  it('counts joins and in-process consumer crashes and sums dropped tasks over every log', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-chaos-logs-'));
    const a = join(dir, 'a.log');
    const b = join(dir, 'b.log');
    writeFileSync(a, [
      JSON.stringify({ level: 30, msg: 'joined consumer group', partitions: 20, tasks_dropped: 0 }),
      JSON.stringify({ level: 50, msg: 'kafka consumer crashed' }),
      'file:///x.js:1 SyntaxError (not JSON)',
      JSON.stringify({ level: 30, msg: 'joined consumer group', partitions: 10, tasks_dropped: 4 }),
    ].join('\n'));
    writeFileSync(b, [
      JSON.stringify({ level: 30, msg: 'joined consumer group', tasks_dropped: 2 }),
      JSON.stringify({ level: 30, msg: 'stopped', records_in: 30287, records_invalid: 0, alerts: 2 }),
    ].join('\n'));
    expect(summarizeRunnerLogs([a, b, join(dir, 'missing.log')])).toEqual([
      'runner logs: 3 group joins, tasks_dropped 6; final counters of the runners stopped by SIGTERM: records_in 30,287, records_invalid 0, alerts 2',
      'kafka consumer crashed (and restarted in-process) 1×',
    ]);
  });
});
