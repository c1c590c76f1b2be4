#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need on a fresh Debian machine (as root;
# smbyo and its test tools go into the project venv .venv, see scripts/install.sh), starts a Docker
# Engine if none is running, builds the local base image, runs the linters and pytest, and stops what
# it started. Extra arguments go to pytest (`bash scripts/test.sh tests/unit` runs the unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# smbyo and its test tools live in the project's venv (.venv; PEP 668 forbids the system Python).
bash scripts/install.sh test
venv=${SMBYO_VENV:-$PWD/.venv}
export PATH="$venv/bin:$PATH"  # tests that run `smbyo` as a user types it find this checkout's

pidfile=$(scripts/docker-up.sh)
stop_docker() {
  if [ -n "$pidfile" ] && [ -f "$pidfile" ]; then
    echo "==> stopping the Docker Engine this run started"
    kill "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 1 40); do [ -f "$pidfile" ] || break; sleep 0.25; done
  fi
}
trap stop_docker EXIT

echo "==> base image"
scripts/base-image.sh

echo "==> ruff and mypy"
"$venv/bin/python" -m ruff check sm_byo tests benchmarks scripts
"$venv/bin/python" -m mypy
# benchmarks and maintenance scripts call the package too: keep them in step with its API
"$venv/bin/python" -m mypy benchmarks scripts/docs_gen.py --exclude benchmarks/baseline

echo "==> pytest"
"$venv/bin/python" -m pytest "$@"
