#!/usr/bin/env bash
# Install smbyo from this checkout into the project's own virtual environment, .venv/.
#
# Why a venv: Debian 12+ and Ubuntu 23.04+ mark the system Python "externally managed" (PEP 668), so
# `pip install .` into it fails; a venv is the ecosystem's answer and needs no flag or workaround.
# On a fresh Debian/Ubuntu machine (as root) this installs python3-venv when the venv module is missing.
#
#   bash scripts/install.sh          # smbyo itself
#   bash scripts/install.sh test     # smbyo with its test extra (what scripts/test.sh uses)
#
# Afterwards: `source .venv/bin/activate` puts `smbyo` on PATH, or call `.venv/bin/smbyo` directly.
# SMBYO_VENV=DIR picks another location for the venv.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${SMBYO_VENV:-$repo/.venv}
extras=${1:-}

# The oldest Python CI runs (Debian 12's python3); pyproject.toml's requires-python says the same.
min_major=3 min_minor=11

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "smbyo needs the Debian/Ubuntu package(s) $*: run \`sudo apt-get install -y $*\`, then this script again" >&2
    exit 3
  fi
  echo "==> installing $* (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
if ! python3 -c "import sys; sys.exit(sys.version_info < ($min_major, $min_minor))"; then
  echo "smbyo needs Python >= $min_major.$min_minor; python3 is $(python3 -V 2>&1)" >&2
  exit 3
fi
# Debian ships `venv` without `ensurepip` (package python3-venv): `python3 -m venv` then fails half-way.
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || apt_install python3-venv

# A venv left behind by a Python that no longer exists (an upgrade, another machine) cannot be reused.
if [ -e "$venv" ] && ! "$venv/bin/python" -c "import sys" >/dev/null 2>&1; then
  echo "$venv exists but its python does not run (made by another Python?): remove it and run this again" >&2
  exit 3
fi
if [ ! -e "$venv/bin/python" ]; then
  echo "==> creating the virtual environment $venv"
  python3 -m venv "$venv"
fi

target="$repo"
[ -n "$extras" ] && target="$repo[$extras]"
echo "==> installing smbyo${extras:+ with its $extras extra} into $venv"
# Editable: a change to the checkout is what `smbyo` runs, with no reinstall.
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$target"
"$venv/bin/smbyo" --version | sed -n 1p  # sed reads it all: no SIGPIPE under pipefail
