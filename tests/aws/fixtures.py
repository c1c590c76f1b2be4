"""pytest fixtures for the AWS harness. Import the ones a module uses:

from tests.aws.fixtures import aws_env, moto, registry  # noqa: F401
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sm_byo.specs.names import INFERENCE_SUFFIX
from tests.aws import registry as registry_module
from tests.aws.harness import MotoHarness, start_harness
from tests.aws.registry import Registry

ECR_USERNAME = "AWS"
CLOUD_REPOSITORY = "smbyo-cloud-decision-trees"  # the ECR repository of the cloud end-to-end suites
__all__ = ["aws_env", "cloud_project", "moto", "moto_session", "pushed_tags", "registry", "registry_session"]


# Each test module that star-imports these fixtures gets its own copy of the session fixtures, so
# the server and the registry are shared through this module: one of each per run, however many
# modules use them (a second harness would patch moto's classes a second time).
_SHARED: dict[str, Any] = {}


@contextlib.contextmanager
def _shared(key: str, start: Callable[[], Any], stop: Callable[[Any], None]) -> Iterator[Any]:
    if key not in _SHARED:
        _SHARED[key] = [start(), 0]
    _SHARED[key][1] += 1
    try:
        yield _SHARED[key][0]
    finally:
        _SHARED[key][1] -= 1
        if _SHARED[key][1] == 0:
            stop(_SHARED.pop(key)[0])


@pytest.fixture(scope="session")
def moto_session() -> Iterator[MotoHarness]:
    """One moto server (with every tests/aws/moto_*.py extension installed) for the whole run."""
    with _shared("moto", start_harness, lambda harness: harness.close()) as harness:
        yield harness


@pytest.fixture
def moto(moto_session: MotoHarness) -> Iterator[MotoHarness]:
    """The server, emptied before each test (moto state and the extensions' containers)."""
    moto_session.reset()
    yield moto_session
    moto_session.reset()


@pytest.fixture
def aws_env(moto: MotoHarness, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process and its CLI subprocesses talk to the moto server (and never to real AWS)."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in moto.env().items():
        monkeypatch.setenv(key, value)
    return moto.env()


@pytest.fixture(scope="session")
def registry_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if not registry_module.available():
        if os.environ.get("CI"):
            pytest.fail("docker-registry is not installed (CI must run the registry tests)")
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")

    def start() -> Registry:
        workdir: Path = tmp_path_factory.mktemp("smbyo-cloud-registry")
        return registry_module.start_registry(workdir, ECR_USERNAME, os.urandom(12).hex())

    with _shared("registry", start, lambda started: started.stop()) as started:
        yield started


@pytest.fixture
def registry(moto: MotoHarness, registry_session: Registry) -> Iterator[Registry]:
    """moto's ECR answers with this registry (proxyEndpoint, repositoryUri, credentials)."""
    moto.state["registry"] = registry_session
    yield registry_session
    with contextlib.suppress(KeyError):
        del moto.state["registry"]


@pytest.fixture
def cloud_project(project: Path, moto: MotoHarness, example_image: str) -> Path:
    """The example project, its ECR repository named with the cloud suites' prefix."""
    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text() + f"ecr:\n  repository: {CLOUD_REPOSITORY}\n", encoding="utf-8")
    return project


@pytest.fixture
def pushed_tags(docker_adapter: Any, registry: Registry) -> Iterator[list[str]]:
    """Tags `smbyo push` adds to the shared Docker Engine; removed afterwards, with the inference image's tag
    beside each (a manifest with ``image.inference`` pushes both)."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        for each in (tag, tag + INFERENCE_SUFFIX):
            with contextlib.suppress(Exception):  # already gone, or never pushed, is fine
                docker_adapter.client.images.remove(each, noprune=True)
