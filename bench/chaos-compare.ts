/**
 * Pure parts of the chaos harness: expected vs observed alert ids (lost, duplicated, extra) and
 * the markdown table of the results.
 */

/** Copies of each id seen in one place (alert topic messages, ClickHouse rows). */
export type IdCounts = ReadonlyMap<string, number>;

export interface IdComparison {
  /** Distinct ids observed. */
  distinct: number;
  /** Messages / rows observed, every copy counted. */
  copies: number;
  /** Expected ids never observed. */
  lost: string[];
  /** Copies beyond the first, over all ids (expected or not). */
  duplicated: number;
  /** Ids observed more than once. */
  duplicatedIds: string[];
  /** Observed ids the replay did not raise. */
  extra: string[];
}

export function countIds(ids: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

export function compareIds(expected: Iterable<string>, observed: IdCounts): IdComparison {
  const want = new Set(expected);
  let copies = 0;
  let duplicated = 0;
  const duplicatedIds: string[] = [];
  const extra: string[] = [];
  for (const [id, n] of observed) {
    copies += n;
    if (n > 1) {
      duplicated += n - 1;
      duplicatedIds.push(id);
    }
    if (!want.has(id)) extra.push(id);
  }
  const lost = [...want].filter((id) => !observed.has(id));
  return { distinct: observed.size, copies, lost: lost.sort(), duplicated, duplicatedIds: duplicatedIds.sort(), extra: extra.sort() };
}

export interface CaseResult {
  name: string;
  /** Distinct alert ids of the embedded replay of the same (valid) records. */
  expected: number;
  /** Undefined when the place could not be read (the case's notes say why). */
  topic?: IdComparison;
  clickhouse?: IdComparison;
  /** Seconds from the end of each fault until consumption resumed; undefined: no fault or never. */
  recoverySecs?: number;
  notes: string[];
  /** Wall time of the whole case (produce, run, faults, drain, observe). */
  secs: number;
}

const pair = (t: number | undefined, c: number | undefined): string => `${t ?? 'n/a'} / ${c ?? 'n/a'}`;
const observedCell = (c: IdComparison | undefined, unit: string): string => (c ? `${c.distinct} ids (${c.copies} ${unit})` : 'n/a');
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One markdown table: lost / duplicated / extra are "topic / ClickHouse". */
export function resultTable(results: readonly CaseResult[]): string {
  const rows = [
    '| case | expected | observed topic | observed ClickHouse | lost (topic / CH) | duplicated (topic / CH) | extra (topic / CH) | recovery s | notes |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    rows.push(`| ${[
      r.name,
      String(r.expected),
      observedCell(r.topic, 'messages'),
      observedCell(r.clickhouse, 'rows'),
      pair(r.topic?.lost.length, r.clickhouse?.lost.length),
      pair(r.topic?.duplicated, r.clickhouse?.duplicated),
      pair(r.topic?.extra.length, r.clickhouse?.extra.length),
      r.recoverySecs === undefined ? '—' : Number.isFinite(r.recoverySecs) ? r.recoverySecs.toFixed(1) : 'never',
      r.notes.join('; '),
    ].map(cell).join(' | ')} |`);
  }
  return rows.join('\n');
}
