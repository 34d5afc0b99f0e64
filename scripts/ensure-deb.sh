#!/usr/bin/env bash
# Usage: ensure-deb.sh BINARY [PACKAGE]
# Make sure BINARY is installed, installing Debian's PACKAGE (default: BINARY) when it is not.
# Used for nginx (tests/e2e/test_replicas.py puts two ttsign replicas behind it) and wrk (benchmarks).
# Idempotent: does nothing when the binary is already there. It only installs the package; it never starts
# a service (the tests run their own nginx in the foreground, with its own config, and stop it).
set -euo pipefail
binary="${1:?usage: ensure-deb.sh BINARY [PACKAGE]}"
package="${2:-$binary}"
present() { command -v "$binary" >/dev/null 2>&1 || [[ -x "/usr/sbin/$binary" ]]; }
if present; then exit 0; fi
echo "$binary not found; installing Debian's package $package" >&2
SUDO=""
if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi
# policy-rc.d answering 101 keeps a package (nginx) from starting a system service on port 80 while installing.
created_policy=""
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
trap 'if [[ -n "$created_policy" ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi' EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
present || { echo "$binary did not install" >&2; exit 1; }
