# Helpers shared by the scripts that start local stand-in services
# (emulators.sh, oidc-provider.sh). Source it; it defines functions only.
# The sourcing script defines `die`.

# npm_ci_from_lockfile PKG LABEL: installs PKG/node_modules from PKG's lockfile
# unless a stamp says the installed tree matches that lockfile already.
npm_ci_from_lockfile() {
  local pkg="$1" label="$2" want stamp="$1/node_modules/.portal-lockfile.sha256"
  want="$(sha256sum "$pkg/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  echo "$label: installing npm packages from the lockfile" >&2
  (cd "$pkg" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) >&2 || die "npm ci failed in $pkg"
  echo "$want" >"$stamp"
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, space-separated.
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

# wait_for NAME PIDFILE LOG SECONDS PORT...: waits until every port accepts
# connections; on an exit or a timeout prints the log tail and returns 1.
wait_for() {
  local name="$1" pidfile="$2" log="$3" seconds="$4" port
  shift 4
  local deadline=$((SECONDS + seconds))
  for port in "$@"; do
    until port_open "$port"; do
      if ! is_running "$pidfile"; then
        echo "$name exited before listening on port $port; last log lines:" >&2
        tail -n 30 "$log" >&2 || true
        return 1
      fi
      if ((SECONDS >= deadline)); then
        echo "$name did not listen on port $port within ${seconds}s; last log lines:" >&2
        tail -n 30 "$log" >&2 || true
        return 1
      fi
      sleep 0.2
    done
  done
}

# stop_pidfile PIDFILE: TERM, up to 5 s, then KILL; removes the pid file.
stop_pidfile() {
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
