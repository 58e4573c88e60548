#!/usr/bin/env bash
# The main job on the embedded default: simulate two days of vendor logs with every attack
# injected, replay them through tokenwatch, print the alerts, and query the embedded
# ClickHouse (chDB) store they were written to.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build >/dev/null

mkdir -p .tokenwatch
rm -rf .tokenwatch/chdb
node bin/tokenwatch.js simulate --seed 7 --hours 48 --attacks all --out .tokenwatch/simulated.ndjson --truth .tokenwatch/injected-attacks.json
node bin/tokenwatch.js replay .tokenwatch/simulated.ndjson --out .tokenwatch/alerts.ndjson --dead-letter .tokenwatch/dead-letter.ndjson --data-dir .tokenwatch/chdb

echo
echo "== alerts (.tokenwatch/alerts.ndjson) =="
node -e '
const lines = require("fs").readFileSync(".tokenwatch/alerts.ndjson", "utf8").split("\n").filter(Boolean);
for (const l of lines) { const a = JSON.parse(l); console.log(`${a.first_seen}  ${a.severity.padEnd(8)} ${a.detector}/${a.kind}  ${a.title}`); }
'
echo
echo "== queried from the embedded ClickHouse store (.tokenwatch/chdb) =="
node scripts/query-store.mjs .tokenwatch/chdb
