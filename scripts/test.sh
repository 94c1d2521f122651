#!/usr/bin/env bash
# The one test command: installs what the tests need (npm emulators from the
# lockfile in tests/emulators, certificates made on the fly), starts Azurite and
# the Cosmos DB emulator on free ports, runs every test of the workspace (the
# emulator conformance runs are required, not skipped), and stops the emulators
# whatever happens.
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
cleanup() {
  scripts/emulators.sh stop "$EMULATORS" || true
  rm -rf "$EMULATORS"
}
trap cleanup EXIT INT TERM

scripts/emulators.sh start "$EMULATORS"
# shellcheck disable=SC1091
source "$EMULATORS/env"
export PORTAL_REQUIRE_EMULATORS=1

echo "test: cargo test --workspace $*" >&2
cargo test --workspace --locked "$@"
