#!/usr/bin/env bash
# Starts and stops the local stand-ins for Azure Storage (Azurite) and Cosmos DB
# (@vercel/cosmosdb-server) that the storage adapter conformance tests run against.
#
#   scripts/emulators.sh start DIR   # certificates, logs, pids and DIR/env go into DIR
#   scripts/emulators.sh stop DIR    # stops both; safe to call twice
#
# After `start`, `source DIR/env` exports PORTAL_TEST_COSMOS_ENDPOINT,
# PORTAL_TEST_BLOB_CONTAINER_URL, PORTAL_TEST_QUEUE_SERVICE_URL and PORTAL_TEST_CA_CERT.
# Needs node (>= 20), npm, openssl and python3. No Docker, no internet once
# tests/emulators/node_modules is installed (`npm ci` uses the lockfile).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/tests/emulators"
WAIT_SECONDS="${EMULATORS_WAIT_SECONDS:-60}"

die() { echo "emulators: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop DIR"; }

# Installs tests/emulators/node_modules from the lockfile unless it already
# matches it (a stamp holds the lockfile's hash from the last install).
install_packages() {
  local want stamp="$PKG/node_modules/.portal-lockfile.sha256"
  want="$(sha256sum "$PKG/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  echo "emulators: installing npm packages from the lockfile" >&2
  (cd "$PKG" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) >&2 || die "npm ci failed in $PKG"
  echo "$want" >"$stamp"
}

make_certificates() {
  local dir="$1"
  [[ -f "$dir/leaf.crt" && -f "$dir/ca.crt" ]] && return
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" -subj "/CN=portal emulator test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    >/dev/null 2>&1 || die "openssl could not create the test CA"
  openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$dir/leaf.key" -out "$dir/leaf.csr" \
    -subj "/CN=localhost" >/dev/null 2>&1 || die "openssl could not create the leaf key"
  printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$dir/leaf.ext"
  openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$dir/leaf.ext" -out "$dir/leaf.crt" >/dev/null 2>&1 \
    || die "openssl could not sign the leaf certificate"
  rm -f "$dir/leaf.csr" "$dir/leaf.ext" "$dir/ca.srl"
  chmod 600 "$dir/ca.key" "$dir/leaf.key"
}

# Prints N free TCP ports on 127.0.0.1, all distinct.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

port_open() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

is_running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {
  local name="$1" pidfile="$2" log="$3"
  shift 3
  local deadline=$((SECONDS + WAIT_SECONDS)) port
  for port in "$@"; do
    until port_open "$port"; do
      if ! is_running "$pidfile"; then
        echo "emulators: $name exited before listening on port $port; last log lines:" >&2
        tail -n 30 "$log" >&2 || true
        return 1
      fi
      if ((SECONDS >= deadline)); then
        echo "emulators: $name did not listen on port $port within ${WAIT_SECONDS}s; last log lines:" >&2
        tail -n 30 "$log" >&2 || true
        return 1
      fi
      sleep 0.2
    done
  done
}

start() {
  local dir="$1"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if is_running "$dir/azurite.pid" || is_running "$dir/cosmos.pid"; then
    die "emulators already running for $dir (run: $0 stop $dir)"
  fi
  command -v node >/dev/null || die "node is not installed"
  command -v openssl >/dev/null || die "openssl is not installed"
  command -v python3 >/dev/null || die "python3 is not installed"
  command -v npm >/dev/null || die "npm is not installed"
  install_packages
  make_certificates "$dir"

  local blob queue table cosmos
  read -r blob queue table cosmos <<<"$(free_ports 4)"

  (
    cd "$dir"
    exec node "$PKG/node_modules/azurite/dist/src/azurite.js" \
      --silent --inMemoryPersistence --disableTelemetry --skipApiVersionCheck --loose \
      --oauth basic --cert "$dir/leaf.crt" --key "$dir/leaf.key" \
      --blobHost 127.0.0.1 --blobPort "$blob" \
      --queueHost 127.0.0.1 --queuePort "$queue" \
      --tableHost 127.0.0.1 --tablePort "$table"
  ) >"$dir/azurite.log" 2>&1 &
  echo $! >"$dir/azurite.pid"

  (cd "$PKG" && exec node "$PKG/cosmos-server.js" "$cosmos") >"$dir/cosmos.log" 2>&1 &
  echo $! >"$dir/cosmos.pid"

  if ! wait_for azurite "$dir/azurite.pid" "$dir/azurite.log" "$blob" "$queue" \
    || ! wait_for cosmosdb-server "$dir/cosmos.pid" "$dir/cosmos.log" "$cosmos"; then
    stop "$dir"
    exit 1
  fi

  cat >"$dir/env" <<EOF
export PORTAL_TEST_COSMOS_ENDPOINT=https://localhost:$cosmos/
export PORTAL_TEST_BLOB_CONTAINER_URL=https://127.0.0.1:$blob/devstoreaccount1
export PORTAL_TEST_QUEUE_SERVICE_URL=https://127.0.0.1:$queue/devstoreaccount1
export PORTAL_TEST_CA_CERT=$dir/ca.crt
EOF
  echo "emulators: azurite (blob $blob, queue $queue, table $table) and cosmosdb-server ($cosmos) are up; source $dir/env" >&2
}

stop_one() {
  local pidfile="$1" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop() {
  local dir="$1"
  [[ -d "$dir" ]] || return 0
  stop_one "$dir/azurite.pid"
  stop_one "$dir/cosmos.pid"
  rm -f "$dir/env"
}

[[ $# -eq 2 ]] || usage
case "$1" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
