#!/usr/bin/env bash
# Stop the private ClickHouse server started by scripts/clickhouse/start.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
PIDFILE="$PWD/.local/clickhouse/clickhouse.pid"

pid=$(cat "$PIDFILE" 2>/dev/null || true)
if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null \
   || ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'clickhouse'; then
  rm -f "$PIDFILE"
  echo "clickhouse: not running"
  exit 0
fi

kill -TERM "$pid"
for _ in $(seq 1 60); do              # up to 30s
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if kill -0 "$pid" 2>/dev/null; then
  echo "clickhouse: pid $pid did not stop after 30s, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
fi
rm -f "$PIDFILE"
echo "clickhouse: stopped (pid $pid)"
