"""A fresh Debian machine in a container, for running the README's commands as a newcomer types them.

Containers here cannot be privileged (no Docker-in-Docker), so the "machine" is a container of a bare
Debian base built with mmdebstrap (``scripts/base-image.sh``) that has only what the README assumes:
Debian's ``python3``, ``python3-pip``, ``python3-venv``, ``curl`` and ``git``. It reaches this
machine's Docker Engine through the socket, and the work directory is bind-mounted at the *same*
path (with ``TMPDIR`` inside it), so the containers smbyo starts from inside see the same files.

One concession to this network: PyPI is reached through a TLS-intercepting proxy, so the image's
CA bundle is this machine's (``SMBYO_BASE_CA_BUNDLE``), as on any machine of such a network.

Used by ``tests/integration/test_fresh_machine.py`` and ``benchmarks/fresh_machine.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
PACKAGES = "python3,python3-pip,python3-venv,curl,git"
SUITES = {"bookworm": "Debian 12", "trixie": "Debian 13"}
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
SOCKET = "/var/run/docker.sock"


def readme_commands(readme: Path = README) -> list[str]:
    """The commands of the first ```bash block under "## First hour", comments and blank lines dropped."""
    text = readme.read_text()
    section = text.split("## First hour", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def fresh_image(suite: str) -> str:
    """``smbyo-test/fresh:SUITE``, built once and cached by tag."""
    tag = f"smbyo-test/fresh:{suite}"
    env = dict(os.environ)
    if HOST_CA.is_file():
        env["SMBYO_BASE_CA_BUNDLE"] = str(HOST_CA)
    subprocess.run(
        [str(REPO / "scripts" / "base-image.sh"), tag, suite, PACKAGES], check=True, env=env, capture_output=True
    )
    return tag


def copy_checkout(destination: Path) -> Path:
    """What a clone of this checkout holds (tracked and new, not ignored, files), links kept as links."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        relative = Path(os.fsdecode(raw))
        source = REPO / relative
        if not source.is_symlink() and not source.exists():  # deleted in the working tree, not yet committed
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


@dataclass(frozen=True)
class Run:
    command: str
    exit_code: int
    output: str
    seconds: float

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


class FreshMachine:
    """A running container of a fresh image; ``run`` types one command in a root login shell."""

    def __init__(self, container: Any, workdir: Path, env: dict[str, str]):
        self.container = container
        self.workdir = workdir
        self.env = env

    def run(self, command: str) -> Run:
        started = time.monotonic()
        exit_code, output = self.container.exec_run(
            ["bash", "-lc", command], workdir=str(self.workdir), environment=self.env, demux=False
        )
        return Run(command, exit_code, (output or b"").decode(errors="replace"), time.monotonic() - started)


def docker_socket() -> str:
    """The host path of the Engine's socket (DOCKER_HOST may point elsewhere than the default)."""
    host = os.environ.get("DOCKER_HOST", "")
    return host.removeprefix("unix://") if host.startswith("unix://") else SOCKET


@contextmanager
def fresh_machine(suite: str, work: Path, *, env: dict[str, str] | None = None) -> Iterator[FreshMachine]:
    """A fresh ``suite`` machine holding a copy of this checkout at ``work/repo`` (same path on both sides)."""
    image = fresh_image(suite)
    work = work.resolve()
    repo = copy_checkout(work / "repo")
    (work / "tmp").mkdir(exist_ok=True)
    client = docker.from_env()
    container = client.containers.run(
        image,
        ["sleep", "infinity"],
        detach=True,
        network_mode="host",
        volumes={str(work): {"bind": str(work), "mode": "rw"}, docker_socket(): {"bind": SOCKET, "mode": "rw"}},
        labels={"dev.smbyo.test": "fresh-machine"},
        init=True,
    )
    try:
        yield FreshMachine(container, repo, {"TMPDIR": str(work / "tmp"), **(env or {})})
    finally:
        container.remove(force=True)
