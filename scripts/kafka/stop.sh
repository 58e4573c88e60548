#!/usr/bin/env bash
# Stop the local Kafka broker started by scripts/kafka/start.sh (SIGTERM = controlled shutdown).
set -euo pipefail
cd "$(dirname "$0")/../.."
KDIR="$PWD/.local/kafka"
PIDFILE="$KDIR/kafka.pid"

pid=$(cat "$PIDFILE" 2>/dev/null || true)
if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null \
   || ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
  rm -f "$PIDFILE"
  echo "kafka: not running"
  exit 0
fi

kill -TERM "$pid"
for _ in $(seq 1 120); do            # up to 60s for a clean shutdown
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if kill -0 "$pid" 2>/dev/null; then
  echo "kafka: pid $pid did not stop after 60s, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
fi
rm -f "$PIDFILE"
echo "kafka: stopped (pid $pid)"
