#!/usr/bin/env bash
# Supply-chain check: cargo-deny 0.20.2 with the policy in deny.toml (advisories, licences, bans, sources).
#
#   scripts/deny.sh
#
# 1. Installs cargo-deny 0.20.2 with `cargo install --locked` when `cargo deny --version` reports anything else
#    (or nothing). It goes to cargo's bin directory ($CARGO_HOME/bin, by default ~/.cargo/bin), which persists on the
#    machine, so only the first run compiles it (several minutes on two cores); later runs reuse it.
# 2. The RustSec advisory database. These machines cannot reach GitHub, so the database is the snapshot beside the
#    checkout, ../shared/advisory-db (SNAPSHOT.txt says which one). cargo-deny wants a git repository at the path it
#    derives from the database URL in deny.toml, so the snapshot is copied to
#    .test-env/advisory-dbs/advisory-db-3157b0e258782691 and committed there; this is redone only when it is missing
#    or when SNAPSHOT.txt changed (a stamp keeps its hash). No snapshot: the check fails, it is not skipped.
#    With PORTAL_ADVISORY_DB=online (CI on GitHub, which can reach it) cargo-deny fetches the live database itself
#    into the same place, and no snapshot is needed.
# 3. `cargo fetch --locked` (from the local registry cache when the network is not there), so that cargo-deny sees
#    every crate and reads yanks from a fresh index cache.
# 4. `cargo deny check` (all four checks; `--offline` with the snapshot). Any error fails the run; warnings
#    (duplicate versions, a licence no longer used) are printed and do not.
#
# The first run makes the snapshot's git repository (seconds) and, without cargo-deny 0.20.2, installs it; a later
# run takes a few seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VERSION="0.20.2"
SNAPSHOT="$(dirname "$ROOT")/shared/advisory-db" # ../shared/advisory-db, beside the checkout
DB_ROOT="$ROOT/.test-env/advisory-dbs"
# The directory cargo-deny derives from db-urls in deny.toml (the URL's last segment and its XxHash64).
DB="$DB_ROOT/advisory-db-3157b0e258782691"
STALE_DAYS=90 # cargo-deny's own limit for a database it may not fetch

die() { echo "deny: $*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo is required but not installed"
command -v git >/dev/null || die "git is required but not installed"
case "${PORTAL_ADVISORY_DB:-snapshot}" in
  snapshot | online) ;;
  *) die "PORTAL_ADVISORY_DB must be 'snapshot' (the default) or 'online', not '$PORTAL_ADVISORY_DB'" ;;
esac

ensure_cargo_deny() {
  if [[ "$(cargo deny --version 2>/dev/null)" == "cargo-deny $VERSION" ]]; then
    return
  fi
  echo "deny: installing cargo-deny $VERSION into ${CARGO_HOME:-$HOME/.cargo}/bin (first run; compiles for a few minutes)" >&2
  cargo install cargo-deny --version "$VERSION" --locked --quiet || die "cargo install cargo-deny $VERSION failed"
  [[ "$(cargo deny --version 2>/dev/null)" == "cargo-deny $VERSION" ]] \
    || die "cargo deny --version still does not report $VERSION (is another cargo-deny earlier on PATH?)"
}

# Makes (or keeps) the git repository of the snapshot that `cargo deny --offline` reads.
prepare_snapshot() {
  [[ -d "$SNAPSHOT" ]] || die "no advisory database snapshot at $SNAPSHOT (expected beside the checkout as ../shared/advisory-db; on a machine that reaches GitHub run with PORTAL_ADVISORY_DB=online)"
  [[ -f "$SNAPSHOT/SNAPSHOT.txt" && -d "$SNAPSHOT/crates" ]] \
    || die "$SNAPSHOT is not an advisory-db snapshot (SNAPSHOT.txt or crates/ missing)"
  local want stamp="$DB_ROOT/.snapshot.sha256"
  want="$(sha256sum "$SNAPSHOT/SNAPSHOT.txt" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d "$DB/.git" ]]; then
    return
  fi
  echo "deny: making a git repository of the advisory database snapshot in ${DB#"$ROOT"/} (first run or new snapshot)" >&2
  rm -rf "$DB" "$stamp"
  mkdir -p "$DB"
  cp -R "$SNAPSHOT/." "$DB/"
  rm -rf "$DB/.git"
  git -C "$DB" init --quiet --initial-branch=main
  git -C "$DB" add --all
  git -C "$DB" -c user.name="portal deny.sh" -c user.email="deny@localhost" -c commit.gpgsign=false \
    commit --quiet --message "advisory-db snapshot: $(head -c 200 "$SNAPSHOT/SNAPSHOT.txt" | tr '\n' ' ')"
  echo "$want" >"$stamp"
}

# cargo-deny judges staleness by when the local repository was written, which says nothing about a copied snapshot;
# say its real age instead. Advisories published after the snapshot are not seen here (GitHub CI sees them).
report_snapshot_age() {
  local day age
  day="$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$SNAPSHOT/SNAPSHOT.txt" | head -n 1 || true)"
  if [[ -z "$day" ]]; then
    echo "deny: WARNING: SNAPSHOT.txt names no date; the age of the advisory database is unknown" >&2
    return
  fi
  local since
  since="$(date -u -d "$day" +%s 2>/dev/null)" || { echo "deny: advisory database: snapshot of $day" >&2; return; }
  age=$(( ($(date -u +%s) - since) / 86400 ))
  echo "deny: advisory database: snapshot of $day ($age days old)" >&2
  if (( age > STALE_DAYS )); then
    echo "deny: WARNING: the snapshot is older than $STALE_DAYS days; advisories published since $day are not checked here. Refresh ../shared/advisory-db." >&2
  fi
}

ensure_cargo_deny

offline=(--offline)
if [[ "${PORTAL_ADVISORY_DB:-snapshot}" == "online" ]]; then
  echo "deny: advisory database: the live one from GitHub (PORTAL_ADVISORY_DB=online)" >&2
  # A repository made from the snapshot has no remote to fetch from: let cargo-deny clone the live one instead.
  if [[ -d "$DB" ]] && ! git -C "$DB" remote get-url origin >/dev/null 2>&1; then
    rm -rf "$DB" "$DB_ROOT/.snapshot.sha256"
  fi
  mkdir -p "$DB_ROOT"
  offline=()
else
  prepare_snapshot
  report_snapshot_age
fi

echo "deny: cargo fetch --locked" >&2
if ! cargo fetch --locked --quiet; then
  echo "deny: cargo fetch --locked failed (no registry?); trying the local registry cache (yanks as of the last fetch)" >&2
  cargo fetch --locked --offline --quiet \
    || die "cargo fetch --locked failed: Cargo.lock is out of step with the manifests, or crates are missing from the local registry cache (see above)"
fi

command=(cargo deny "${offline[@]}" --locked check)
echo "deny: ${command[*]} (advisories, licenses, bans, sources; policy in deny.toml)" >&2
# Without the inclusion graphs (about 2,000 lines for the duplicate-version warnings alone); the hint says how to see
# why a crate is in the tree.
"${command[@]}" --show-stats --hide-inclusion-graph \
  || die "cargo deny found problems (above; policy and exceptions in deny.toml). Why a crate is in the tree: ${command[*]} <advisories|bans|licenses|sources>, or cargo tree -i <crate> --target all"
echo "deny: ok" >&2
