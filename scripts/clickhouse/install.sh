#!/usr/bin/env bash
# Install ClickHouse server+client from Debian's packages (bookworm: 18.16.1) when absent.
# The package's own service is never started here (no systemd as PID 1; policy-rc.d is honoured);
# scripts/clickhouse/start.sh runs a private instance instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"

have_ch() { command -v clickhouse-server >/dev/null 2>&1 || command -v clickhouse >/dev/null 2>&1; }
if have_ch && command -v clickhouse-client >/dev/null 2>&1; then
  echo "clickhouse: already installed ($(command -v clickhouse-server || command -v clickhouse))"
  exit 0
fi
if (( EUID != 0 )); then
  command -v sudo >/dev/null || { echo "clickhouse: need root (or sudo) for apt-get install" >&2; exit 1; }
  SUDO=(sudo)
else
  SUDO=()
fi

mkdir -p "$ROOT/.local/clickhouse"
LOG="$ROOT/.local/clickhouse/install.log"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends clickhouse-server clickhouse-client >> "$LOG" 2>&1
}
: > "$LOG"
if ! apt_install; then
  echo "clickhouse: apt-get install failed, running apt-get update and retrying" >> "$LOG"
  "${SUDO[@]}" apt-get update -q >> "$LOG" 2>&1 || true
  if ! apt_install; then
    echo "clickhouse: apt-get install failed; tail of .local/clickhouse/install.log:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
  fi
fi
have_ch || { echo "clickhouse: installed package but no clickhouse-server binary found" >&2; exit 1; }
echo "clickhouse: installed $(dpkg-query -W -f='${Version}' clickhouse-server 2>/dev/null) in $(( $(date +%s) - start ))s"
