import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { scoreEdgesStream, splitCsvLine } from '../../src/scoring/score-edges.js';
import { MidasR, normalizeScore } from '../../src/scoring/midas-r.js';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function score(csv: string, opts: Parameters<typeof scoreEdgesStream>[2] = {}) {
  const out = sink();
  const err = sink();
  const res = await scoreEdgesStream(Readable.from([csv]), out.stream, { errors: err.stream, ...opts });
  const lines = out.text().trimEnd().split('\n');
  return { res, lines, scores: lines.slice(1).map((l) => Number(l.slice(l.lastIndexOf(',') + 1))), err: err.text() };
}

/** Background of 25 edges per tick among 15 services for 40 ticks; 'attacker,db' bursts in ticks 35–36. */
function edgesCsv(burst: boolean, time: (tick: number) => string = String): string {
  let a = 9;
  const r = (n: number): number => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a % n;
  };
  const rows: string[] = [];
  for (let t = 1; t <= 40; t++) {
    for (let k = 0; k < 25; k++) rows.push(`svc${r(15)},svc${r(15)},${time(t)}`);
    if (burst && (t === 35 || t === 36)) for (let k = 0; k < 30; k++) rows.push(`attacker,db,${time(t)}`);
  }
  return rows.join('\n') + '\n';
}

describe('splitCsvLine', () => {
  it('splits plain and quoted fields, with escaped quotes and commas inside quotes', () => {
    expect(splitCsvLine('a,b,3')).toEqual(['a', 'b', '3']);
    expect(splitCsvLine('"a,1", "b""x" ,3')).toEqual(['a,1', 'b"x', '3']);
    expect(splitCsvLine('a,,3')).toEqual(['a', '', '3']);
    expect(splitCsvLine('"a,b,3')).toBeUndefined();
  });
});

describe('score-edges', () => {
  it('adds anomaly_score in [0,1] to every row; a burst of one edge scores far above the background', async () => {
    const { res, lines, scores, err } = await score('src,dst,time\n' + edgesCsv(true));
    expect(err).toBe('');
    expect(res).toMatchObject({ rows: 1060, scored: 1060, malformed: 0, ticks: 40 });
    expect(lines[0]).toBe('src,dst,time,anomaly_score');
    const rows = lines.slice(1);
    const burst = scores.filter((_, i) => rows[i]!.startsWith('attacker,'));
    const background = scores.filter((_, i) => !rows[i]!.startsWith('attacker,') && Number(rows[i]!.split(',')[2]) > 5);
    for (const s of scores) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
    const bgMax = Math.max(...background);
    expect(bgMax).toBeLessThan(0.5);
    // After its first ten edges, every edge of the burst outranks all of the background by a margin.
    expect(Math.min(...burst.slice(10))).toBeGreaterThan(bgMax + 0.1);
    expect(Math.max(...burst)).toBeGreaterThan(0.6);
    // Rows are echoed unchanged, in order.
    expect(rows.map((l) => l.slice(0, l.lastIndexOf(',')))).toEqual(edgesCsv(true).trimEnd().split('\n'));
  });

  it('matches the library scorer and is deterministic', async () => {
    const csv = edgesCsv(true);
    const a = await score(csv);
    const b = await score(csv);
    expect(a.lines).toEqual(b.lines);
    const m = new MidasR();
    const expected = csv
      .trimEnd()
      .split('\n')
      .map((l) => {
        const [s, d, t] = l.split(',');
        return Number(normalizeScore(m.score(s!, d!, Number(t)), 100).toFixed(6));
      });
    expect(a.scores).toEqual(expected);
    // No header in, a default header out.
    expect(a.lines[0]).toBe('src,dst,time,anomaly_score');
  });

  it('time as epoch seconds, epoch milliseconds or ISO-8601 gives the same scores as integer ticks', async () => {
    const base = Date.UTC(2026, 0, 5) / 1000;
    const ticks = await score(edgesCsv(true));
    const secs = await score(edgesCsv(true, (t) => String(base + (t - 1) * 60 + 7)), { tickSeconds: 60 });
    const ms = await score(edgesCsv(true, (t) => String((base + (t - 1) * 60) * 1000)));
    const iso = await score(edgesCsv(true, (t) => new Date((base + (t - 1) * 300) * 1000).toISOString()), { tickSeconds: 300 });
    expect(secs.scores).toEqual(ticks.scores);
    expect(ms.scores).toEqual(ticks.scores);
    expect(iso.scores).toEqual(ticks.scores);
    expect(iso.res.ticks).toBe(40);
  });

  it('malformed rows are reported with their line number on stderr and skipped', async () => {
    const csv = ['src,dst,time', 'a,b,1', 'a,b', 'a,b,yesterday', ',b,2', '"a,b,2', 'a,b,2026-01-05T00:00:00Z', 'a,b,2', 'a,b,c,3'].join('\n') + '\n';
    const { res, lines, err } = await score(csv);
    expect(res).toMatchObject({ rows: 8, scored: 2, malformed: 6 });
    const reports = err.trimEnd().split('\n').map((l) => JSON.parse(l) as { code: string; line: number; message: string });
    expect(reports.map((r) => r.line)).toEqual([3, 4, 5, 6, 7, 9]);
    expect(reports.every((r) => r.code === 'malformed_row')).toBe(true);
    expect(reports[0]!.message).toMatch(/3 fields/);
    expect(reports[1]!.message).toMatch(/time/);
    expect(reports[2]!.message).toMatch(/empty/);
    expect(reports[3]!.message).toMatch(/quote/);
    expect(reports[4]!.message).toMatch(/integer ticks/);
    expect(lines.map((l) => l.slice(0, l.lastIndexOf(',')))).toEqual(['src,dst,time', 'a,b,1', 'a,b,2']);
    // Row content is never echoed to the error stream.
    expect(err).not.toMatch(/yesterday/);
  });

  it('streams with backpressure and constant memory: a slow consumer receives every row', async () => {
    const n = 20_000;
    async function* gen(): AsyncGenerator<string> {
      for (let i = 0; i < n; i++) yield `ip-${i},host-${i % 101},${1 + Math.floor(i / 200)}\n`;
    }
    const out = new PassThrough({ highWaterMark: 256 });
    let lines = 0;
    let carry = '';
    out.on('data', (c: Buffer) => {
      const parts = (carry + c.toString('utf8')).split('\n');
      carry = parts.pop()!;
      lines += parts.length;
      out.pause();
      setImmediate(() => out.resume());
    });
    const ended = new Promise((resolve) => out.on('end', resolve));
    const res = await scoreEdgesStream(Readable.from(gen()), out, { errors: sink().stream, end: true, buckets: 128 });
    await ended;
    expect(res).toMatchObject({ rows: n, scored: n, malformed: 0, ticks: 100 });
    expect(lines).toBe(n + 1);
  });

  it('rejects invalid options', async () => {
    await expect(scoreEdgesStream(Readable.from(['a,b,1\n']), sink().stream, { tickSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(scoreEdgesStream(Readable.from(['a,b,1\n']), sink().stream, { factor: 2 })).rejects.toThrow(RangeError);
  });
});
