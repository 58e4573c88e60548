#!/usr/bin/env bash
# Create Kafka topics idempotently on the local broker.
# Usage: scripts/kafka/create-topics.sh name[:partitions] ...   (default partitions: 3, replication 1)
set -euo pipefail
cd "$(dirname "$0")/../.."
KDIR="$PWD/.local/kafka"
BOOTSTRAP="${KAFKA_BROKERS:-127.0.0.1:19092}"

if (( $# == 0 )); then
  echo "usage: $0 name[:partitions] ..." >&2
  exit 2
fi
ls "$KDIR"/libs/.installed-* >/dev/null 2>&1 || { echo "kafka: not installed; run scripts/kafka/install.sh" >&2; exit 1; }

topic_cmd() {
  java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j.configuration="file:$KDIR/tools-log4j.properties" \
    -cp "$KDIR/libs/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@"
}

for spec in "$@"; do
  name="${spec%%:*}"
  parts=3
  [[ "$spec" == *:* ]] && parts="${spec#*:}"
  [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "kafka: bad topic name '$name'" >&2; exit 2; }
  [[ "$parts" =~ ^[1-9][0-9]*$ ]] || { echo "kafka: bad partition count in '$spec'" >&2; exit 2; }
  if ! out=$(topic_cmd --create --if-not-exists --topic "$name" --partitions "$parts" --replication-factor 1 2>&1); then
    echo "kafka: creating topic '$name' failed:" >&2
    echo "$out" >&2
    exit 1
  fi
done
echo "kafka: topics ready: $*"
