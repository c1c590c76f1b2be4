"""Shared by the local-runner integration tests: the example trained ONCE per test run.

Training goes through the CLI (``smbyo --json train --local``), as a user runs it; the JSON result
and the output directory are cached for every module that needs a model.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import docker
import pytest
import requests

from tests.conftest import EXAMPLE_DIR, run_cli

_CACHE: dict[str, dict[str, Any]] = {}
CONTAINER_PREFIX = "smbyo-local-"


def trained_example(image: str) -> dict[str, Any]:
    """The --json result of training the example on the Iris data (``model_artifacts`` is the model.tar.gz path)."""
    if image not in _CACHE:
        out = Path(tempfile.mkdtemp(prefix="smbyo-local-test-model-"))
        atexit.register(shutil.rmtree, out, True)
        result = run_cli(
            "--json",
            "train",
            "--local",
            "--image",
            image,
            "--data",
            "training=data/training",
            "--out",
            str(out),
            cwd=EXAMPLE_DIR,
        )
        assert result.returncode == 0, result.stderr
        _CACHE[image] = {**json.loads(result.stdout), "stderr": result.stderr, "out": str(out)}
    return _CACHE[image]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_containers(**labels: str) -> list[str]:
    """Names of containers (running or not) the local runner created, filtered by its labels."""
    client = docker.from_env()
    filters = {"label": ["dev.smbyo"] + [f"{key}={value}" for key, value in labels.items()]}
    try:
        # The low-level listing, not containers.list(): that inspects each container after listing it, and a
        # container removed in between (what these tests wait for) would raise NotFound.
        listed = client.api.containers(all=True, filters=filters)
        names = [name.lstrip("/") for item in listed for name in item["Names"]]
        return [name for name in names if name.startswith(CONTAINER_PREFIX)]
    finally:
        client.close()


def local_networks(**labels: str) -> list[str]:
    """Names of the networks smbyo created (serving containers' own, under network isolation), by label."""
    client = docker.from_env()
    filters = {"label": ["dev.smbyo"] + [f"{key}={value}" for key, value in labels.items()]}
    try:
        return [str(network["Name"]) for network in client.api.networks(filters=filters)]
    finally:
        client.close()


def wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path | None = None, timeout: float = 120) -> None:
    """Until ``smbyo serve``'s /ping answers 200 on the host (fails if smbyo exits first, with ``log``'s text)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"smbyo serve exited before the server was healthy: {_text(log)}"
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url}/ping never answered 200: {_text(log)}")


def _text(log: Path | None) -> str:
    return log.read_text() if log is not None else "(see its stderr)"


@dataclass
class Signalled:
    """How an smbyo subprocess that got a stop signal ended, and what it printed."""

    returncode: int
    stdout: str
    stderr: str
    match: re.Match[str]


def stop_with_signal(
    args: list[str],
    *,
    cwd: Path,
    tmpdir: Path,
    ready: str,
    signals: list[int],
    when: Callable[[re.Match[str]], bool] | None = None,
    between: str | None = None,
    ignore_sigint: bool = False,
    timeout: float = 120,
) -> Signalled:
    """Run ``smbyo ARGS`` (TMPDIR=``tmpdir``), wait for a stderr line matching ``ready`` and for ``when(match)``,
    then send ``signals`` in order (after the first, wait for a stderr line matching ``between`` first).

    ``ignore_sigint`` starts it as a shell without job control starts a background command: SIGINT ignored."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sm_byo", *args],
        cwd=cwd,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
    )
    lines: list[str] = []
    try:
        assert process.stderr is not None
        match = _read_until(process.stderr, ready, lines)
        assert match, f"smbyo never printed {ready!r}:\n{''.join(lines)}"
        deadline = time.monotonic() + timeout
        while when is not None and not when(match):
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        process.send_signal(signals[0])
        for signum in signals[1:]:
            if between:
                assert _read_until(process.stderr, between, lines), "".join(lines)
            process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Signalled(process.returncode, stdout, "".join(lines) + stderr, match)


def _read_until(stream: IO[str], pattern: str, lines: list[str]) -> re.Match[str] | None:
    for line in stream:
        lines.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    return None


def smbyo_temp_dirs(tmpdir: Path) -> list[str]:
    """What smbyo's temporary trees left under ``tmpdir`` (smbyo-local-*, smbyo-validate-*)."""
    return sorted(path.name for path in tmpdir.glob("smbyo-*"))
