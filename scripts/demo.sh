#!/usr/bin/env bash
# The main job on the embedded default: simulate two days of vendor logs (benign background
# plus every attack), replay them through tokenwatch in event time, print the alerts, and
# query the embedded ClickHouse (chDB) store they were written to; end with the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."

# `npm install` (from the lock file), not `npm ci`: npm 11.19 writes lock files without other
# platforms' optional packages (chdb, rollup binaries) and then refuses them in `npm ci`.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
npm run build >/dev/null

tw() { node bin/tokenwatch.js "$@"; }
out=.tokenwatch
mkdir -p "$out"
rm -rf "$out/chdb"

tw simulate --seed 7 --hours 48 --attacks all --out "$out/simulated.ndjson" \
  --truth "$out/injected-attacks.json" --estate-config "$out/estate.yaml"
tw replay "$out/simulated.ndjson" --config "$out/estate.yaml" --out "$out/alerts.ndjson" \
  --dead-letter "$out/dead-letter.ndjson" --data-dir "$out/chdb" --incidents "$out/incidents.ndjson"

echo
echo "== alerts ($out/alerts.ndjson) =="
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
for (const l of lines) { const a = JSON.parse(l); console.log(`${a.first_seen}  ${a.severity.padEnd(8)} ${(a.detector + "/" + a.kind).padEnd(42)} ${a.title}`); }
' "$out/alerts.ndjson"
echo
echo "== injected attacks ($out/injected-attacks.json) =="
node -e 'for (const a of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))) console.log(`${new Date(a.start).toISOString()}  ${a.family.padEnd(20)} ${a.name}`)' "$out/injected-attacks.json"
echo
echo "== the embedded ClickHouse store ($out/chdb): alerts per detector per hour =="
tw query --data-dir "$out/chdb" --dashboard alerts-per-detector-hourly
echo
echo "== inventory by issuer (top rows) =="
tw query --data-dir "$out/chdb" --dashboard inventory-by-issuer | head -12
echo
echo "== incidents ($out/incidents.ndjson) =="
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
for (const l of lines) { const i = JSON.parse(l); console.log(`${i.first_seen}  ${i.severity.padEnd(8)} ${String(i.alert_count).padStart(2)} alerts  ${i.title}`); }
' "$out/incidents.ndjson"
echo
echo "More: node bin/tokenwatch.js query --data-dir $out/chdb --list"
echo
echo "== HTML report =="
tw report --data-dir "$out/chdb" --out "$out/report.html"
echo "open $out/report.html in a browser (self-contained: inline SVG, no scripts)"
