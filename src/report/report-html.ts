/**
 * ReportData → one self-contained HTML page: inline CSS and inline SVG only (no script, no
 * external font, image or stylesheet), so it opens offline and can be mailed or attached to a
 * ticket. Sections: minting rate per issuer with its baseline band and the issuer's alerts
 * marked, alerts (per detector) and incidents over time, inventory hygiene, incident list.
 */
import { median, medianAbsoluteDeviation } from 'simple-statistics';
import { bandChart, colorOf, escapeHtml, horizontalBarChart, stackedBarChart, DETECTOR_COLORS, type Band, type Marker } from './svg-charts.js';
import { HYGIENE_KEYS, type HygieneCounts, type ReportData } from './report-data.js';

/** Buckets of history a baseline needs, and how many trailing buckets it uses. */
const MIN_HISTORY = 6;
const BASELINE_BUCKETS = 24;
/** Band half-width in robust standard deviations (1.4826·MAD). */
const BAND_K = 3;

/**
 * Per bucket, the band the previous BASELINE_BUCKETS buckets predict: median ± 3 robust σ
 * (at least ±1 mint), undefined until MIN_HISTORY buckets of history exist.
 */
export function baselineBands(values: readonly number[]): (Band | undefined)[] {
  return values.map((_, i) => {
    if (i < MIN_HISTORY) return undefined;
    const hist = values.slice(Math.max(0, i - BASELINE_BUCKETS), i);
    const m = median(hist);
    const half = Math.max(1, BAND_K * 1.4826 * medianAbsoluteDeviation(hist));
    return { lo: Math.max(0, m - half), hi: m + half };
  });
}

const HYGIENE_LABELS: Record<keyof HygieneCounts, string> = {
  tokens: 'tokens in the inventory',
  live: 'live (not revoked, not expired)',
  revoked: 'revoked',
  expired: 'expired',
  used_after_revocation: 'used after revocation',
  never_used: 'never used',
  no_known_expiry: 'no known expiry',
  lifetime_over_90_days: 'lifetime over 90 days',
  several_services: 'seen on several services',
  idle_30_days: 'idle for 30 days',
};

const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low'];

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

export function renderReportHtml(d: ReportData): string {
  const buckets = Math.max(1, Math.ceil((d.end - d.start) / d.bucketMs));
  const bucketOf = (t: number) => Math.min(buckets - 1, Math.max(0, Math.floor((t - d.start) / d.bucketMs)));

  const mintSections = d.issuers.map((s, n) => {
    const alerts = d.alerts.filter((a) => a.issuer === s.issuer);
    const markers: Marker[] = alerts.map((a) => ({ bucket: bucketOf(a.time), color: colorOf(a.detector), label: `${iso(a.time)} ${a.severity} ${a.detector}/${a.kind}: ${a.title}` }));
    const chart = bandChart({ id: `mint-rate-${n}`, label: `mints per bucket for ${s.issuer}`, start: d.start, bucketMs: d.bucketMs, values: s.mints, band: baselineBands(s.mints), markers });
    const total = s.mints.reduce((x, y) => x + y, 0);
    return `<figure class="issuer"><figcaption><b>${escapeHtml(s.issuer)}</b> — ${total} mints, ${alerts.length} alert${alerts.length === 1 ? '' : 's'}</figcaption>${chart}</figure>`;
  });

  const stacks = Array.from({ length: buckets }, () => ({}) as Record<string, number>);
  for (const a of d.alerts) {
    const s = stacks[bucketOf(a.time)]!;
    s[a.detector] = (s[a.detector] ?? 0) + 1;
  }
  const incidentCounts = new Array<number>(buckets).fill(0);
  for (const i of d.incidents) incidentCounts[bucketOf(i.time)]!++;
  const overTime = stackedBarChart({
    id: 'alerts-over-time', label: 'alerts per detector and incidents per bucket', start: d.start, bucketMs: d.bucketMs, stacks, colors: colorOf,
    points: { values: incidentCounts, color: '#222', label: 'incidents' },
  });
  const detectorsSeen = [...new Set(d.alerts.map((a) => a.detector))].sort();
  const legend = [...detectorsSeen.map((k) => `<span class="key"><i style="background:${colorOf(k)}"></i>${escapeHtml(k)}</span>`), `<span class="key"><i class="diamond"></i>incidents</span>`].join('');

  const hygiene = horizontalBarChart({
    id: 'hygiene', label: 'inventory hygiene counts',
    items: HYGIENE_KEYS.map((k) => ({ label: HYGIENE_LABELS[k], value: d.hygiene[k], color: k === 'tokens' || k === 'live' ? '#6baed6' : '#fd8d3c' })),
  });

  const incidentRows = [...d.incidents]
    .sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) || a.time - b.time)
    .slice(0, 50)
    .map((i) => `<tr><td class="sev ${escapeHtml(i.severity)}">${escapeHtml(i.severity)}</td><td>${iso(i.time)}</td><td>${escapeHtml(i.title)}</td><td>${i.alert_count}</td><td>${i.suppressed_repeats}</td><td><code>${escapeHtml(i.incident_id)}</code></td></tr>`);
  const bySeverity = SEVERITY_ORDER.map((s) => `${d.alerts.filter((a) => a.severity === s).length} ${s}`).join(', ');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tokenwatch report ${iso(d.start)} – ${iso(d.end)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;background:#fafafa;max-width:960px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:13px}figure{margin:10px 0 18px}figcaption{font-size:13px;margin-bottom:4px}
svg.chart{display:block;border:1px solid #e3e3e3;background:#fff;max-width:100%;height:auto}svg.chart text{font-size:11px;fill:#555}
.key{display:inline-block;margin-right:14px;font-size:12px}.key i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
.key i.diamond{background:#222;transform:rotate(45deg) scale(.8)}
table{border-collapse:collapse;font-size:12px;width:100%;background:#fff}td,th{border:1px solid #e3e3e3;padding:3px 6px;text-align:left}
.sev.critical{background:#67000d;color:#fff}.sev.high{background:#d62728;color:#fff}.sev.medium{background:#fdae6b}.sev.low{background:#deebf7}
.summary{display:flex;gap:12px;flex-wrap:wrap}.summary div{background:#fff;border:1px solid #e3e3e3;padding:8px 12px;font-size:13px}.summary b{display:block;font-size:20px}
</style></head>
<body>
<h1>tokenwatch report</h1>
<p class="meta">${iso(d.start)} – ${iso(d.end)} (event time), ${Math.round(d.bucketMs / 60_000)}-minute buckets · ${escapeHtml(d.generated_from)}</p>
<div class="summary" id="summary"><div><b>${d.alerts.length}</b>alerts (${bySeverity})</div><div><b>${d.incidentsAvailable ? d.incidents.length : 'n/a'}</b>incidents</div><div><b>${d.hygiene.tokens}</b>tokens in the inventory</div><div><b>${d.hygiene.used_after_revocation}</b>used after revocation</div></div>
<h2 id="minting">Minting rate per issuer</h2>
<p class="meta">Mints per bucket (line) against the issuer's baseline band (median ± 3 robust σ of the previous ${BASELINE_BUCKETS} buckets); dots mark the issuer's alerts, coloured by detector.</p>
${mintSections.length > 0 ? mintSections.join('\n') : '<p>No mints stored in this period.</p>'}
<h2 id="alerts">Alerts and incidents over time</h2>
<div>${legend}</div>
${overTime}
${d.incidentsAvailable ? '' : '<p class="meta">This store has no incidents table yet: run <code>tokenwatch migrate</code>.</p>'}
<h2 id="hygiene">Inventory hygiene</h2>
${hygiene}
<h2 id="incidents">Incidents</h2>
${incidentRows.length > 0 ? `<table><thead><tr><th>severity</th><th>first seen</th><th>incident</th><th>alerts</th><th>repeats</th><th>id</th></tr></thead><tbody>${incidentRows.join('')}</tbody></table>` : '<p>No incidents in this period.</p>'}
<p class="meta">Detector colours: ${Object.entries(DETECTOR_COLORS).map(([k, c]) => `<span class="key"><i style="background:${c}"></i>${escapeHtml(k)}</span>`).join('')}</p>
</body></html>
`;
}
