#!/usr/bin/env bash
# Start a Docker Engine for smbyo's tests (and for local use on a bare Debian machine).
# Idempotent: if a daemon already answers at DOCKER_HOST (or the default socket), nothing is started.
# Prints nothing on success except the daemon's pid file path when it started one.
set -euo pipefail

state_dir=${SMBYO_DOCKERD_STATE:-/tmp/smbyo-dockerd}
mkdir -p "$state_dir"

if docker info >/dev/null 2>&1; then
  exit 0
fi

# A daemon from an earlier run may still be shutting down (its pid file blocks a new one), or may have
# been killed and left its pid file behind.
pidfile="$state_dir/dockerd.pid"
if [ -f "$pidfile" ]; then
  old=$(cat "$pidfile" 2>/dev/null || true)
  for _ in $(seq 1 60); do
    if [ -z "$old" ] || ! kill -0 "$old" 2>/dev/null; then break; fi
    if docker info >/dev/null 2>&1; then exit 0; fi
    sleep 0.5
  done
  if [ -n "$old" ] && kill -0 "$old" 2>/dev/null; then
    echo "a dockerd (pid $old) is running but does not answer; stop it and run again" >&2
    exit 3
  fi
  rm -f "$pidfile"
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "dockerd not found: install Docker (Debian: apt-get install -y docker.io)" >&2
  exit 3
fi

# dockerd only creates docker0 itself on some kernels; create it if missing so bridge networking works.
if ! ip link show docker0 >/dev/null 2>&1; then
  ip link add docker0 type bridge 2>/dev/null || true
  ip addr add 172.17.0.1/16 dev docker0 2>/dev/null || true
  ip link set docker0 up 2>/dev/null || true
fi

nohup dockerd --data-root "${SMBYO_DOCKERD_ROOT:-/var/lib/docker}" \
  --pidfile "$pidfile" >"$state_dir/dockerd.log" 2>&1 &

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "$pidfile"
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not become ready; see $state_dir/dockerd.log" >&2
tail -20 "$state_dir/dockerd.log" >&2 || true
exit 3
