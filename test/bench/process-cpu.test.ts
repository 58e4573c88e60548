import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { peakRssBytes } from '../../bench/process-cpu.js';

describe('peak RSS of a bench runner', () => {
  it('reads VmHWM from a status file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-status-'));
    const status = join(dir, 'status');
    writeFileSync(status, 'Name:\tnode\nVmPeak:\t 9999999 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n');
    expect(peakRssBytes(status)).toBe(123_456 * 1024);
  });

  it("this process's figure is at least what it holds now", () => {
    const held = Buffer.alloc(64 * 1024 * 1024, 1); // resident: written
    expect(peakRssBytes()).toBeGreaterThanOrEqual(process.memoryUsage().rss - 4 * 1024 * 1024);
    expect(peakRssBytes()).toBeGreaterThan(held.length);
  });
});
