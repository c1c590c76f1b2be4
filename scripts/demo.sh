#!/usr/bin/env bash
# The main job, end to end on this machine: build the example algorithm's image, train it locally
# under the SageMaker contract, serve it, invoke it, batch-transform its data, and clean up.
# Works on a fresh Debian machine as root (installs Docker if missing) and on any machine with Docker.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  echo "==> installing Docker (Debian's docker.io)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io mmdebstrap >/dev/null
fi
# smbyo from this checkout's venv (scripts/install.sh makes it when it is missing).
venv=${SMBYO_VENV:-$repo/.venv}
[ -x "$venv/bin/smbyo" ] || bash scripts/install.sh
export PATH="$venv/bin:$PATH"
scripts/docker-up.sh >/dev/null

base=python:3.12-slim-bookworm
if ! docker image inspect "$base" >/dev/null 2>&1 && ! docker pull -q "$base" >/dev/null 2>&1; then
  echo "==> no registry reachable: building a local Debian base image instead of $base"
  command -v mmdebstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null; }
  scripts/base-image.sh
  base=${SMBYO_TEST_BASE_IMAGE:-smbyo-test/debian:bookworm}
fi
ca=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && ca=(--ca-bundle /etc/ssl/certs/ca-certificates.crt)

cd algorithms/decision_trees
out=$(mktemp -d)
port=${SMBYO_DEMO_PORT:-8080}
serve_pid=""
cleanup() {
  if [ -n "$serve_pid" ]; then kill -INT "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$out"
}
trap cleanup EXIT

echo "==> smbyo build"
smbyo build --base-image "$base" --network host "${ca[@]}"
echo "==> smbyo train --local"
smbyo train --local --data training=data/training -H max_leaf_nodes=10 --out "$out/model"
echo "==> smbyo serve --local (background) + smbyo invoke --local"
smbyo serve --local --model "$out/model/model.tar.gz" --port "$port" &
serve_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/ping" >/dev/null 2>&1 && break
  sleep 0.2
done
smbyo invoke --local "http://127.0.0.1:$port" --body payload.csv --content-type text/csv
echo "==> smbyo transform --local"
smbyo transform --local --model "$out/model/model.tar.gz" --input data/transform --output "$out/predictions"
head -3 "$out/predictions/iris.csv.out"
echo "==> done: the example trained, served, answered and batch-transformed locally"
