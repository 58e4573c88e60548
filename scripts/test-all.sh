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
export KAFKA_BROKERS=127.0.0.1:19092
export CLICKHOUSE_URL=http://127.0.0.1:18123

npx vitest run

if [ -d ../shared/corpus ]; then
  node dist/scripts/conformance.js ../shared/corpus
fi
