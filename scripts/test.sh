#!/usr/bin/env bash
# The one test command: installs what the tests need (npm emulators from the
# lockfiles in tests/emulators and tests/oidc, certificates and keys made on the
# fly), starts Azurite, the Cosmos DB emulator and an OpenID Connect provider
# configured like NIA on free ports, checks bicep/ with checkov and the
# workflows with actionlint (tools in a local venv under .test-env/), runs every
# test of the workspace (the emulator conformance runs are required, not
# skipped), and stops the emulators whatever happens.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p portal  # extra arguments go to `cargo test`
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

for tool in cargo node npm openssl python3; do
  command -v "$tool" >/dev/null || { echo "test: $tool is required but not installed" >&2; exit 1; }
done

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

echo "test: infrastructure checks (checkov on bicep/, actionlint on the workflows)" >&2
scripts/check-infra.sh

echo "test: cargo test --workspace $*" >&2
cargo test --workspace --locked "$@"
