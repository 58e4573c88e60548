#!/usr/bin/env bash
# The whole test suite from a fresh clone: install dependencies, build, install and start
# Kafka and ClickHouse on loopback when they are absent, run every test, then the
# conformance check over ../shared/corpus when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."

# `npm install` (from the lock file), not `npm ci`: npm 11.19 writes lock files without other
# platforms' optional packages (chdb, rollup binaries) and then refuses them in `npm ci`.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
npm run build

scripts/services.sh up

# headless Chromium for the HTML report test (test/report/report-embedded.test.ts): Debian's package
if ! command -v chromium >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  # package lists may be stale or absent on a fresh machine: update only when the install fails
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium ||
    { $sudo_cmd apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium; }
fi
export KAFKA_BROKERS=127.0.0.1:19092
export CLICKHOUSE_URL=http://127.0.0.1:18123

npx vitest run

# Detection quality on the realistic estate (1 seed × 8 days): exits non-zero below bench/eval-floors.json.
npm run eval -- --ci

if [ -d ../shared/corpus ]; then
  node dist/scripts/conformance.js ../shared/corpus
fi
