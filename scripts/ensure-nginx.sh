#!/usr/bin/env bash
# Make sure an nginx binary is installed: tests/e2e/test_replicas.py puts two ttsign replicas behind it.
# Idempotent: does nothing when nginx is already there. It only installs Debian's package; it never starts
# nginx as a service (the test runs its own nginx in the foreground, with its own config, and stops it).
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; then exit 0; fi
echo "nginx not found; installing it from Debian's packages" >&2
SUDO=""
if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi
# policy-rc.d answering 101 keeps the package from starting a system nginx on port 80 while installing.
created_policy=""
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
trap 'if [[ -n "$created_policy" ]]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi' EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || { echo "nginx did not install" >&2; exit 1; }
