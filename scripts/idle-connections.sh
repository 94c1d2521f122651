#!/usr/bin/env bash
# Memory per connection on the real binary (issue 18): builds the release binary and the bare axum hello
# (tools/axum-hello, same axum and tokio), and for each of them in turn
#   1. starts it (the portal in local mode on a fresh data directory),
#   2. opens PORTAL_IDLE_CONNECTIONS (8,000) keep-alive connections, one GET /api/health on each, then leaves
#      them idle (scripts/idle_connections.py, Python asyncio),
#   3. runs wrk (Debian package `wrk`) on /api/health beside them (64 connections, PORTAL_LOAD_SECONDS),
#   4. checks the idle connections are all still open,
# and prints the server's RSS (VmRSS of /proc/<pid>/status) idle, with the idle connections, and after the load,
# and the errors: connections that failed to open, that the server closed while idle, non-2xx answers and
# wrk's socket errors.
#
#   scripts/idle-connections.sh
#   PORTAL_IDLE_CONNECTIONS=8000 PORTAL_LOAD_SECONDS=10 scripts/idle-connections.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
IDLE="${PORTAL_IDLE_CONNECTIONS:-8000}"
SECONDS_PER_RUN="${PORTAL_LOAD_SECONDS:-10}"
CONNECTIONS="${PORTAL_LOAD_CONNECTIONS:-64}"

if ! command -v wrk >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    echo "idle-connections: wrk is missing (Debian: apt-get install wrk)" >&2
    exit 2
  fi
fi
# Both ends of every connection live on this machine: two descriptors each, and the servers' own.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
LIMIT="$(ulimit -n)"
if [[ "$LIMIT" != unlimited ]] && (( LIMIT < IDLE + CONNECTIONS + 256 )); then
  echo "idle-connections: the open-files limit ($LIMIT) is too low for $IDLE connections" >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/portal-idle.XXXXXX")"
PIDS=()
cleanup() {
  touch "$WORK/stop"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# PORTAL_LOAD_BIN_DIR: binaries built earlier (portal and axum_hello in it), e.g. to compare commits.
if [[ -n "${PORTAL_LOAD_BIN_DIR:-}" ]]; then
  TARGET="$PORTAL_LOAD_BIN_DIR"
else
  cargo build --locked --release --quiet -p portal -p axum-hello --bin portal --bin axum_hello
  TARGET="${CARGO_TARGET_DIR:-target}/release"
fi

# Starts a server whose first line of output ends with its address; sets BASE and PID.
start() {
  local name="$1"; shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID=$!
  PIDS+=("$PID")
  BASE=""
  for _ in $(seq 1 300); do
    BASE="$(head -n1 "$WORK/$name.out" 2>/dev/null | awk '{print $NF}')"
    [[ "$BASE" == http://* ]] && curl -fsS "$BASE/api/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "idle-connections: $name did not start" >&2
  cat "$WORK/$name.err" >&2
  exit 1
}
rss() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# One server: prints a row of the table.
run() {
  local name="$1" base="$2" pid="$3" idle_rss open_line failed open held_rss out wrk_err loaded_rss still_line closed
  idle_rss="$(rss "$pid")"
  rm -f "$WORK/stop"
  python3 scripts/idle_connections.py "$base" "$IDLE" /api/health "$WORK/stop" >"$WORK/$name.idle" &
  local client=$!
  for _ in $(seq 1 1200); do grep -q '^open' "$WORK/$name.idle" && break; sleep 0.1; done
  open_line="$(grep '^open' "$WORK/$name.idle" || echo "open 0 failed $IDLE")"
  open="$(awk '{print $2}' <<<"$open_line")" failed="$(awk '{print $4}' <<<"$open_line")"
  held_rss="$(rss "$pid")"
  out="$(wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" "$base/api/health")"
  echo "$out" >>"$WORK/wrk.log"
  wrk_err="$(awk '/Non-2xx or 3xx responses:/ { e += $NF } /Socket errors:/ { for (i = 3; i <= NF; i += 2) e += $(i + 1) }
                  END { print e + 0 }' <<<"$out")"
  local rps
  rps="$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")"
  loaded_rss="$(rss "$pid")"
  touch "$WORK/stop"
  wait "$client" || true
  still_line="$(grep '^still-open' "$WORK/$name.idle" || echo "still-open 0 closed $open")"
  closed="$(awk '{print $4}' <<<"$still_line")"
  local per
  per="$(awk -v a="$idle_rss" -v b="$held_rss" -v n="$open" 'BEGIN { printf "%.1f", n ? (b - a) * 1024 / n : 0 }')"
  printf '| %s | %s MB | %s | %s MB | %s KB | %s MB | %s | %s |\n' "$name" "$idle_rss" "$open" "$held_rss" "$per" \
    "$loaded_rss" "$rps" "$((failed + closed + wrk_err))"
}

printf '| server | RSS idle | idle connections | RSS with them | per connection | RSS after wrk | health req/s | errors |\n'
printf '|---|---|---|---|---|---|---|---|\n'
start portal "$TARGET/portal" local --port 0 --data-dir "$WORK/data"
run portal "$BASE" "$PID"
start hello "$TARGET/axum_hello"
run "axum hello" "$BASE" "$PID"
echo "idle-connections: $IDLE idle keep-alive connections, wrk -t1 -c$CONNECTIONS ${SECONDS_PER_RUN}s on /api/health" \
  "beside them; errors = failed to open + closed while idle + non-2xx + socket errors" >&2
if grep -q '"status": *"panic"\|panicked' "$WORK/portal.err"; then
  echo "idle-connections: the portal logged a panic" >&2
  exit 1
fi
