"""Shared fixtures: a real Docker Engine, the locally built base image, the example image (built once).

Docker-backed tests skip with a reason when no daemon is reachable, except in CI (``CI`` set),
where a missing daemon is a failure: CI must never go green by skipping the real parts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = REPO / "algorithms" / "decision_trees"
BASE_IMAGE = os.environ.get("SMBYO_TEST_BASE_IMAGE", "smbyo-test/debian:bookworm")
EXAMPLE_TAG = os.environ.get("SMBYO_TEST_IMAGE", "smbyo-test/decision-trees:latest")
PROBE_TAG = EXAMPLE_TAG.rsplit(":", 1)[0] + "-probe:" + EXAMPLE_TAG.rsplit(":", 1)[1]
CHECKPOINTING_TAG = EXAMPLE_TAG.rsplit(":", 1)[0] + "-checkpointing:" + EXAMPLE_TAG.rsplit(":", 1)[1]
CALLING_TAG = EXAMPLE_TAG.rsplit(":", 1)[0] + "-calling:" + EXAMPLE_TAG.rsplit(":", 1)[1]
DEFAULT_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: Docker-backed tests must run, not skip)")
    pytest.skip(reason)


def ca_bundle() -> Path | None:
    """The CA the build's pip needs behind this machine's TLS-intercepting proxy (if any)."""
    configured = os.environ.get("SMBYO_TEST_CA_BUNDLE")
    if configured:
        return Path(configured)
    return DEFAULT_CA if DEFAULT_CA.is_file() else None


@pytest.fixture(scope="session")
def docker_adapter():  # type: ignore[no-untyped-def]
    from sm_byo.docker import connect
    from sm_byo.errors import DockerUnavailable

    try:
        return connect()
    except DockerUnavailable as exc:
        _unavailable(f"no Docker Engine reachable: {exc.message}")


@pytest.fixture(scope="session")
def base_image(docker_adapter) -> str:  # type: ignore[no-untyped-def]
    if not docker_adapter.image_exists(BASE_IMAGE):
        result = subprocess.run([str(REPO / "scripts" / "base-image.sh")], capture_output=True, text=True)
        if result.returncode != 0:
            _unavailable(f"base image {BASE_IMAGE} missing and scripts/base-image.sh failed: {result.stderr[-500:]}")
    return BASE_IMAGE


@pytest.fixture(scope="session")
def example_image(docker_adapter, base_image: str) -> str:  # type: ignore[no-untyped-def]
    """The example algorithm's image, built once per run (layer cache makes reruns take seconds)."""
    from sm_byo.build import build_image
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    build_image(
        load_manifest(EXAMPLE_DIR / "smbyo.yaml"),
        RecordingReporter(),
        tag=EXAMPLE_TAG,
        base_image=base_image,
        network="host",
        ca_bundle=ca_bundle(),
        docker=docker_adapter,
    )
    return EXAMPLE_TAG


def _example_with_training_code(  # type: ignore[no-untyped-def]
    docker_adapter, base_image: str, project: Path, script: str, tag: str, replaces: str = "train.py"
) -> str:
    """Build the example image with tests/probe/<script> as its ``replaces`` (train.py), tagged ``tag``."""
    import shutil

    from sm_byo.build import build_image
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    shutil.copytree(EXAMPLE_DIR, project, symlinks=False)
    shutil.copy(REPO / "tests" / "probe" / script, project / replaces)
    build_image(
        load_manifest(project / "smbyo.yaml"),
        RecordingReporter(),
        tag=tag,
        base_image=base_image,
        network="host",
        ca_bundle=ca_bundle(),
        docker=docker_adapter,
    )
    return tag


@pytest.fixture(scope="session")
def probe_image(docker_adapter, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:  # type: ignore[no-untyped-def]
    """The example image with tests/probe/train.py as its training code (reports what it was given)."""
    project = tmp_path_factory.mktemp("probe") / "project"
    return _example_with_training_code(docker_adapter, base_image, project, "train.py", PROBE_TAG)


@pytest.fixture(scope="session")
def checkpointing_image(docker_adapter, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:  # type: ignore[no-untyped-def]
    """The example image with tests/probe/checkpointing_train.py: checkpoints each step, resumes from the latest."""
    project = tmp_path_factory.mktemp("checkpointing") / "project"
    return _example_with_training_code(docker_adapter, base_image, project, "checkpointing_train.py", CHECKPOINTING_TAG)


@pytest.fixture(scope="session")
def calling_image(docker_adapter, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:  # type: ignore[no-untyped-def]
    """The example image with tests/probe/calling_predictor.py as its predictor: it opens connections."""
    project = tmp_path_factory.mktemp("calling") / "project"
    return _example_with_training_code(
        docker_adapter, base_image, project, "calling_predictor.py", CALLING_TAG, replaces="predictor.py"
    )


def probe_report(model_archive: Path, host: str | None = None) -> dict[str, Any]:
    """probe.json from a model.tar.gz the probe image trained (``probe-<host>.json`` of a multi-host job)."""
    import json
    import tarfile

    with tarfile.open(model_archive) as tar:
        member = tar.extractfile(f"probe-{host}.json" if host else "probe.json")
        assert member is not None
        return dict(json.loads(member.read()))


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``smbyo ARGS`` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sm_byo", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=input is None,
        input=input,
        timeout=timeout,
    )


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the example project (real files, no symlinks) to mutate in a test."""
    import shutil

    target = tmp_path / "project"
    shutil.copytree(EXAMPLE_DIR, target, symlinks=False)
    yield target
