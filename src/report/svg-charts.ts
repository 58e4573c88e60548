/**
 * Inline SVG charts for the HTML report: no scripts, fonts or stylesheets from elsewhere. Every
 * chart is an `<svg class="chart" data-chart="…">` and its marks carry classes (`series`,
 * `band`, `alert-marker`, `bar`, `incident-marker`) that the report test queries in Chromium.
 * All text goes through escapeHtml.
 */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const DETECTOR_COLORS: Readonly<Record<string, string>> = {
  mint_rate_spike: '#1f77b4',
  token_replay: '#d62728',
  scope_drift: '#9467bd',
  cross_service_reuse: '#ff7f0e',
  credential_context: '#2ca02c',
  policy_violation: '#8c564b',
};
export const colorOf = (detector: string): string => DETECTOR_COLORS[detector] ?? '#7f7f7f';

const W = 900;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

interface Axis {
  start: number;
  bucketMs: number;
  buckets: number;
  height: number;
  yMax: number;
}

const xOf = (a: Axis, i: number): number => PAD.left + (i / Math.max(1, a.buckets)) * (W - PAD.left - PAD.right);
const yOf = (a: Axis, v: number): number => a.height - PAD.bottom - (v / a.yMax) * (a.height - PAD.top - PAD.bottom);
const f1 = (n: number): string => n.toFixed(1);

function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(a: Axis, label: string): string {
  const ticks: string[] = [];
  for (const v of [0, a.yMax / 2, a.yMax]) {
    const y = f1(yOf(a, v));
    ticks.push(`<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`, `<text x="${PAD.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`);
  }
  // about six time labels along the x axis
  const step = Math.max(1, Math.ceil(a.buckets / 6));
  for (let i = 0; i <= a.buckets; i += step) {
    const t = new Date(a.start + i * a.bucketMs).toISOString();
    const anchor = i === 0 ? 'start' : i + step > a.buckets ? 'end' : 'middle'; // keep the outer labels inside the chart
    ticks.push(`<text x="${f1(xOf(a, i))}" y="${a.height - 8}" text-anchor="${anchor}">${t.slice(5, 10)} ${t.slice(11, 16)}</text>`);
  }
  return `<rect x="0" y="0" width="${W}" height="${a.height}" fill="#fff"/>${ticks.join('')}<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${a.height - PAD.bottom}" stroke="#999"/><title>${escapeHtml(label)}</title>`;
}

export interface Band {
  lo: number;
  hi: number;
}

export interface Marker {
  bucket: number;
  color: string;
  label: string;
}

/** A line of counts per bucket over its baseline band, with alert markers on the line. */
export function bandChart(o: { id: string; label: string; start: number; bucketMs: number; values: readonly number[]; band: readonly (Band | undefined)[]; markers: readonly Marker[]; height?: number }): string {
  const peak = Math.max(1, ...o.values, ...o.band.map((b) => b?.hi ?? 0));
  const a: Axis = { start: o.start, bucketMs: o.bucketMs, buckets: o.values.length, height: o.height ?? 200, yMax: niceMax(peak) };
  const mid = (i: number) => (xOf(a, i) + xOf(a, i + 1)) / 2;
  // the band as one polygon per run of buckets that have a baseline
  const bands: string[] = [];
  let run: number[] = [];
  const flush = () => {
    if (run.length === 0) return;
    const top = run.map((i) => `${f1(mid(i))},${f1(yOf(a, o.band[i]!.hi))}`);
    const bottom = run.map((i) => `${f1(mid(i))},${f1(yOf(a, o.band[i]!.lo))}`).reverse();
    bands.push(`<polygon class="band" points="${[...top, ...bottom].join(' ')}" fill="#9ecae1" fill-opacity="0.55" stroke="none"/>`);
    run = [];
  };
  for (let i = 0; i < o.values.length; i++) {
    if (o.band[i]) run.push(i);
    else flush();
  }
  flush();
  const line = o.values.map((v, i) => `${i === 0 ? 'M' : 'L'}${f1(mid(i))},${f1(yOf(a, v))}`).join('');
  const markers = o.markers.map((m) => {
    const x = f1(mid(m.bucket));
    const y = f1(yOf(a, o.values[m.bucket] ?? 0));
    return `<g class="alert-marker"><line x1="${x}" x2="${x}" y1="${PAD.top}" y2="${a.height - PAD.bottom}" stroke="${m.color}" stroke-dasharray="3,3"/><circle cx="${x}" cy="${y}" r="6" fill="${m.color}" stroke="#fff" stroke-width="1.5"><title>${escapeHtml(m.label)}</title></circle></g>`;
  });
  return `<svg class="chart" data-chart="${escapeHtml(o.id)}" viewBox="0 0 ${W} ${a.height}" width="${W}" height="${a.height}" role="img" aria-label="${escapeHtml(o.label)}">${frame(a, o.label)}${bands.join('')}<path class="series" d="${line}" fill="none" stroke="#08519c" stroke-width="2"/>${markers.join('')}</svg>`;
}

/** Stacked bars per bucket (one stack segment per key), with optional point markers above. */
export function stackedBarChart(o: { id: string; label: string; start: number; bucketMs: number; stacks: readonly Record<string, number>[]; colors: (key: string) => string; points?: { values: readonly number[]; color: string; label: string }; height?: number }): string {
  const totals = o.stacks.map((s) => Object.values(s).reduce((x, y) => x + y, 0));
  const peak = Math.max(1, ...totals, ...(o.points?.values ?? []));
  const a: Axis = { start: o.start, bucketMs: o.bucketMs, buckets: o.stacks.length, height: o.height ?? 220, yMax: niceMax(peak) };
  const bars: string[] = [];
  o.stacks.forEach((s, i) => {
    let acc = 0;
    const x = xOf(a, i) + 1;
    const w = Math.max(1, xOf(a, i + 1) - xOf(a, i) - 2);
    for (const key of Object.keys(s).sort()) {
      const v = s[key]!;
      if (v <= 0) continue;
      const y0 = yOf(a, acc);
      const y1 = yOf(a, acc + v);
      acc += v;
      bars.push(`<rect class="bar" data-key="${escapeHtml(key)}" x="${f1(x)}" y="${f1(y1)}" width="${f1(w)}" height="${f1(y0 - y1)}" fill="${o.colors(key)}"><title>${escapeHtml(`${key}: ${v}`)}</title></rect>`);
    }
  });
  const points = (o.points?.values ?? []).flatMap((v, i) => {
    if (v <= 0) return [];
    const x = (xOf(a, i) + xOf(a, i + 1)) / 2;
    const y = yOf(a, v);
    return [`<path class="incident-marker" d="M${f1(x)},${f1(y - 7)}L${f1(x + 7)},${f1(y)}L${f1(x)},${f1(y + 7)}L${f1(x - 7)},${f1(y)}Z" fill="${o.points!.color}" stroke="#fff"><title>${escapeHtml(`${o.points!.label}: ${v}`)}</title></path>`];
  });
  return `<svg class="chart" data-chart="${escapeHtml(o.id)}" viewBox="0 0 ${W} ${a.height}" width="${W}" height="${a.height}" role="img" aria-label="${escapeHtml(o.label)}">${frame(a, o.label)}${bars.join('')}${points.join('')}</svg>`;
}

/** Horizontal bars, one per labelled count. */
export function horizontalBarChart(o: { id: string; label: string; items: readonly { label: string; value: number; color: string }[] }): string {
  const rowH = 24;
  const height = o.items.length * rowH + 8;
  const labelW = 220;
  const max = niceMax(Math.max(1, ...o.items.map((i) => i.value)));
  const rows = o.items.map((it, k) => {
    const y = 4 + k * rowH;
    const w = ((W - labelW - 80) * it.value) / max;
    return `<text x="${labelW - 8}" y="${y + rowH / 2}" text-anchor="end" dominant-baseline="middle">${escapeHtml(it.label)}</text><rect class="bar" data-key="${escapeHtml(it.label)}" x="${labelW}" y="${y + 3}" width="${f1(Math.max(w, it.value > 0 ? 2 : 0))}" height="${rowH - 6}" fill="${it.color}"/><text x="${f1(labelW + w + 6)}" y="${y + rowH / 2}" dominant-baseline="middle">${it.value}</text>`;
  });
  return `<svg class="chart" data-chart="${escapeHtml(o.id)}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${escapeHtml(o.label)}"><rect x="0" y="0" width="${W}" height="${height}" fill="#fff"/>${rows.join('')}<title>${escapeHtml(o.label)}</title></svg>`;
}
