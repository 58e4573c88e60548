import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { scoreCsvStream } from '../../src/scoring/score-series.js';
import { scoreSeries as scorePoints } from '../../src/scoring/robust-scorer.js';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

const T0 = Date.UTC(2026, 0, 5);

describe('score-series', () => {
  it('adds anomaly_score to every row, matches the library scorer, header optional', async () => {
    const values = Array.from({ length: 80 }, (_, i) => (i === 70 ? 90 : 10 + (i % 4)));
    const rows = values.map((v, i) => `${new Date(T0 + i * 3_600_000).toISOString()},${v}`);
    for (const withHeader of [true, false]) {
      const out = sink();
      const err = sink();
      const input = Readable.from([(withHeader ? 'timestamp,value\n' : '') + rows.join('\n') + '\n']);
      const res = await scoreCsvStream(input, out.stream, { errors: err.stream, minHistory: 24 });
      expect(res).toEqual({ rows: 80, scored: 80, malformed: 0 });
      const lines = out.text().trimEnd().split('\n');
      expect(lines[0]).toBe('timestamp,value,anomaly_score');
      expect(lines).toHaveLength(81);
      const expected = scorePoints(values.map((value, i) => ({ time: T0 + i * 3_600_000, value })), { minHistory: 24 });
      lines.slice(1).forEach((l, i) => {
        const [ts, v, s] = l.split(',');
        expect(ts).toBe(new Date(T0 + i * 3_600_000).toISOString());
        expect(Number(v)).toBe(values[i]);
        expect(Number(s)).toBeCloseTo(expected[i]!, 6);
      });
      expect(Number(lines[71]!.split(',')[2])).toBeGreaterThan(0.9);
      expect(Number(lines[50]!.split(',')[2])).toBeLessThan(0.5);
      expect(err.text()).toBe('');
    }
  });

  it('accepts epoch seconds and milliseconds, CRLF and quoted fields', async () => {
    const out = sink();
    const input = Readable.from(['"ts","value"\r\n1767571200,1\r\n1767571260000,"2"\r\n\r\n1767571320,3.5\r\n']);
    const res = await scoreCsvStream(input, out.stream, { errors: sink().stream });
    expect(res).toEqual({ rows: 3, scored: 3, malformed: 0 });
    expect(out.text().split('\n').slice(1, 4)).toEqual(['1767571200,1,0', '1767571260000,2,0', '1767571320,3.5,0']);
  });

  it('reports malformed rows with their line number on the error stream and keeps going', async () => {
    const out = sink();
    const err = sink();
    const input = Readable.from([
      'timestamp,value\n2026-01-05T00:00:00Z,1\nnot-a-time,2\n2026-01-05T02:00:00Z,abc\n2026-01-05T03:00:00Z\n2026-01-05T04:00:00Z,1,2\n2026-01-05T05:00:00Z,\n2026-01-05T06:00:00Z,7\n',
    ]);
    const res = await scoreCsvStream(input, out.stream, { errors: err.stream });
    expect(res).toEqual({ rows: 7, scored: 2, malformed: 5 });
    const reports = err.text().trimEnd().split('\n').map((l) => JSON.parse(l) as { code: string; line: number; message: string });
    expect(reports.map((r) => r.line)).toEqual([3, 4, 5, 6, 7]);
    for (const r of reports) {
      expect(r.code).toBe('malformed_row');
      expect(r.message.length).toBeGreaterThan(0);
    }
    expect(reports[0]!.message).toMatch(/timestamp/);
    expect(reports[1]!.message).toMatch(/value/);
    expect(reports[2]!.message).toMatch(/2 fields/);
    expect(out.text().trimEnd().split('\n')).toEqual(['timestamp,value,anomaly_score', '2026-01-05T00:00:00Z,1,0', '2026-01-05T06:00:00Z,7,0']);
  });

  it('a malformed first line that is not a header is reported, not swallowed', async () => {
    const err = sink();
    const res = await scoreCsvStream(Readable.from(['2026-01-05T00:00:00Z,x1\n2026-01-05T01:00:00Z,1\n']), sink().stream, { errors: err.stream });
    expect(res).toEqual({ rows: 2, scored: 1, malformed: 1 });
    expect(JSON.parse(err.text()).line).toBe(1);
  });

  it('streams with backpressure: a slow, small-buffer consumer receives every row', async () => {
    const n = 5000;
    async function* gen(): AsyncGenerator<string> {
      for (let i = 0; i < n; i++) yield `${T0 / 1000 + i * 60},${i % 10}\n`;
    }
    const out = new PassThrough({ highWaterMark: 64 });
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
    const res = await scoreCsvStream(Readable.from(gen()), out, { errors: sink().stream, end: true });
    await ended;
    expect(res).toEqual({ rows: n, scored: n, malformed: 0 });
    expect(lines).toBe(n + 1);
  });
});
