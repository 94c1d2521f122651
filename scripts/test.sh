#!/usr/bin/env bash
# The one test command: installs what the tests need (npm emulators from the
# lockfiles in tests/emulators and tests/oidc, certificates and keys made on the
# fly), starts Azurite, the Cosmos DB emulator, maildev (SMTP over TLS) and an
# OpenID Connect provider configured like NIA on free ports, installs the
# independent checkers the tests call (Python's icalendar, in .test-env/test),
# checks bicep/ with checkov and the workflows with actionlint (tools in a local
# venv under .test-env/infra), checks the dependencies with cargo deny
# (scripts/deny.sh: advisories from ../shared/advisory-db, licences, bans,
# sources), runs every
# test of the workspace (the emulator conformance runs are required, not
# skipped), runs schemathesis over /api/openapi.json against the real binary (scripts/api-contract.sh), runs the web
# client's browser tests in chromium against the real binary (web/scripts/browser-tests.sh), and stops
# the emulators whatever happens.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p portal  # extra arguments go to `cargo test`
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

for tool in cargo node npm openssl python3; do
  command -v "$tool" >/dev/null || { echo "test: $tool is required but not installed" >&2; exit 1; }
done

# zbarimg (Debian zbar-tools) decodes the QR Platba images in functions/fees/tests as an independent decoder.
if ! command -v zbarimg >/dev/null; then
  echo "test: installing zbar-tools (zbarimg) for the QR code tests" >&2
  apt-get install -y --no-install-recommends zbar-tools >/dev/null
fi

# pdffonts (Debian poppler-utils) checks that every font of the portal's PDFs is embedded (shared/pdf/tests).
if ! command -v pdffonts >/dev/null; then
  echo "test: installing poppler-utils (pdffonts) for the PDF tests" >&2
  apt-get install -y --no-install-recommends poppler-utils >/dev/null
fi

# zip (Debian, Info-ZIP) makes an encrypted archive for the data box's container checks (functions/databox/tests/containers.rs).
if ! command -v zip >/dev/null; then
  echo "test: installing zip for the data box's container tests" >&2
  apt-get install -y --no-install-recommends zip >/dev/null
fi

# chromium (Debian) runs the web client's browser tests (web/tests, Playwright with the system browser).
if ! command -v chromium >/dev/null; then
  echo "test: installing chromium for the web client's browser tests" >&2
  apt-get install -y --no-install-recommends chromium >/dev/null
fi

EMULATORS="$(mktemp -d "${TMPDIR:-/tmp}/portal-emulators.XXXXXX")"
OIDC="$(mktemp -d "${TMPDIR:-/tmp}/portal-oidc.XXXXXX")"
cleanup() {
  scripts/emulators.sh stop "$EMULATORS" || true
  scripts/oidc-provider.sh stop "$OIDC" || true
  rm -rf "$EMULATORS" "$OIDC"
}
trap cleanup EXIT INT TERM

scripts/emulators.sh start "$EMULATORS"
scripts/oidc-provider.sh start "$OIDC"
# shellcheck disable=SC1091
source "$EMULATORS/env"
# shellcheck disable=SC1091
source "$OIDC/env"
export PORTAL_REQUIRE_EMULATORS=1

# The independent checkers, in a venv reinstalled only when its pins or the interpreter change.
TEST_VENV="$ROOT/.test-env/test"
want="$( { sha256sum scripts/requirements-test.txt | cut -d' ' -f1; python3 -c 'import sys; print(sys.version)'; } | sha256sum)"
if [[ ! -x "$TEST_VENV/bin/python" || "$(cat "$TEST_VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  echo "test: installing the independent checkers into .test-env/test (first run or new pins)" >&2
  rm -rf "$TEST_VENV"
  python3 -m venv "$TEST_VENV"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$TEST_VENV/bin/pip" install --no-input --quiet -r scripts/requirements-test.txt
  echo "$want" >"$TEST_VENV/.requirements.sha256"
fi
export PORTAL_TEST_PYTHON="$TEST_VENV/bin/python"

echo "test: infrastructure and supply-chain checks (checkov on bicep/, actionlint on the workflows, cargo deny)" >&2
scripts/check-infra.sh
scripts/deny.sh

echo "test: cargo test --workspace $*" >&2
cargo test --workspace --locked "$@"

if [[ $# -eq 0 ]]; then
  echo "test: the API contract from outside (schemathesis against the real binary, scripts/api-contract.sh)" >&2
  scripts/api-contract.sh "$TEST_VENV/bin/python"
  echo "test: the web client in a real browser (npm ci in web/, Playwright and axe-core in chromium, web/scripts/browser-tests.sh)" >&2
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  web/scripts/browser-tests.sh
fi
