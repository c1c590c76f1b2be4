"""The README's two commands, read from README.md itself, typed into a fresh Debian 12 and 13 machine.

The first command (install, then the demo: build, train, serve, invoke, transform) runs in full. The
second is the test command itself, so it runs with its pytest arguments limited to the unit tests
(it must not recurse into this test): that is also how CI runs the unit suite on each distribution's
own ``python3`` (3.11.2 on Debian 12, the oldest Python smbyo supports; 3.13 on Debian 13).
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.fresh_machine import SUITES, fresh_machine, readme_commands
from tests.integration.local_helpers import free_port

pytestmark = pytest.mark.docker
DEMO_IMAGE = "decision-trees-sample:latest"  # what the demo's `smbyo build` tags


def test_the_readme_has_two_commands_a_newcomer_can_copy() -> None:
    commands = readme_commands()
    assert len(commands) == 2, commands
    install_and_demo, tests = commands
    assert "scripts/demo.sh" in install_and_demo and "scripts/test.sh" in tests
    assert "pip install" not in install_and_demo  # PEP 668: the system Python refuses it


@pytest.fixture
def demo_image_removed_afterwards(docker_adapter) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The demo builds its image on this (shared) Engine: remove it afterwards unless it was already there."""
    client = docker.from_env()
    existed = bool(client.images.list(name=DEMO_IMAGE))
    yield
    if not existed:
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(DEMO_IMAGE, force=True)


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_readme_commands_work_as_written_on_a_fresh_debian(
    suite: str, base_image: str, tmp_path: Path, demo_image_removed_afterwards: None
) -> None:
    install_and_demo, tests = readme_commands()
    work = tmp_path / "machine"
    work.mkdir()
    try:
        with fresh_machine(suite, work, env={"SMBYO_DEMO_PORT": str(free_port())}) as machine:
            system_python = machine.run("python3 -V").output.strip()
            assert machine.run("command -v smbyo").exit_code != 0  # nothing of smbyo's is installed yet

            demo = machine.run(install_and_demo)
            assert demo.exit_code == 0, f"{SUITES[suite]}: `{install_and_demo}` failed:\n{demo.tail()}"
            assert "==> done: the example trained, served, answered and batch-transformed locally" in demo.output
            # the README says how to run smbyo afterwards: it must be true
            after = machine.run("source .venv/bin/activate && smbyo --version")
            assert after.exit_code == 0 and after.output.startswith("smbyo "), after.output
            assert machine.run(".venv/bin/python -V").output.strip() == system_python  # Debian's own python3

            unit = machine.run(f"{tests} tests/unit")
            assert unit.exit_code == 0, f"{SUITES[suite]}: `{tests} tests/unit` failed:\n{unit.tail()}"
            summary = re.search(r"(\d+) passed", unit.output)
            assert summary and int(summary.group(1)) > 100, unit.tail()
            assert " failed" not in unit.output.splitlines()[-1]
    finally:
        shutil.rmtree(work, ignore_errors=True)
