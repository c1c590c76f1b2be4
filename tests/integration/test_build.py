"""`smbyo build` against a real Docker Engine: the image trains, serves, caches and fails clearly."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import EXAMPLE_TAG, ca_bundle, run_cli

pytestmark = pytest.mark.docker


def _tag(name: str) -> str:
    """An image tag of this test run's own (SMBYO_TEST_IMAGE's tag), so parallel checkouts do not collide."""
    return f"smbyo-test/{name}:{EXAMPLE_TAG.rsplit(':', 1)[1]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _build_args(project: Path, base_image: str, tag: str) -> list[str]:
    args = ["--json", "build", "-f", str(project / "smbyo.yaml"), "--tag", tag, "--base-image", base_image]
    bundle = ca_bundle()
    return [*args, "--network", "host", *(["--ca-bundle", str(bundle)] if bundle else [])]


@pytest.fixture
def ml_dir(tmp_path: Path) -> Path:
    """An /opt/ml tree with the example's training data, as SageMaker lays it out."""
    root = tmp_path / "ml"
    config = root / "input" / "config"
    config.mkdir(parents=True)
    data = root / "input" / "data" / "training"
    data.mkdir(parents=True)
    source = Path(__file__).resolve().parents[2] / "algorithms" / "decision_trees" / "data" / "training" / "iris.csv"
    (data / "iris.csv").write_bytes(source.read_bytes())
    (config / "hyperparameters.json").write_text(json.dumps({"max_leaf_nodes": "8"}))
    (config / "inputdataconfig.json").write_text(json.dumps({"training": {"TrainingInputMode": "File"}}))
    return root


@pytest.fixture
def container_names(docker_adapter) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(Exception):
            docker_adapter.client.containers.get(name).remove(force=True)


def test_image_trains_then_serves_ping(docker_adapter, example_image: str, ml_dir: Path, container_names) -> None:  # type: ignore[no-untyped-def]
    client = docker_adapter.client
    logs = client.containers.run(example_image, ["train"], volumes={str(ml_dir): {"bind": "/opt/ml"}}, remove=True)
    assert b"validation-accuracy: " in logs
    assert (ml_dir / "model" / "model.npz").is_file()

    port = _free_port()
    name = f"smbyo-test-serve-{port}"
    container_names.append(name)
    client.containers.run(
        example_image,
        ["serve"],
        name=name,
        detach=True,
        ports={"8080/tcp": ("127.0.0.1", port)},
        volumes={str(ml_dir / "model"): {"bind": "/opt/ml/model", "mode": "ro"}},
    )
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        try:
            status = requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code
            if status == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    assert status == 200
    users = {row[1] for row in client.containers.get(name).top(ps_args="-o pid,user")["Processes"]}
    assert "root" not in users, f"serving processes run as {users}"


def test_code_only_change_reuses_dependency_layers(project: Path, base_image: str, example_image: str) -> None:
    # example_image already warmed the cache with the same requirements: this build is all cache hits.
    tag = _tag("cache-check")
    first = run_cli(*_build_args(project, base_image, tag))
    assert first.returncode == 0, first.stderr
    # unique per run: an identical change built by an earlier run would come from the layer cache
    change = f"\n# a code-only change {uuid.uuid4()}\n"
    (project / "predictor.py").write_text((project / "predictor.py").read_text() + change)

    second = run_cli(*_build_args(project, base_image, tag))
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)  # --json: stdout is exactly one JSON document
    rebuilt = [layer["instruction"] for layer in result["layers"] if not layer["cached"]]
    cached = [layer["instruction"] for layer in result["layers"] if layer["cached"]]
    assert any("pip install" in instruction for instruction in cached)
    assert not any("pip install" in instruction or "apt-get" in instruction for instruction in rebuilt)
    assert any(instruction.startswith("COPY code/") for instruction in rebuilt)
    assert "Step " in second.stderr  # progress went to stderr


def test_failed_step_shows_the_instruction_and_its_output(project: Path, base_image: str) -> None:
    (project / "requirements.txt").write_text("this-package-does-not-exist-smbyo==0.0.1\n")
    result = run_cli(*_build_args(project, base_image, _tag("broken")))
    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert error["error"] == "BuildFailed"
    assert "pip install --no-compile -r /tmp/smbyo/requirements.txt" in error["message"]
    assert "this-package-does-not-exist-smbyo" in error["message"]


def test_unreachable_docker_exits_3_with_how_to_start_it(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "algorithms" / "decision_trees" / "smbyo.yaml"
    result = run_cli("build", "-f", str(example), env={"DOCKER_HOST": f"unix://{tmp_path}/dead.sock"})
    assert result.returncode == 3
    assert "Docker is not reachable" in result.stderr
    assert "Start Docker" in result.stderr
    assert "Traceback" not in result.stderr


def test_builds_on_a_base_image_that_already_has_python(docker_adapter, base_image: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The default users get (python:*-slim) has Python; the Dockerfile must use it, not install another."""
    python_base = "smbyo-test/debian-python:bookworm"
    if not docker_adapter.image_exists(python_base):
        (tmp_path / "base").mkdir()
        (tmp_path / "base" / "Dockerfile").write_text(
            f"FROM {base_image}\nRUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv"
            " && rm -rf /var/lib/apt/lists/*\n"
        )
        docker_adapter.client.images.build(path=str(tmp_path / "base"), tag=python_base, network_mode="host", rm=True)
    example = Path(__file__).resolve().parents[2] / "algorithms" / "decision_trees"
    result = run_cli(*_build_args(example, python_base, _tag("on-python-base")))
    assert result.returncode == 0, result.stderr
    python = docker_adapter.client.containers.run(
        _tag("on-python-base"), ["python", "-c", "import sys, sklearn; print(sys.base_prefix)"], remove=True
    )
    assert python.strip() == b"/usr"


def test_label_values_reach_the_image_exactly_and_run_nothing(  # type: ignore[no-untyped-def]
    docker_adapter, project: Path, base_image: str, example_image: str
) -> None:
    """A description full of Dockerfile and shell syntax is the image's label, byte for byte (and the build
    runs none of it): the LABEL value is escaped, not just passed through."""
    from sm_byo.build import build_image
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    description = 'a "quoted" \\ back\\slash ${HOME} $PATH $(touch /pwned) `id` \' && echo; # RUN id \\ ünï \u2028 end'
    manifest = project / "smbyo.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "description: Decision trees using scikit-learn (Iris CSV, label in column 0)",
            f"description: {json.dumps(description, ensure_ascii=False)}",
        )
    )
    loaded = load_manifest(manifest)
    tag = _tag("labels")
    try:
        result = build_image(
            loaded, RecordingReporter(), tag=tag, base_image=base_image, network="host", ca_bundle=ca_bundle(),
            docker=docker_adapter,
        )  # fmt: skip
        for image in (tag, f"{tag}-inference"):  # the example builds image.inference's image too
            labels = docker_adapter.inspect_image(image)["Config"]["Labels"]
            assert labels["org.opencontainers.image.description"] == loaded.manifest.description
            assert labels["org.opencontainers.image.title"] == "decision-trees-sample"
            listing = docker_adapter.client.containers.run(image, ["ls", "/"], remove=True)
            assert b"pwned" not in listing
        # One LABEL per final image: the training target's build passes the inference stages on its way.
        instructions = [layer["instruction"] for layer in result.layers]
        assert sum(instruction.startswith("LABEL") for instruction in instructions) == 2
    finally:
        for image in (tag, f"{tag}-inference"):
            docker_adapter.remove_image(image)


def test_each_image_is_built_for_the_platform_its_instance_types_need(
    project: Path, base_image: str, example_image: str
) -> None:
    """The example's instance types are x86 (ml.m5/ml.c5): both images are requested and built as linux/amd64.

    The build requests are read off the Docker Engine API traffic itself (a ``requests`` response hook on
    docker-py's session), so the test sees what smbyo asked the engine for, not what smbyo says it asked."""
    import docker

    from sm_byo.build import build_image
    from sm_byo.docker import DockerAdapter
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    client = docker.from_env(timeout=300)
    build_queries: list[str] = []
    client.api.hooks["response"].append(
        lambda response, *args, **kwargs: build_queries.append(response.url) if "/build?" in response.url else None
    )
    tag = _tag("platform-check")
    try:
        result = build_image(
            load_manifest(project / "smbyo.yaml"), RecordingReporter(), tag=tag, base_image=base_image,
            network="host", ca_bundle=ca_bundle(), docker=DockerAdapter(client),
        )  # fmt: skip
        assert len(build_queries) == 2  # the training image, then the inference image
        assert all("platform=linux%2Famd64" in query for query in build_queries), build_queries
        assert result.platform == "linux/amd64" and result.inference is not None
        assert result.inference.platform == "linux/amd64"
        for built in (tag, result.inference.tag):
            assert client.api.inspect_image(built)["Architecture"] == "amd64"
    finally:
        for built in (tag, f"{tag}-inference"):
            with contextlib.suppress(Exception):
                client.images.remove(built)
        client.close()
