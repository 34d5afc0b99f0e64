#!/usr/bin/env bash
# Fail, naming each one, when a tool the test suite needs is missing (issue 16: no silent skips).
# Runs after the install targets (e2e-deps, redis, nginx) have tried to provide them, so anything reported
# here is something the machine could not install; the suite would otherwise skip or half-run those tests.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing=()

need() {  # need WHAT CHECK...: WHAT is missing unless CHECK succeeds
  local what="$1"
  shift
  "$@" >/dev/null 2>&1 || missing+=("$what")
}

node_major() { node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; }
redis_up() { python3 - <<'PY'
import socket
with socket.create_connection(("127.0.0.1", 6379), timeout=2) as s:
    s.sendall(b"PING\r\n")
    assert s.recv(16).startswith(b"+PONG")
PY
}
compiler() { command -v "${CC:-cc}"; }
node_clients() {
  for dir in "$ROOT"/tests/e2e/node*/; do
    [[ -f "$dir/package-lock.json" ]] || continue
    [[ -d "$dir/node_modules" ]] || return 1
  done
}

need "Node.js 18+ (node: the Node client tests)" node_major
need "npm (installs the Node clients)" command -v npm
need "the Node clients in tests/e2e/node*/node_modules (make e2e-deps)" node_clients
need "Redis on 127.0.0.1:6379 (make redis)" redis_up
need "nginx (the replica test; make nginx)" bash -c 'command -v nginx || test -x /usr/sbin/nginx'
need "a C compiler (cc: the compiled signing path)" compiler
need "promtool (deploy/monitoring checks; make promtool)" command -v promtool
need "Chromium (the /docs browser test; make chromium)" test -x /usr/bin/chromium

if ((${#missing[@]})); then
  echo "make test: the suite needs tools this machine lacks:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
echo "check-tools: node $(node --version), npm $(npm --version), redis, nginx, cc, promtool: all present" >&2
