#!/usr/bin/env bash
# Load on the real binary, as a citizen's browser makes it: builds the release binary, starts it in local mode
# on a fresh data directory (the embedded store on disk, WAL, synchronous=FULL), logs in a demo citizen through
# the development login, seeds 20 calendar events (sealed under the citizen's key), and runs wrk (Debian package
# `wrk`) against, in turn:
#   page    GET /api/calendar/events as that citizen: session, 20 sealed records opened, an access-log entry
#   health  GET /api/health of the same binary
#   hello   GET /api/health of a bare axum hello built with the same axum and tokio (tools/axum-hello)
# alternating for PORTAL_LOAD_ROUNDS rounds, and prints requests a second, p99, the ratios and each server's CPU
# time a request of each round.
# PORTAL_LOAD_PAGE names another page (default /api/calendar/events), e.g. /api/dashboard: the citizen's tiles,
# requested once before the runs so that every summary is cached (the case "all sources cached").
# The machine is shared by wrk and the server: read the ratios, not the absolute figures.
#
#   scripts/load.sh
#   PORTAL_LOAD_SECONDS=10 PORTAL_LOAD_CONNECTIONS=64 PORTAL_LOAD_ROUNDS=3 scripts/load.sh
#   PORTAL_LOAD_TIMELINE=40 scripts/load.sh      # the page second by second (see below)
#   PORTAL_LOAD_AGAINST=/tmp/before scripts/load.sh   # this build's page against another's, side by side (below)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_PER_RUN="${PORTAL_LOAD_SECONDS:-10}"
CONNECTIONS="${PORTAL_LOAD_CONNECTIONS:-64}"
ROUNDS="${PORTAL_LOAD_ROUNDS:-3}"
PAGE="${PORTAL_LOAD_PAGE:-/api/calendar/events}"

if ! command -v wrk >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    echo "load: wrk is missing (Debian: apt-get install wrk)" >&2
    exit 2
  fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/portal-load.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  [[ -n "${PORTAL_LOAD_KEEP:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# PORTAL_LOAD_BIN_DIR: binaries built earlier (portal and axum_hello in it), e.g. to compare commits.
if [[ -n "${PORTAL_LOAD_BIN_DIR:-}" ]]; then
  TARGET="$PORTAL_LOAD_BIN_DIR"
else
  cargo build --locked --release --quiet -p portal -p axum-hello --bin portal --bin axum_hello
  TARGET="${CARGO_TARGET_DIR:-target}/release"
fi

# Starts a server whose first line of output ends with its address; sets BASE.
# Its log (a line per request, some 4 MB a second under load) goes through a pipe, as the Functions host reads
# a worker's output, and only its last megabyte is kept. Written to a file on the database's disk instead, the
# kernel began writing that file back 30 s in (dirty_expire_centisecs), and ext4 made the store's next fsync
# wait for it: every page in flight stalled for about 50 ms (docs/benchmarks.md, session 11).
start() {
  local name="$1"; shift
  "$@" >"$WORK/$name.out" 2> >(tail -c 1000000 >"$WORK/$name.err") &
  PIDS+=($!)
  BASE=""
  for _ in $(seq 1 300); do
    BASE="$(head -n1 "$WORK/$name.out" 2>/dev/null | awk '{print $NF}')"
    [[ "$BASE" == http://* ]] && curl -fsS "$BASE/api/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "load: $name did not start" >&2
  kill "${PIDS[-1]}" 2>/dev/null || true
  sleep 0.5 # the pipe's tail writes the log once the server has gone
  cat "$WORK/$name.err" >&2
  exit 1
}

start portal "$TARGET/portal" local --port 0 --data-dir "$WORK/data"
PORTAL="$BASE" PORTAL_PID="${PIDS[-1]}"
start hello "$TARGET/axum_hello"
HELLO="$BASE" HELLO_PID="${PIDS[-1]}"
rss() { awk '/^VmRSS:/ {printf "%.1f MB", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
IDLE_RSS="$(rss "$PORTAL_PID")"
echo "load: portal at $PORTAL (data in $WORK/data), axum hello at $HELLO" >&2

# A demo citizen's browser session on the portal at $1 (the cookie, and the CSRF token for writes), with 20
# calendar events; sets COOKIE and EVENTS.
sign_in_and_seed() {
  local portal="$1" jar="$WORK/cookies.$2" session csrf
  curl -fsS -o /dev/null -c "$jar" -X POST "$portal/api/auth/dev/login" \
    -H "Origin: $portal" --data-urlencode citizen=jana --data-urlencode loa=substantial --data-urlencode returnTo=/
  session="$(awk '$6 == "__Host-portal_session" {print $7}' "$jar")"
  [[ -n "$session" ]] || { echo "load: the development login gave no session cookie" >&2; exit 1; }
  COOKIE="Cookie: __Host-portal_session=$session"
  csrf="$(curl -fsS -H "$COOKIE" "$portal/api/auth/session" | sed -n 's/.*"csrfToken" *: *"\([^"]*\)".*/\1/p')"
  [[ -n "$csrf" ]] || { echo "load: the session has no CSRF token" >&2; exit 1; }
  for i in $(seq 1 20); do
    curl -fsS -o /dev/null -X POST "$portal/api/calendar/events" -H "$COOKIE" -H "X-CSRF-Token: $csrf" \
      -H "Origin: $portal" -H "Content-Type: application/json" \
      --data "{\"title\":\"Událost $i\",\"date\":\"2026-12-23\"}"
  done
  EVENTS="$(curl -fsS -H "$COOKIE" "$portal/api/calendar/events" | grep -o '"id"' | wc -l)"
  curl -fsS -o /dev/null -H "$COOKIE" "$portal$PAGE"
}

if [[ -n "${PORTAL_LOAD_AGAINST:-}" ]]; then
  start other "$PORTAL_LOAD_AGAINST/portal" local --port 0 --data-dir "$WORK/other-data"
  OTHER="$BASE" OTHER_PID="${PIDS[-1]}"
  sign_in_and_seed "$OTHER" other
  OTHER_COOKIE="$COOKIE"
  echo "load: the other build's portal ($PORTAL_LOAD_AGAINST) at $OTHER lists $EVENTS items" >&2
fi
sign_in_and_seed "$PORTAL" portal
echo "load: seeded; the page lists $EVENTS items" >&2
echo "load: the page is $PAGE" >&2

# The median of list[1..n] (sorts it in place), for the summaries' awk programs.
AWK_MEDIAN='
  function median(list, n,    i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && list[j - 1] > list[j]; j--) { t = list[j]; list[j] = list[j - 1]; list[j - 1] = t }
    return n % 2 ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
  }'

# Stops the servers and fails if one logged a panic. A server's log is written by its pipe's tail only once
# the server has gone, so it is read after they stop.
stop_and_check_logs() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  PIDS=()
  sleep 0.5
  if grep -l '"status": *"panic"\|panicked' "$WORK"/*.err >&2; then
    echo "load: a server logged a panic (the files above)" >&2
    exit 1
  fi
}

# CPU time (user and system, in clock ticks) that process $1 has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICKS_PER_SECOND="$(getconf CLK_TCK)"

# One wrk run against the server whose process is $2; prints "requests/s p99-ms errors cpu-us", the last
# the server's CPU time (user and system) for each request served. Unlike requests a second, it does not
# depend on how much of the two cores wrk took from the server in that run.
measure() {
  local url="$1" pid="$2" out before after
  before="$(cpu_ticks "$pid")"
  out="$(wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -H "$COOKIE" "$url")"
  after="$(cpu_ticks "$pid")"
  echo "$out" >>"$WORK/wrk.log"
  awk -v cpu="$((after - before))" -v hz="$TICKS_PER_SECOND" '
    / requests in / { served = $1 }
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%" { v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v)
                  ms = (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i += 2) errors += $(i + 1) }
    END { printf "%.0f %.2f %d %.1f\n", rps, ms, errors, (served ? cpu / hz * 1e6 / served : 0) }' <<<"$out"
}

# PORTAL_LOAD_TIMELINE=N: instead of the rounds, N one-second runs of the page in a row, each printed with its
# time since the first and the server's CPU a page: a stall shows as one bad second (how the write-back stall
# above was found), a slow stretch of the machine as seconds of dearer pages.
if [[ -n "${PORTAL_LOAD_TIMELINE:-}" ]]; then
  printf '| second | page req/s | page p99 | errors | CPU a page |\n|---|---|---|---|---|\n'
  SECONDS_PER_RUN=1
  started="$(date +%s.%N)"
  for _ in $(seq 1 "$PORTAL_LOAD_TIMELINE"); do
    read -r page_rps page_p99 page_err page_cpu < <(measure "$PORTAL$PAGE" "$PORTAL_PID")
    awk -v t="$(date +%s.%N)" -v s="$started" -v a="$page_rps" -v ap="$page_p99" -v e="$page_err" -v c="$page_cpu" \
      'BEGIN { printf "| %.1f | %d | %.1f ms | %d | %.1f µs |\n", t - s, a, ap, e, c }'
  done
  stop_and_check_logs
  exit 0
fi

# PORTAL_LOAD_AGAINST=<dir>: this build's page against another build's (the portal binary in <dir>), both
# serving at once, in PORTAL_LOAD_PAIRS (default 30) pairs of one-second runs, the order swapped each pair.
# This machine's slow spells last seconds to minutes and cut the page's rate by up to a third, more than most
# changes do; rounds minutes apart can each land in a different spell, two runs a second apart share it.
# Each pair's ratio is printed, and the summary counts the pairs in which this build served more.
if [[ -n "${PORTAL_LOAD_AGAINST:-}" ]]; then
  SECONDS_PER_RUN=1
  THIS_COOKIE="$COOKIE"
  this() { COOKIE="$THIS_COOKIE" measure "$PORTAL$PAGE" "$PORTAL_PID"; }
  other() { COOKIE="$OTHER_COOKIE" measure "$OTHER$PAGE" "$OTHER_PID"; }
  this >/dev/null; other >/dev/null
  printf '| pair | this req/s | this p99 | other req/s | other p99 | this / other | CPU a page: this, other |\n'
  printf '|---|---|---|---|---|---|---|\n'
  for pair in $(seq 1 "${PORTAL_LOAD_PAIRS:-30}"); do
    if ((pair % 2)); then
      read -r a_rps a_p99 a_err a_cpu < <(this); read -r b_rps b_p99 b_err b_cpu < <(other)
    else
      read -r b_rps b_p99 b_err b_cpu < <(other); read -r a_rps a_p99 a_err a_cpu < <(this)
    fi
    awk -v n="$pair" -v a="$a_rps" -v ap="$a_p99" -v b="$b_rps" -v bp="$b_p99" -v e="$((a_err + b_err))" \
      -v acpu="$a_cpu" -v bcpu="$b_cpu" 'BEGIN {
        printf "| %d | %d | %.1f ms | %d | %.1f ms | %.3f | %.1f, %.1f µs |%s\n",
          n, a, ap, b, bp, (b ? a / b : 0), acpu, bcpu, (e ? " errors: " e : "") }' | tee -a "$WORK/pairs"
  done
  awk -F'|' "$AWK_MEDIAN"'
    { n++; ratio[n] = $7 + 0; if (ratio[n] > 1) more++; this_p99[n] = $4 + 0; other_p99[n] = $6 + 0
      split($8, cpu, ","); this_cpu[n] = cpu[1] + 0; other_cpu[n] = cpu[2] + 0
      if ($0 ~ /errors:/) failed++ }
    END { if (n) printf "load: %d pairs; this build served more in %d; medians: this / other %.3f, CPU a page " \
            "%.1f against %.1f µs, p99 %.1f against %.1f ms; pairs with errors: %d\n",
            n, more, median(ratio, n), median(this_cpu, n), median(other_cpu, n), median(this_p99, n),
            median(other_p99, n), failed }' "$WORK/pairs" >&2
  stop_and_check_logs
  if grep -q 'errors:' "$WORK/pairs"; then
    echo "load: a run had errors" >&2
    exit 1
  fi
  exit 0
fi

printf '| round | page req/s | page p99 | health req/s | health p99 | hello req/s | hello p99 | page / health | health / hello | errors | CPU a request: page, health, hello |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for round in $(seq 1 "$ROUNDS"); do
  read -r page_rps page_p99 page_err page_cpu < <(measure "$PORTAL$PAGE" "$PORTAL_PID")
  read -r health_rps health_p99 health_err health_cpu < <(measure "$PORTAL/api/health" "$PORTAL_PID")
  read -r hello_rps hello_p99 hello_err hello_cpu < <(measure "$HELLO/api/health" "$HELLO_PID")
  awk -v r="$round" -v a="$page_rps" -v ap="$page_p99" -v b="$health_rps" -v bp="$health_p99" \
    -v c="$hello_rps" -v cp="$hello_p99" -v e="$((page_err + health_err + hello_err))" \
    -v acpu="$page_cpu" -v bcpu="$health_cpu" -v ccpu="$hello_cpu" 'BEGIN {
      printf "| %d | %d | %.1f ms | %d | %.1f ms | %d | %.1f ms | %.3f | %.3f | %d | %.1f, %.1f, %.1f µs |\n",
        r, a, ap, b, bp, c, cp, (b ? a / b : 0), (c ? b / c : 0), e, acpu, bcpu, ccpu }' | tee -a "$WORK/rounds"
done
# The rounds against issue 18's targets: the page at least 0.2x health with a p99 of at most 10 ms in the same
# round, health at least 0.75x the hello, no errors; and the median of each ratio over the rounds.
awk -F'|' "$AWK_MEDIAN"'
  { n++; page[n] = $9 + 0; health[n] = $10 + 0; p99 = $4 + 0
    if (page[n] >= 0.2 && p99 <= 10) page_met++
    if (health[n] >= 0.75) health_met++
    if ($11 + 0 == 0) clean++ }
  END { if (n) printf "load: %d rounds; page >= 0.2x health with p99 <= 10 ms in %d, health >= 0.75x hello in %d, " \
          "no errors in %d; medians page / health %.3f, health / hello %.3f\n",
          n, page_met, health_met, clean, median(page, n), median(health, n) }' "$WORK/rounds" >&2
echo "load: portal RSS idle (after start) $IDLE_RSS, after the load $(rss "$PORTAL_PID")" >&2
echo "load: $CONNECTIONS connections, 1 wrk thread, ${SECONDS_PER_RUN}s a run; wrk output in $WORK/wrk.log" \
  "(PORTAL_LOAD_KEEP=1 keeps it)" >&2
stop_and_check_logs
