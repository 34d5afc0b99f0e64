#!/usr/bin/env bash
# Install the real client packages the end-to-end tests drive, each isolated from the others:
#   - one virtual environment per older TikTokLive (they conflict with 7.0.1 in .venv and with each other):
#       .venv-e2e/tiktoklive-<version>/  from tests/e2e/clients/requirements-tiktoklive-<version>.txt (exact pins)
#     and per EulerApiSdk (TikTokLive 7.0.1 pins 0.1.0; the newer routes' tests need 0.5.0):
#       .venv-e2e/eulerapisdk-<version>/  from tests/e2e/clients/requirements-eulerapisdk-<version>.txt
#   - `npm ci` in every tests/e2e/node*/ directory that has a package-lock.json.
# Idempotent and fast when nothing changed: a stamp holding the hash of the requirement/lock file is checked
# (plus the installed package version) before anything is reinstalled.
# Env: E2E_PYTHON (default: python3.11 if present, else python3), E2E_VENVS (default: .venv-e2e).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENVS="${E2E_VENVS:-$ROOT/.venv-e2e}"
if [[ -z "${E2E_PYTHON:-}" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then E2E_PYTHON=python3.11; else E2E_PYTHON=python3; fi
fi

log() { printf 'e2e-deps: %s\n' "$*" >&2; }

hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# python_env PACKAGE VERSION IMPORT: make .venv-e2e/<package>-VERSION match its requirement file (lower-case
# names), then check that the IMPORT statement runs in it.
python_env() {
  local package="$1" version="$2" statement="$3"
  local name="${package,,}"
  local req="$ROOT/tests/e2e/clients/requirements-$name-$version.txt"
  local venv="$VENVS/$name-$version"
  local stamp="$venv/.ttsign-e2e-stamp"
  local want
  want="$(hash_of "$req")"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]] \
    && [[ "$(cd / && "$venv/bin/python" -c "from importlib.metadata import version; print(version('$package'))" 2>/dev/null)" == "$version" ]]; then
    log "$package $version: up to date"
    return
  fi
  log "$package $version: installing into ${venv#"$ROOT"/}"
  rm -f "$stamp"
  [[ -x "$venv/bin/python" ]] || "$E2E_PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  # Import from / so no directory named like a TikTokLive submodule (e.g. "types") can shadow the stdlib.
  (cd / && "$venv/bin/python" -c "$statement") || { log "$package $version installed but does not import"; exit 1; }
  echo "$want" > "$stamp"
}

# node_env DIR: `npm ci` unless node_modules already matches package-lock.json.
node_env() {
  local dir="$1"
  local stamp="$dir/node_modules/.ttsign-e2e-stamp"
  local want
  want="$(hash_of "$dir/package-lock.json")"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$dir/node_modules/.package-lock.json" ]]; then
    log "${dir#"$ROOT"/}: up to date"
    return
  fi
  log "${dir#"$ROOT"/}: npm ci"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

for req in "$ROOT"/tests/e2e/clients/requirements-tiktoklive-*.txt; do
  [[ -e "$req" ]] || continue
  version="$(basename "$req" .txt)"
  python_env TikTokLive "${version#requirements-tiktoklive-}" "from TikTokLive import TikTokLiveClient"
done
for req in "$ROOT"/tests/e2e/clients/requirements-eulerapisdk-*.txt; do
  [[ -e "$req" ]] || continue
  version="$(basename "$req" .txt)"
  python_env EulerApiSdk "${version#requirements-eulerapisdk-}" "from EulerApiSdk import AuthenticatedClient"
done

# The Node clients are part of the suite's claim: install Debian's Node.js and npm when they are missing,
# and fail (naming them) when that is not possible, rather than let their tests skip.
if ! command -v npm >/dev/null 2>&1; then
  log "npm not found: installing Debian's nodejs and npm"
  bash "$ROOT/scripts/ensure-deb.sh" node nodejs
  bash "$ROOT/scripts/ensure-deb.sh" npm npm
fi
for dir in "$ROOT"/tests/e2e/node*/; do
  dir="${dir%/}"
  if [[ -f "$dir/package-lock.json" ]]; then node_env "$dir"; fi
done
