#!/usr/bin/env bash
# Build a minimal Debian base image locally (no registry is reachable on CI machines) with mmdebstrap
# and `docker import` it. Cached by tag: an existing image is kept as it is.
#
#   scripts/base-image.sh                        # $SMBYO_TEST_BASE_IMAGE (default smbyo-test/debian:bookworm)
#   scripts/base-image.sh TAG SUITE [PACKAGES]   # e.g. smbyo-test/fresh:trixie trixie python3,python3-venv
#
# PACKAGES (comma-separated) are added to the minbase variant; ca-certificates is always included.
# SMBYO_BASE_CA_BUNDLE=PEM replaces the image's CA bundle with PEM: a machine on a network whose TLS
# is intercepted by a proxy trusts the proxy's CA, and so must a container that stands in for it.
set -euo pipefail
tag=${1:-${SMBYO_TEST_BASE_IMAGE:-smbyo-test/debian:bookworm}}
suite=${2:-bookworm}
packages=ca-certificates${3:+,$3}
ca=${SMBYO_BASE_CA_BUNDLE:-}
if docker image inspect "$tag" >/dev/null 2>&1; then
  exit 0
fi
hooks=()
if [ -n "$ca" ]; then
  [ -f "$ca" ] || { echo "SMBYO_BASE_CA_BUNDLE=$ca: no such file" >&2; exit 2; }
  hooks+=(--customize-hook="upload $ca /etc/ssl/certs/ca-certificates.crt")
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mmdebstrap --quiet --variant=minbase --include="$packages" "${hooks[@]}" "$suite" "$work/rootfs.tar" \
  http://deb.debian.org/debian >"$work/mmdebstrap.log" 2>&1 || { cat "$work/mmdebstrap.log" >&2; exit 1; }
docker import "$work/rootfs.tar" "$tag" >/dev/null
echo "imported $tag"
