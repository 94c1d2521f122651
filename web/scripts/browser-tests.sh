#!/usr/bin/env bash
# The browser tests of the reference client: builds the portal, starts the real binary in local mode (a throwaway
# in-memory store, a free port), runs Playwright (web/tests) in Debian's chromium against it, and stops it.
# Screenshots of every screen land in web/test-results/screens (gitignored).
#
#   web/scripts/browser-tests.sh [playwright args]
set -euo pipefail

WEB="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$WEB/.." && pwd)"
cd "$ROOT"
command -v chromium >/dev/null || { echo "browser-tests: chromium is missing (apt-get install chromium)" >&2; exit 1; }
[[ -d "$WEB/node_modules/@playwright/test" ]] || (cd "$WEB" && npm ci --no-audit --no-fund)

cargo build --locked --quiet --bin portal
BIN="${CARGO_TARGET_DIR:-target}/debug/portal"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/portal-browser.XXXXXX")"
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

"$BIN" --port 0 --in-memory >"$WORK/stdout" 2>"$WORK/stderr" &
PID=$!
BASE=""
for _ in $(seq 1 200); do
  BASE="$(head -n1 "$WORK/stdout" 2>/dev/null | awk '{print $NF}')"
  [[ "$BASE" == http://* ]] && curl -fsS "$BASE/api/health" >/dev/null 2>&1 && break
  BASE=""
  sleep 0.1
done
[[ -n "$BASE" ]] || { echo "browser-tests: the portal did not start" >&2; cat "$WORK/stderr" >&2; exit 1; }
echo "browser-tests: portal at $BASE" >&2

cd "$WEB"
node scripts/vendor.mjs --check
PORTAL_BASE_URL="$BASE" npx playwright test "$@"
if grep -q 'panicked' "$WORK/stderr"; then
  echo "browser-tests: the portal logged a panic" >&2
  exit 1
fi
