/**
 * Figures per detector family over several seeded runs, the floors they must not fall below,
 * and the plain-text report `npm run eval` prints.
 */
import { median } from 'simple-statistics';
import { EVAL_FAMILIES, familyOfAttack, familyOfDetector, type EvalFamily, type MatchResult } from './matcher.js';

export interface SeedRun {
  seed: number;
  /** Token events from records no attacker produced. */
  benignEvents: number;
  events: number;
  result: MatchResult;
}

export interface FamilyFigures {
  family: EvalFamily | 'all';
  attacks: number;
  detected: number;
  recall: number | null;
  alerts: number;
  trueAlerts: number;
  falseAlerts: number;
  related: number;
  precision: number | null;
  falsePerMillion: number;
  medianDelayMin: number | null;
  maxDelayMin: number | null;
}

export interface EvalSummary {
  seeds: number[];
  events: number;
  benignEvents: number;
  families: FamilyFigures[];
  total: FamilyFigures;
  missed: { seed: number; attack: string; family: EvalFamily; description?: string }[];
  /** Per attack name: detected in how many seeds, and the delays. */
  perAttack: { attack: string; family: EvalFamily; detected: number; runs: number; delaysMin: number[] }[];
  topFalse: { kind: string; count: number; example: string }[];
}

/** The targets (default configuration): recall 100%, ≤ 1 false alert per million benign events, median delay ≤ 15 min. */
export const TARGETS = { recall: 1, falsePerMillion: 1, medianDelayMin: 15 } as const;

const MIN = 60_000;

function figures(family: EvalFamily | 'all', runs: readonly SeedRun[], benign: number): FamilyFigures {
  const inFamily = (f: EvalFamily | undefined): boolean => family === 'all' || f === family;
  let attacks = 0;
  let detected = 0;
  const delays: number[] = [];
  let alerts = 0;
  let trueAlerts = 0;
  let falseAlerts = 0;
  let related = 0;
  for (const r of runs) {
    for (const o of r.result.attacks) {
      if (!inFamily(familyOfAttack(o.attack))) continue;
      attacks++;
      if (o.detected) {
        detected++;
        delays.push(o.delayMs! / MIN);
      }
    }
    for (const v of r.result.verdicts) {
      if (!inFamily(familyOfDetector(v.alert.detector))) continue;
      alerts++;
      if (v.verdict === 'true') trueAlerts++;
      else if (v.verdict === 'false') falseAlerts++;
      else related++;
    }
  }
  return {
    family, attacks, detected,
    recall: attacks > 0 ? detected / attacks : null,
    alerts, trueAlerts, falseAlerts, related,
    precision: trueAlerts + falseAlerts > 0 ? trueAlerts / (trueAlerts + falseAlerts) : null,
    falsePerMillion: benign > 0 ? (falseAlerts / benign) * 1e6 : 0,
    medianDelayMin: delays.length > 0 ? median(delays) : null,
    maxDelayMin: delays.length > 0 ? Math.max(...delays) : null,
  };
}

export function summarize(runs: readonly SeedRun[], topN = 8): EvalSummary {
  const benign = runs.reduce((s, r) => s + r.benignEvents, 0);
  const missed: EvalSummary['missed'] = [];
  const perAttack = new Map<string, EvalSummary['perAttack'][number]>();
  const falseKinds = new Map<string, { count: number; example: string }>();
  for (const r of runs) {
    for (const o of r.result.attacks) {
      const family = familyOfAttack(o.attack);
      let p = perAttack.get(o.attack.name);
      if (!p) perAttack.set(o.attack.name, (p = { attack: o.attack.name, family, detected: 0, runs: 0, delaysMin: [] }));
      p.runs++;
      if (o.detected) {
        p.detected++;
        p.delaysMin.push(o.delayMs! / MIN);
      } else {
        missed.push({ seed: r.seed, attack: o.attack.name, family, ...(o.attack.description ? { description: o.attack.description } : {}) });
      }
    }
    for (const v of r.result.verdicts) {
      if (v.verdict !== 'false') continue;
      const kind = `${v.alert.detector}/${v.alert.kind}`;
      const k = falseKinds.get(kind);
      if (k) k.count++;
      else falseKinds.set(kind, { count: 1, example: v.alert.summary });
    }
  }
  return {
    seeds: runs.map((r) => r.seed),
    events: runs.reduce((s, r) => s + r.events, 0),
    benignEvents: benign,
    families: EVAL_FAMILIES.map((f) => figures(f, runs, benign)),
    total: figures('all', runs, benign),
    missed,
    perAttack: [...perAttack.values()],
    topFalse: [...falseKinds.entries()].map(([kind, v]) => ({ kind, ...v })).sort((a, b) => b.count - a.count || (a.kind < b.kind ? -1 : 1)).slice(0, topN),
  };
}

// ------------------------------------------------------------------------------- floors

export interface FamilyFloor {
  min_recall?: number;
  min_precision?: number;
  max_false_per_million?: number;
  max_median_delay_minutes?: number;
}

export interface Floors {
  /** How the floors were measured (the command). */
  measured_with?: string;
  families: Partial<Record<EvalFamily, FamilyFloor>>;
}

const up1 = (x: number): number => (x <= 0 ? 0 : Math.ceil(x * 10 - 1e-9) / 10);
const down3 = (x: number): number => Math.floor(x * 1000 + 1e-9) / 1000;

/** Floors at exactly what `s` achieves (ratios rounded down, ceilings rounded up to 0.1): the ratchet's next notch. */
export function floorsFrom(s: EvalSummary, measuredWith: string): Floors {
  const families: Floors['families'] = {};
  for (const f of s.families) {
    const fl: FamilyFloor = {};
    if (f.recall !== null) fl.min_recall = down3(f.recall);
    if (f.precision !== null) fl.min_precision = down3(f.precision);
    fl.max_false_per_million = up1(f.falsePerMillion);
    if (f.medianDelayMin !== null) fl.max_median_delay_minutes = up1(f.medianDelayMin);
    families[f.family as EvalFamily] = fl;
  }
  return { measured_with: measuredWith, families };
}

/** Every family figure that falls below its floor, as a sentence; [] when all hold. */
export function checkFloors(s: EvalSummary, floors: Floors): string[] {
  const out: string[] = [];
  for (const f of s.families) {
    const fl = floors.families[f.family as EvalFamily];
    if (!fl) continue;
    if (fl.min_recall !== undefined && (f.recall ?? 1) < fl.min_recall - 1e-9) out.push(`${f.family}: recall ${pct(f.recall)} < floor ${pct(fl.min_recall)}`);
    if (fl.min_precision !== undefined && f.precision !== null && f.precision < fl.min_precision - 1e-9) out.push(`${f.family}: precision ${pct(f.precision)} < floor ${pct(fl.min_precision)}`);
    if (fl.max_false_per_million !== undefined && f.falsePerMillion > fl.max_false_per_million + 1e-9) {
      out.push(`${f.family}: ${num(f.falsePerMillion)} false alerts per million benign events > ceiling ${num(fl.max_false_per_million)}`);
    }
    if (fl.max_median_delay_minutes !== undefined && f.medianDelayMin !== null && f.medianDelayMin > fl.max_median_delay_minutes + 1e-9) {
      out.push(`${f.family}: median delay ${num(f.medianDelayMin)} min > ceiling ${num(fl.max_median_delay_minutes)} min`);
    }
  }
  return out;
}

// ------------------------------------------------------------------------------- text

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(0)}%`);
const num = (x: number | null): string => (x === null ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(1));

export function formatSummary(s: EvalSummary): string {
  const lines: string[] = [];
  const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  lines.push(row(['family', 'attacks', 'recall', 'alerts', 'true', 'false', 'precision', 'false / M benign', 'median delay (min)', 'max delay (min)']));
  lines.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  for (const f of [...s.families, s.total]) {
    lines.push(row([
      f.family === 'all' ? '**all**' : `\`${f.family}\``, `${f.detected}/${f.attacks}`, pct(f.recall), String(f.alerts), String(f.trueAlerts),
      String(f.falseAlerts), pct(f.precision), num(f.falsePerMillion), num(f.medianDelayMin), num(f.maxDelayMin),
    ]));
  }
  lines.push(row(['target', '', pct(TARGETS.recall), '', '', '', '', `≤ ${TARGETS.falsePerMillion}`, `≤ ${TARGETS.medianDelayMin}`, '']));
  return lines.join('\n');
}

export function formatReport(s: EvalSummary, header: string): string {
  const out: string[] = [header, '', formatSummary(s), ''];
  out.push(`benign token events: ${s.benignEvents.toLocaleString('en-US')} of ${s.events.toLocaleString('en-US')} (seeds ${s.seeds.join(', ')})`);
  out.push('', 'per attack (detected/runs, delays in minutes):');
  for (const p of s.perAttack) {
    out.push(`  ${p.attack.padEnd(30)} ${p.family.padEnd(19)} ${p.detected}/${p.runs}  ${p.delaysMin.map((d) => d.toFixed(1)).join(', ') || '–'}`);
  }
  out.push('', `missed attacks (${s.missed.length}):`);
  for (const m of s.missed) out.push(`  seed ${m.seed}  ${m.attack}: ${m.description ?? ''}`);
  out.push('', 'top false-alert kinds:');
  if (s.topFalse.length === 0) out.push('  (none)');
  for (const f of s.topFalse) out.push(`  ${String(f.count).padStart(6)}  ${f.kind} — e.g. ${f.example}`);
  return out.join('\n');
}
