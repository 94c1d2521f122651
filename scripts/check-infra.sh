#!/usr/bin/env bash
# Checks the infrastructure code and the pipelines, offline:
#   1. checkov on bicep/ (Bicep parsed by pycep, policies and the reasons for every skipped check in .checkov.yaml);
#      a file that does not parse fails the run, as does any failed check;
#   2. actionlint on .github/workflows/*.yml, with ShellCheck on every `run:` script;
#   3. scripts/check-bicep-regions.py: what checkov cannot see (each region stands alone, deployments write staging
#      slots only and region after region, the release follows ci.yml, alerts, private network), and that the timer
#      and poison-queue lists of bicep/main.bicep and docs/operations.md match the app's function manifests
#      (tests/snapshots/manifests__function_manifests.snap).
#
#   scripts/check-infra.sh
#
# The tools live in a virtualenv under .test-env/infra, installed from scripts/requirements-infra.txt (exact pins)
# the first time and again only when that file or the Python version changes (a stamp keeps their hash). The first
# run needs PyPI; later runs need no network. Needs python3 (>= 3.9) with the venv module.
# The Bicep compiler (bicep lint) and `az deployment group what-if` run in the deployment pipeline, which can
# install them (.github/workflows/deploy-environment.yml).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.test-env/infra"
REQUIREMENTS="$ROOT/scripts/requirements-infra.txt"

die() { echo "check-infra: $*" >&2; exit 1; }

command -v python3 >/dev/null || die "python3 is required but not installed"

# Creates or reuses the virtualenv; reinstalls when the requirements or the interpreter changed.
ensure_tools() {
  local want stamp="$VENV/.requirements.sha256"
  want="$( { sha256sum "$REQUIREMENTS" | cut -d' ' -f1; python3 -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/checkov" && -x "$VENV/bin/actionlint" ]]; then
    return
  fi
  echo "check-infra: installing checkov, actionlint and shellcheck into ${VENV#"$ROOT"/} (first run or new pins)" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/pip" install --no-input --quiet -r "$REQUIREMENTS" \
    || { rm -rf "$VENV"; die "pip install -r ${REQUIREMENTS#"$ROOT"/} failed"; }
  echo "$want" >"$stamp"
}

run_checkov() {
  echo "check-infra: checkov -d bicep --framework bicep (config .checkov.yaml)" >&2
  local status=0
  "$VENV/bin/checkov" --config-file .checkov.yaml -d bicep --framework bicep \
    -o cli -o json --output-file-path "console,$OUT/results.json" >"$OUT/cli.txt" 2>"$OUT/stderr.txt" || status=$?
  if grep -q 'ERROR' "$OUT/stderr.txt"; then
    grep 'ERROR' "$OUT/stderr.txt" >&2
    die "checkov reported errors"
  fi
  [[ -f "$OUT/results.json" ]] || { cat "$OUT/stderr.txt" >&2; die "checkov wrote no results (exit $status)"; }
  python3 - "$OUT/results.json" "$status" <<'PY'
import json, sys

data = json.load(open(sys.argv[1]))
reports = data if isinstance(data, list) else [data]
keys = ("passed", "failed", "skipped", "parsing_errors", "resource_count")
summary = {key: sum(r["summary"].get(key, 0) for r in reports) for key in keys}
for report in reports:
    for check in report.get("results", {}).get("failed_checks", []):
        lines = check.get("file_line_range") or ["?", "?"]
        print(f"check-infra: FAILED {check['check_id']} {check['check_name']}\n"
              f"    {check['resource']} in bicep{check['file_path']}:{lines[0]}-{lines[1]}", file=sys.stderr)
skipped_by_config = sum(1 for line in open(".checkov.yaml") if line.strip().startswith("- CKV_"))
print(
    "check-infra: checkov: {passed} passed, {failed} failed, {skipped} skipped inline, "
    "{skipped_by_config} skipped in .checkov.yaml (each with its reason), {parsing_errors} parsing errors, "
    "{resource_count} resources".format(skipped_by_config=skipped_by_config, **summary),
    file=sys.stderr,
)
problems = []
if summary["parsing_errors"]:
    problems.append("a Bicep file did not parse (checkov would silently skip it)")
if summary["resource_count"] == 0:
    problems.append("no resources were checked")
if summary["failed"] or sys.argv[2] != "0":
    problems.append("failed checks (fix them, or skip them in .checkov.yaml with the reason beside them)")
if problems:
    print("check-infra: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
PY
}

run_region_checks() {
  echo "check-infra: scripts/check-bicep-regions.py (regions, deployments, alerts, network; lists from the app's manifests)" >&2
  # The virtualenv's python: the check reads the workflows with PyYAML, which checkov brings along.
  "$VENV/bin/python" scripts/check-bicep-regions.py \
    || die "the region checks failed (docs/operations.md's generated blocks: scripts/check-bicep-regions.py --write-docs)"
}

run_actionlint() {
  echo "check-infra: actionlint .github/workflows/*.yml (shellcheck $("$VENV/bin/shellcheck" --version | sed -n 's/^version: //p'))" >&2
  # actionlint finds shellcheck on PATH and checks every `run:` script with it.
  PATH="$VENV/bin:$PATH" "$VENV/bin/actionlint" -no-color .github/workflows/*.yml || die "actionlint found problems"
  echo "check-infra: actionlint: no problems" >&2
}

OUT="$(mktemp -d "${TMPDIR:-/tmp}/check-infra.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

ensure_tools
run_checkov
run_actionlint
run_region_checks
echo "check-infra: ok" >&2
