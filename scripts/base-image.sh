#!/usr/bin/env bash
# Build a minimal Debian bookworm base image locally (no registry is reachable on CI machines)
# and import it as $SMBYO_TEST_BASE_IMAGE (default smbyo-test/debian:bookworm). Cached by tag.
set -euo pipefail
tag=${SMBYO_TEST_BASE_IMAGE:-smbyo-test/debian:bookworm}
if docker image inspect "$tag" >/dev/null 2>&1; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/rootfs.tar" \
  http://deb.debian.org/debian >"$work/mmdebstrap.log" 2>&1 || { cat "$work/mmdebstrap.log" >&2; exit 1; }
docker import "$work/rootfs.tar" "$tag" >/dev/null
echo "imported $tag"
