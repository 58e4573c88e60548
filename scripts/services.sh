#!/usr/bin/env bash
# Local dev/CI services on loopback: Kafka (KRaft, 127.0.0.1:19092) and ClickHouse (http://127.0.0.1:18123).
# Usage: scripts/services.sh up|down|status
#   up     install when absent, start both (no-op for ones already running), print connection env lines
#   down   stop both
#   status show state; exit 0 when both are up, 3 otherwise
set -euo pipefail
cd "$(dirname "$0")/.."
S="$PWD/scripts"

KAFKA_BROKERS=127.0.0.1:19092
CLICKHOUSE_URL=http://127.0.0.1:18123

die() {
  echo "services: $1" >&2
  if [[ -n "${2:-}" && -s "$2" ]]; then echo "---- tail of ${2#$PWD/} ----" >&2; tail -n 30 "$2" >&2; fi
  exit 1
}
kafka_up() { (exec 3<>/dev/tcp/127.0.0.1/19092) 2>/dev/null && [[ -s .local/kafka/kafka.pid ]] && kill -0 "$(cat .local/kafka/kafka.pid)" 2>/dev/null; }
ch_up() { [[ "$(curl -s --max-time 2 "$CLICKHOUSE_URL/ping" 2>/dev/null)" == "Ok." ]]; }

case "${1:-}" in
  up)
    "$S/kafka/install.sh"      || die "kafka install failed" .local/kafka/install.log
    "$S/clickhouse/install.sh" || die "clickhouse install failed" .local/clickhouse/install.log
    "$S/kafka/start.sh"        || die "kafka failed to start (log: .local/kafka/server.log)"
    "$S/clickhouse/start.sh"   || die "clickhouse failed to start (logs: .local/clickhouse/log/)"
    echo "KAFKA_BROKERS=$KAFKA_BROKERS"
    echo "CLICKHOUSE_URL=$CLICKHOUSE_URL"
    ;;
  down)
    rc=0
    "$S/clickhouse/stop.sh" || rc=1
    "$S/kafka/stop.sh"      || rc=1
    exit $rc
    ;;
  status)
    rc=0
    if kafka_up; then echo "kafka: up (pid $(cat .local/kafka/kafka.pid)) KAFKA_BROKERS=$KAFKA_BROKERS"; else echo "kafka: down"; rc=3; fi
    if ch_up; then echo "clickhouse: up (pid $(cat .local/clickhouse/clickhouse.pid 2>/dev/null || echo '?')) CLICKHOUSE_URL=$CLICKHOUSE_URL"; else echo "clickhouse: down"; rc=3; fi
    exit $rc
    ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
