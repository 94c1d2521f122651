#!/usr/bin/env bash
# The API contract checked from outside: schemathesis (an independent property-based tester, pinned in
# scripts/requirements-test.txt) generates requests from /api/openapi.json and sends them to the real binary in
# local mode (a throwaway in-memory store), first anonymously and then as a logged-in demo citizen (the session
# cookie plus the X-CSRF-Token header, as a browser sends them), over every operation, with stateful links where
# the document has them. A run passes only with 0 server errors, 0 responses that break the documented schema,
# content type or headers, and 0 undocumented status codes.
#
#   scripts/api-contract.sh [PYTHON]     # PYTHON: a venv's python with schemathesis (default: $PORTAL_TEST_PYTHON)
#
# The checks are the ones the contract promises (see docs/architecture.md, "The API contract"). The operations
# that end the session (Logout, EraseMe) run in their own last pass, so that they do not log the fuzzer out of
# every other operation; nothing is excluded from testing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${1:-${PORTAL_TEST_PYTHON:-}}"
[[ -n "$PYTHON" ]] || { echo "api-contract: give the venv's python (or set PORTAL_TEST_PYTHON)" >&2; exit 2; }
ST="$(dirname "$PYTHON")/schemathesis"
[[ -x "$ST" ]] || { echo "api-contract: $ST is missing (scripts/requirements-test.txt installs it)" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/portal-contract.XXXXXX")"
PID=""
cleanup() {
  [[ -n "$PID" ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  [[ -n "${PORTAL_CONTRACT_KEEP:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

cargo build --locked --quiet --bin portal
BIN="${CARGO_TARGET_DIR:-target}/debug/portal"
# The fuzzer writes far faster than a person: the per-session write limit (PORTAL_WRITES_PER_MINUTE, 120 in
# production) is raised for this run, or most writes would only ever see the documented 429.
# Jana is also named a tile official, for the third pass (the modeller at LoA high).
PORTAL_TILES_OFFICIALS='DEMO%2Fjana-novakova' PORTAL_WRITES_PER_MINUTE=1000000 "$BIN" --port 0 --in-memory >"$WORK/stdout" 2>"$WORK/stderr" &
PID=$!
for _ in $(seq 1 200); do
  BASE="$(head -n1 "$WORK/stdout" 2>/dev/null | awk '{print $NF}')"
  [[ "$BASE" == http://* ]] && curl -fsS "$BASE/api/health" >/dev/null 2>&1 && break
  sleep 0.1
done
[[ "${BASE:-}" == http://* ]] || { echo "api-contract: the portal did not start" >&2; cat "$WORK/stderr" >&2; exit 1; }
echo "api-contract: portal at $BASE" >&2

CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"
# One worker: CPython 3.11's AST cache, which hypothesis uses to describe strategies, is not thread-safe ("AST
# constructor recursion depth mismatch" from two workers), an error of the tool, not of the portal.
COMMON=(--checks "$CHECKS" --max-examples "${PORTAL_CONTRACT_EXAMPLES:-25}" --seed 20261206 --workers 1
  --request-timeout 20 --suppress-health-check all --warnings off --report ndjson)

curl -fsS "$BASE/api/openapi.json" >"$WORK/openapi.json"
# The session-ending operations that the document has (the second pass of each identity).
ENDING=()
while read -r id; do ENDING+=(--include-operation-id "$id"); done < <("$PYTHON" - "$WORK/openapi.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
ids = {op.get("operationId") for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)}
for wanted in ("Logout", "EraseMe"):
    if wanted in ids:
        print(wanted)
PY
)
echo "api-contract: $("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for i in d["paths"].values() for m in i if m in ("get","put","post","delete","patch")))' "$WORK/openapi.json") operations in the document" >&2

run() {
  local label="$1"; shift
  echo "api-contract: schemathesis, $label" >&2
  "$ST" run "$BASE/api/openapi.json" "${COMMON[@]}" --report-dir "$WORK/$label" "$@"
}

# 1. Anonymous: every operation, including the personal ones (which must answer the documented 401).
run anonymous --exclude-operation-id Logout --exclude-operation-id EraseMe
if ((${#ENDING[@]})); then run anonymous-session-end "${ENDING[@]}"; fi

# 2. As a demo citizen with a browser session.
login() {
  local jar="$WORK/cookies" loa="${1:-substantial}"
  curl -fsS -o /dev/null -c "$jar" -X POST "$BASE/api/auth/dev/login" \
    -H "Origin: $BASE" --data-urlencode citizen=jana --data-urlencode "loa=$loa" --data-urlencode returnTo=/
  SESSION="$(awk '$6 == "__Host-portal_session" {print $7}' "$jar")"
  [[ -n "$SESSION" ]] || { echo "api-contract: the development login gave no session cookie" >&2; exit 1; }
  CSRF="$(curl -fsS -H "Cookie: __Host-portal_session=$SESSION" "$BASE/api/auth/session" |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["csrfToken"])')"
}
login
run citizen -H "Cookie: __Host-portal_session=$SESSION" -H "X-CSRF-Token: $CSRF" \
  --exclude-operation-id Logout --exclude-operation-id EraseMe
# 3. As a tile official at LoA high (before the session-ending pass, which erases Jana): the tile modeller's
# operations, which answer a citizen only 403.
login high
run official -H "Cookie: __Host-portal_session=$SESSION" -H "X-CSRF-Token: $CSRF" --include-operation-id-regex '^Admin'
if ((${#ENDING[@]})); then
  login
  run citizen-session-end -H "Cookie: __Host-portal_session=$SESSION" -H "X-CSRF-Token: $CSRF" "${ENDING[@]}"
fi

# What ran, per pass: operations, cases and the statuses answered.
"$PYTHON" - "$WORK" <<'PY'
import collections, glob, json, os, re, sys
for folder in sorted(glob.glob(os.path.join(sys.argv[1], "*/"))):
    statuses, cases, operations = collections.Counter(), 0, set()
    for path in glob.glob(os.path.join(folder, "*.ndjson")):
        text = open(path, encoding="utf-8").read()
        statuses.update(re.findall(r'"status_code":\s*(\d+)', text))
        operations.update(re.findall(r'"label":\s*"((?:GET|PUT|POST|DELETE|PATCH) [^"]+)"', text))
        cases += len(re.findall(r'"status_code":', text))
    shown = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    print(f"api-contract: {os.path.basename(folder.rstrip('/'))}: {len(operations)} operations, {cases} responses ({shown})",
          file=sys.stderr)
PY

if grep -q '"status": *"panic"\|panicked' "$WORK/stderr"; then
  echo "api-contract: the portal logged a panic" >&2
  exit 1
fi
echo "api-contract: passed" >&2
