#!/usr/bin/env bash
# Starts and stops the local stand-ins the tests run against: Azure Storage
# (Azurite) and Cosmos DB (@vercel/cosmosdb-server) for the storage adapter
# conformance tests, and an SMTP server with a REST API (maildev, implicit TLS
# with a certificate from the test CA) for the e-mail tests.
#
#   scripts/emulators.sh start DIR   # certificates, logs, pids and DIR/env go into DIR
#   scripts/emulators.sh stop DIR    # stops them all; safe to call twice
#
# After `start`, `source DIR/env` exports PORTAL_TEST_COSMOS_ENDPOINT,
# PORTAL_TEST_BLOB_CONTAINER_URL, PORTAL_TEST_QUEUE_SERVICE_URL, PORTAL_TEST_CA_CERT
# and the PORTAL_TEST_SMTP_* / PORTAL_TEST_MAILDEV_URL variables.
# Needs node (>= 20), npm, openssl and python3. No Docker, no internet once
# tests/emulators/node_modules is installed (`npm ci` uses the lockfile).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/tests/emulators"
WAIT_SECONDS="${EMULATORS_WAIT_SECONDS:-60}"

die() { echo "emulators: $*" >&2; exit 1; }

# shellcheck source=scripts/lib/services.sh
source "$ROOT/scripts/lib/services.sh"

usage() { die "usage: $0 start|stop DIR"; }

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

# smtps_ready PORT CA: a whole SMTPS session (TLS handshake, greeting, QUIT), retried for a while. A bare TCP probe
# will not do: maildev 2 crashes when a client closes the socket during the TLS handshake.
smtps_ready() {
  python3 - "$1" "$2" "$WAIT_SECONDS" <<'PY' || { echo "maildev did not answer SMTPS on port $1" >&2; return 1; }
import smtplib, ssl, sys, time
port, ca, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + seconds
while True:
    try:
        smtplib.SMTP_SSL("localhost", port, context=ssl.create_default_context(cafile=ca), timeout=5).quit()
        break
    except (OSError, smtplib.SMTPException):
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.2)
PY
}

start() {
  local dir="$1"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if is_running "$dir/azurite.pid" || is_running "$dir/cosmos.pid" || is_running "$dir/maildev.pid"; then
    die "emulators already running for $dir (run: $0 stop $dir)"
  fi
  command -v node >/dev/null || die "node is not installed"
  command -v openssl >/dev/null || die "openssl is not installed"
  command -v python3 >/dev/null || die "python3 is not installed"
  command -v npm >/dev/null || die "npm is not installed"
  npm_ci_from_lockfile "$PKG" emulators
  make_certificates "$dir"

  local blob queue table cosmos smtp mailweb
  read -r blob queue table cosmos smtp mailweb <<<"$(free_ports 6)"

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

  # Implicit TLS (SMTPS) like a production relay on port 465; the web port serves maildev's REST API.
  (
    cd "$dir"
    exec node "$PKG/node_modules/maildev/bin/maildev" --ip 127.0.0.1 --smtp "$smtp" --web "$mailweb" \
      --incoming-secure --incoming-cert "$dir/leaf.crt" --incoming-key "$dir/leaf.key" --silent
  ) >"$dir/maildev.log" 2>&1 &
  echo $! >"$dir/maildev.pid"

  if ! wait_for azurite "$dir/azurite.pid" "$dir/azurite.log" "$WAIT_SECONDS" "$blob" "$queue" \
    || ! wait_for cosmosdb-server "$dir/cosmos.pid" "$dir/cosmos.log" "$WAIT_SECONDS" "$cosmos" \
    || ! wait_for maildev "$dir/maildev.pid" "$dir/maildev.log" "$WAIT_SECONDS" "$mailweb" \
    || ! smtps_ready "$smtp" "$dir/ca.crt"; then
    stop "$dir"
    exit 1
  fi

  cat >"$dir/env" <<EOF
export PORTAL_TEST_COSMOS_ENDPOINT=https://localhost:$cosmos/
export PORTAL_TEST_BLOB_CONTAINER_URL=https://127.0.0.1:$blob/devstoreaccount1
export PORTAL_TEST_QUEUE_SERVICE_URL=https://127.0.0.1:$queue/devstoreaccount1
export PORTAL_TEST_CA_CERT=$dir/ca.crt
export PORTAL_TEST_SMTP_HOST=127.0.0.1
export PORTAL_TEST_SMTP_PORT=$smtp
export PORTAL_TEST_SMTP_CA_FILE=$dir/ca.crt
export PORTAL_TEST_SMTP_SERVER_NAME=localhost
export PORTAL_TEST_MAILDEV_URL=http://127.0.0.1:$mailweb
EOF
  echo "emulators: azurite (blob $blob, queue $queue, table $table), cosmosdb-server ($cosmos) and maildev (smtps $smtp, api $mailweb) are up; source $dir/env" >&2
}

stop() {
  local dir="$1"
  [[ -d "$dir" ]] || return 0
  stop_pidfile "$dir/azurite.pid"
  stop_pidfile "$dir/cosmos.pid"
  stop_pidfile "$dir/maildev.pid"
  rm -f "$dir/env"
}

[[ $# -eq 2 ]] || usage
case "$1" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
