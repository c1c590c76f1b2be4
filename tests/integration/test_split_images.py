"""image.inference on real Docker: the example builds a training image and a serve-only inference image in
one `smbyo build`, the inference image carries none of training's libraries and serves (batch transform,
the validation profile) the model the training image trained; each local command picks its role's image by
default. The example manifest splits, so ``example_image`` (tests/conftest.py) built both images once."""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from sm_byo.local.archive import safe_extract
from sm_byo.manifest import load_manifest
from sm_byo.specs.names import role_tag
from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.fixtures import CLOUD_REPOSITORY
from tests.conftest import EXAMPLE_DIR, EXAMPLE_TAG, ca_bundle, run_cli

pytestmark = pytest.mark.docker

TRAINING_LIBRARIES = ("sklearn", "scipy", "pandas")
FIND = "import importlib.util as u, json; print(json.dumps([m for m in {names!r} if u.find_spec(m)]))"


def _inference(image: str) -> str:
    return role_tag(image, "inference", load_manifest(EXAMPLE_DIR / "smbyo.yaml").manifest)


def _installed(docker_adapter, image: str) -> list[str]:  # type: ignore[no-untyped-def]
    code = FIND.format(names=TRAINING_LIBRARIES)
    output = docker_adapter.client.containers.run(image, ["python3", "-c", code], remove=True, network_mode="none")
    return list(json.loads(output))


def test_the_inference_image_has_no_training_libraries(docker_adapter, example_image: str) -> None:  # type: ignore[no-untyped-def]
    inference = _inference(example_image)
    assert inference == example_image + "-inference"
    assert _installed(docker_adapter, inference) == []
    assert _installed(docker_adapter, example_image) == list(TRAINING_LIBRARIES)
    labels = {tag: docker_adapter.inspect_image(tag)["Config"]["Labels"] for tag in (example_image, inference)}
    assert labels[example_image]["dev.smbyo.role"] == "training"
    assert labels[inference]["dev.smbyo.role"] == "inference"


@pytest.fixture
def named_project(tmp_path: Path, docker_adapter, example_image: str) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """The example under a name of its own, its two images tagged <name>:latest and <name>:latest-inference
    (what `smbyo build` names them), so that commands run without --image pick each role's image."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE_DIR, project, symlinks=False)
    name = f"smbyo-split-{uuid.uuid4().hex[:8]}"
    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace("name: decision-trees-sample", f"name: {name}"))
    client = docker_adapter.client
    client.images.get(example_image).tag(name, "latest")
    client.images.get(_inference(example_image)).tag(name, "latest-inference")
    yield project
    for tag in (f"{name}:latest", f"{name}:latest-inference"):
        with contextlib.suppress(Exception):
            client.images.remove(tag, noprune=True)


def _json(project: Path, *args: str) -> dict:  # type: ignore[type-arg]
    result = run_cli("--json", *args, cwd=project, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return dict(json.loads(result.stdout))


def test_the_inference_image_serves_what_the_training_image_trained(named_project: Path, tmp_path: Path) -> None:
    name = load_manifest(named_project / "smbyo.yaml").manifest.name
    trained = _json(named_project, "train", "--local", "--data", "training=data/training", "--out", str(tmp_path / "t"))
    assert trained["image"] == f"{name}:latest"

    rows = named_project / "data" / "transform" / "iris.csv"
    transformed = _json(
        named_project, "transform", "--local", "--model", trained["model_artifacts"],
        "--input", str(rows), "--output", str(tmp_path / "out"),
    )  # fmt: skip
    assert transformed["image"] == f"{name}:latest-inference"
    (output,) = transformed["outputs"]
    served = Path(output).read_text().split()

    # The same tree evaluated here with the example's predictor: the inference image's answers are the model's.
    safe_extract(Path(trained["model_artifacts"]), tmp_path / "model")
    namespace: dict[str, object] = {}
    exec(compile((EXAMPLE_DIR / "predictor.py").read_text(), "predictor.py", "exec"), namespace)
    model = namespace["load_model"](str(tmp_path / "model"))  # type: ignore[operator]
    features = np.loadtxt(rows, delimiter=",", ndmin=2)
    expected = namespace["predict"](model, features, None)  # type: ignore[operator]
    assert served == [str(label) for label in expected]
    assert len(served) == len(features)


def test_validate_local_trains_with_one_image_and_serves_with_the_other(named_project: Path) -> None:
    name = load_manifest(named_project / "smbyo.yaml").manifest.name
    report = _json(named_project, "validate", "--local")
    assert report["passed"], report["checks"]
    assert (report["image"], report["inference_image"]) == (f"{name}:latest", f"{name}:latest-inference")


def test_a_manifest_without_the_split_builds_one_image(project: Path, base_image: str, docker_adapter) -> None:  # type: ignore[no-untyped-def]
    manifest = project / "smbyo.yaml"
    manifest.write_text(
        manifest.read_text().replace("  inference:\n    requirements: requirements-inference.txt\n", "")
    )
    tag = f"smbyo-test/single-image:{EXAMPLE_TAG.rsplit(':', 1)[1]}"
    bundle = ca_bundle()
    args = ["--json", "build", "-f", str(manifest), "--tag", tag, "--base-image", base_image, "--network", "host"]
    result = run_cli(*args, *(["--ca-bundle", str(bundle)] if bundle else []), timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    built = json.loads(result.stdout)
    assert built["tag"] == tag and "inference" not in built
    assert not docker_adapter.image_exists(tag + "-inference")
    assert "Step " in result.stderr and "(training image)" not in result.stderr
    labels = docker_adapter.inspect_image(tag)["Config"]["Labels"]
    assert labels["dev.smbyo.role"] == "training and inference"
    assert _installed(docker_adapter, tag) == list(TRAINING_LIBRARIES)


def test_build_reports_both_images(project: Path, base_image: str, example_image: str) -> None:
    tag = f"smbyo-test/split-check:{EXAMPLE_TAG.rsplit(':', 1)[1]}"
    bundle = ca_bundle()
    args = ["--json", "build", "-f", str(project / "smbyo.yaml"), "--tag", tag, "--base-image", base_image]
    result = run_cli(*args, "--network", "host", *(["--ca-bundle", str(bundle)] if bundle else []), timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    built = json.loads(result.stdout)
    assert (built["tag"], built["inference"]["tag"]) == (tag, tag + "-inference")
    assert f"Building {tag} (training image)" in result.stderr
    assert f"Building {tag}-inference (inference image)" in result.stderr
    # example_image warmed the cache with the same Dockerfile: the shared stages are reused, not rebuilt.
    cached = [layer["instruction"] for layer in built["inference"]["layers"] if layer["cached"]]
    assert any("runtime-requirements.txt" in instruction for instruction in cached)
    assert built["inference"]["image_id"] != built["image_id"]


@pytest.mark.registry
def test_push_sends_both_images_to_one_repository(  # type: ignore[no-untyped-def]
    cloud_project: Path, aws_env: dict[str, str], registry, example_image: str, pushed_tags: list[str], tmp_path: Path
) -> None:
    env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    result = run_cli("--json", "push", "--tag", example_image, cwd=cloud_project, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    pushed = json.loads(result.stdout)
    pushed_tags.extend([pushed["image_uri"], pushed["inference"]["image_uri"]])
    tag = example_image.rsplit(":", 1)[1]
    assert pushed["image_uri"] == f"{registry.host}/{CLOUD_REPOSITORY}:{tag}"
    assert pushed["inference"] == {
        "image_uri": f"{registry.host}/{CLOUD_REPOSITORY}:{tag}-inference",
        "digest": pushed["inference"]["digest"],
        "source": f"{example_image}-inference",
    }
    assert pushed["inference"]["digest"].startswith("sha256:") and pushed["inference"]["digest"] != pushed["digest"]
    listed = requests.get(
        f"http://{registry.host}/v2/{CLOUD_REPOSITORY}/tags/list",
        auth=(registry.username, registry.password),
        timeout=10,
    ).json()
    assert {tag, f"{tag}-inference"} <= set(listed["tags"])
