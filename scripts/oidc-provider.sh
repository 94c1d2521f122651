#!/usr/bin/env bash
# Starts and stops a local OpenID Connect provider (panva/oidc-provider) that is
# configured like NIA (Identita občana) for the portal's login tests.
#
#   scripts/oidc-provider.sh start DIR   # keys, client, accounts, log, pid and DIR/env go into DIR
#   scripts/oidc-provider.sh stop DIR    # stops it; safe to call twice
#
# After `start`, `source DIR/env` exports PORTAL_TEST_OIDC_ISSUER,
# PORTAL_TEST_OIDC_CLIENT_ID, PORTAL_TEST_OIDC_CLIENT_SECRET,
# PORTAL_TEST_OIDC_REDIRECT, PORTAL_TEST_OIDC_ENC_KEY and PORTAL_TEST_OIDC_ACCOUNTS.
# The login sequence a test follows is in tests/oidc/README.md.
# Needs node (>= 20), npm, openssl and python3. No internet once
# tests/oidc/node_modules is installed (`npm ci` uses the lockfile).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/tests/oidc"
WAIT_SECONDS="${OIDC_PROVIDER_WAIT_SECONDS:-30}"
REDIRECT_URI="https://portal.test/api/auth/callback"

die() { echo "oidc-provider: $*" >&2; exit 1; }

# shellcheck source=scripts/lib/services.sh
source "$ROOT/scripts/lib/services.sh"

usage() { die "usage: $0 start|stop DIR"; }

# The portal's id_token encryption key pair: the private key (PKCS#8 PEM) stays
# in DIR for the relying party; the public half is registered as the client's
# `jwks` (use enc, alg RSA-OAEP, kid = RFC 7638 thumbprint).
make_encryption_key() {
  local dir="$1"
  if [[ ! -f "$dir/portal-enc.key.pem" ]]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/portal-enc.key.pem" \
      >/dev/null 2>&1 || die "openssl could not create the encryption key"
    chmod 600 "$dir/portal-enc.key.pem"
  fi
  openssl pkey -in "$dir/portal-enc.key.pem" -pubout -out "$dir/portal-enc.pub.pem" \
    >/dev/null 2>&1 || die "openssl could not read $dir/portal-enc.key.pem"
  node --input-type=module - "$dir/portal-enc.pub.pem" "$dir/portal-enc.jwk.json" <<'JS' || die "could not convert the public key to a JWK"
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
const [pub, out] = process.argv.slice(2);
const jwk = createPublicKey(readFileSync(pub)).export({ format: 'jwk' });
const kid = createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })).digest('base64url');
writeFileSync(out, `${JSON.stringify({ ...jwk, use: 'enc', alg: 'RSA-OAEP', kid }, null, 2)}\n`);
JS
}

write_client() {
  local dir="$1" id secret
  id="portal-test-$(openssl rand -hex 8)"
  secret="$(openssl rand -hex 32)"
  (umask 077 && printf '{"client_id": "%s", "client_secret": "%s"}\n' "$id" "$secret" >"$dir/client.json")
}

# The demo citizens. PersonIdentifier stands for NIA's per-service pseudonym;
# ludmila has no eMail and no phonenumber (NIA releases only what it holds).
write_accounts() {
  cat >"$1/accounts.json" <<'EOF'
[
  {
    "login": "jana",
    "PersonIdentifier": "CZ/CZ/7f3e2a9c-41d8-4b6e-9a1f-0c5d83e27b64",
    "CurrentGivenName": "Jana",
    "CurrentFamilyName": "Nováková",
    "DateOfBirth": "1985-03-14",
    "CurrentAddress": "Vinohradská 1511/230, Strašnice, 100 00 Praha 10",
    "eMail": "jana@example.test",
    "phonenumber": "+420601234567"
  },
  {
    "login": "jiri",
    "PersonIdentifier": "CZ/CZ/b41c07e5-93a2-4f7d-8e60-d2f91a4c35e8",
    "CurrentGivenName": "Jiří",
    "CurrentFamilyName": "Dvořák",
    "DateOfBirth": "1972-11-02",
    "CurrentAddress": "náměstí Svobody 94/4, Brno-město, 602 00 Brno",
    "eMail": "jiri.dvorak@example.test",
    "phonenumber": "+420731555019"
  },
  {
    "login": "ludmila",
    "PersonIdentifier": "CZ/CZ/2d9f6b13-5e7a-4c08-b3d4-8a1e60f7c921",
    "CurrentGivenName": "Ludmila",
    "CurrentFamilyName": "Šťastná Žďárská",
    "DateOfBirth": "1948-07-30",
    "CurrentAddress": "Česká 12/3, 370 01 České Budějovice"
  }
]
EOF
}

start() {
  local dir="$1"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if is_running "$dir/oidc-provider.pid"; then
    die "already running for $dir (run: $0 stop $dir)"
  fi
  command -v node >/dev/null || die "node is not installed"
  command -v openssl >/dev/null || die "openssl is not installed"
  command -v python3 >/dev/null || die "python3 is not installed"
  command -v npm >/dev/null || die "npm is not installed"
  npm_ci_from_lockfile "$PKG" oidc-provider
  make_encryption_key "$dir"
  write_client "$dir"
  write_accounts "$dir"

  local port
  port="$(free_ports 1)"
  (cd "$PKG" && exec node "$PKG/provider.js" "$port" "$dir") >"$dir/oidc-provider.log" 2>&1 &
  echo $! >"$dir/oidc-provider.pid"

  if ! wait_for oidc-provider "$dir/oidc-provider.pid" "$dir/oidc-provider.log" "$WAIT_SECONDS" "$port"; then
    stop "$dir"
    exit 1
  fi

  local id secret
  id="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).client_id' "$dir/client.json")"
  secret="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).client_secret' "$dir/client.json")"
  (umask 077 && cat >"$dir/env" <<EOF
export PORTAL_TEST_OIDC_ISSUER=http://127.0.0.1:$port
export PORTAL_TEST_OIDC_CLIENT_ID=$id
export PORTAL_TEST_OIDC_CLIENT_SECRET=$secret
export PORTAL_TEST_OIDC_REDIRECT=$REDIRECT_URI
export PORTAL_TEST_OIDC_ENC_KEY=$dir/portal-enc.key.pem
export PORTAL_TEST_OIDC_ACCOUNTS=$dir/accounts.json
export PORTAL_TEST_OIDC_SIGNING_KEY=$dir/provider-signing.key.pem
export PORTAL_TEST_OIDC_SIGNING_KID=$dir/provider-signing.kid
EOF
  )
  echo "oidc-provider: up on http://127.0.0.1:$port; source $dir/env" >&2
}

stop() {
  local dir="$1"
  [[ -d "$dir" ]] || return 0
  stop_pidfile "$dir/oidc-provider.pid"
  rm -f "$dir/env"
}

[[ $# -eq 2 ]] || usage
case "$1" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
