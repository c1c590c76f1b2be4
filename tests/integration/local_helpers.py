"""Shared by the local-runner integration tests: the example trained ONCE per test run.

Training goes through the CLI (``smbyo --json train --local``), as a user runs it; the JSON result
and the output directory are cached for every module that needs a model.
"""

from __future__ import annotations

import atexit
import json
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import docker

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
        return [
            c.name for c in client.containers.list(all=True, filters=filters) if c.name.startswith(CONTAINER_PREFIX)
        ]
    finally:
        client.close()
