"""image.inference: a training image and a serve-only inference image from one manifest. The pure parts:
the tag each role uses, the manifest's checks, the rendered Dockerfile and the publish requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sm_byo.errors import ManifestError
from sm_byo.manifest import load_manifest
from sm_byo.render import render_context
from sm_byo.specs.names import local_image_tag, role_tag
from tests.conftest import EXAMPLE_DIR, run_cli
from tests.unit.cloud.test_training_checks import OFFLINE

SPLIT_LINES = "  inference:\n    requirements: requirements-inference.txt\n"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees-sample"


def _single(project: Path) -> Path:
    """The example project without image.inference: one image, as before the split existed."""
    manifest = project / "smbyo.yaml"
    text = manifest.read_text()
    assert SPLIT_LINES in text
    manifest.write_text(text.replace(SPLIT_LINES, ""))
    return manifest


def test_each_role_has_its_tag_only_when_the_manifest_splits(project: Path) -> None:
    split = load_manifest(EXAMPLE_DIR / "smbyo.yaml").manifest
    single = load_manifest(_single(project)).manifest
    assert local_image_tag(split, "training") == "decision-trees-sample:latest"
    assert local_image_tag(split, "inference") == "decision-trees-sample:latest-inference"
    assert local_image_tag(single, "inference") == local_image_tag(single) == "decision-trees-sample:latest"
    assert role_tag("localhost:5000/team/algo:v2", "inference", split) == "localhost:5000/team/algo:v2-inference"
    assert role_tag("localhost:5000/algo", "inference", split) == "localhost:5000/algo:latest-inference"


def test_a_missing_inference_requirements_file_names_its_line(project: Path) -> None:
    (project / "requirements-inference.txt").unlink()
    with pytest.raises(ManifestError) as caught:
        load_manifest(project / "smbyo.yaml")
    (message,) = [str(problem) for problem in caught.value.problems]
    line = (project / "smbyo.yaml").read_text().splitlines().index("    requirements: requirements-inference.txt") + 1
    assert f"smbyo.yaml:{line} image.inference.requirements: 'requirements-inference.txt' not found" in message


def test_inference_without_requirements_or_with_an_unknown_key_is_refused(project: Path) -> None:
    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace(SPLIT_LINES, "  inference:\n    packages: [curl]\n"))
    with pytest.raises(ManifestError) as caught:
        load_manifest(manifest)
    found = "\n".join(str(problem) for problem in caught.value.problems)
    assert "image.inference.packages: unknown key" in found
    assert "image.inference.requirements:" in found


def test_the_dockerfile_forks_after_the_shared_stages(tmp_path: Path) -> None:
    render_context(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), tmp_path / "build", base_image="debian:bookworm")
    dockerfile = (tmp_path / "build" / "Dockerfile").read_text()
    stages = [line.split()[-1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert stages == ["base", "builder", "inference-venv", "inference", "training-venv", "training"]
    inference = dockerfile[
        dockerfile.index("FROM base AS inference") : dockerfile.index("FROM builder AS training-venv")
    ]
    assert "COPY --from=inference-venv /opt/venv /opt/venv" in inference
    assert "runtime-requirements.txt" in dockerfile[: dockerfile.index("FROM builder AS inference-venv")]
    assert (tmp_path / "build" / "requirements-inference.txt").read_text() == (
        EXAMPLE_DIR / "requirements-inference.txt"
    ).read_text()


def test_system_packages_go_to_the_image_of_their_role(project: Path, tmp_path: Path) -> None:
    manifest = project / "smbyo.yaml"
    text = manifest.read_text().replace(
        SPLIT_LINES, "  system_packages: [libgomp1]\n  inference:\n    requirements: requirements-inference.txt\n"
        "    system_packages: [libopenblas0]\n",
    )  # fmt: skip
    manifest.write_text(text)
    render_context(load_manifest(manifest), tmp_path / "build")
    dockerfile = (tmp_path / "build" / "Dockerfile").read_text()
    shared, inference = dockerfile.split("FROM base AS inference")
    inference, training = inference.split("FROM builder AS training-venv")
    assert "libgomp1" not in shared and "libopenblas0" not in shared
    assert "libopenblas0" in inference and "libgomp1" not in inference
    assert "libgomp1" in training and "libopenblas0" not in training


def test_without_the_split_the_dockerfile_has_one_final_image(project: Path, tmp_path: Path) -> None:
    manifest = _single(project)
    manifest.write_text(manifest.read_text().replace("image:\n", "image:\n  system_packages: [libgomp1]\n"))
    render_context(load_manifest(manifest), tmp_path / "build")
    dockerfile = (tmp_path / "build" / "Dockerfile").read_text()
    assert "inference" not in [line.split()[-1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert "libgomp1" in dockerfile[: dockerfile.index("FROM base AS builder")]  # in the system layer, as before
    assert not (tmp_path / "build" / "requirements-inference.txt").exists()


def _planned(project: Path, *args: str) -> dict[str, Any]:
    result = run_cli("--json", "publish", *args, "--dry-run", cwd=project, env=OFFLINE)
    assert result.returncode == 0, result.stderr
    (request,) = [step["kwargs"] for step in json.loads(result.stdout)["plan"] if "operation" in step and
                  step["operation"].startswith("Create")]  # fmt: skip
    return dict(request)


def test_publish_algorithm_registers_each_role_s_image(project: Path) -> None:
    request = _planned(project, "algorithm")
    assert request["TrainingSpecification"]["TrainingImage"] == f"{ECR}:latest"
    assert [c["Image"] for c in request["InferenceSpecification"]["Containers"]] == [f"{ECR}:latest-inference"]


def test_publish_model_package_registers_the_inference_image(project: Path) -> None:
    request = _planned(project, "model-package", "--model-data", "s3://my-bucket/model.tar.gz")
    assert [c["Image"] for c in request["InferenceSpecification"]["Containers"]] == [f"{ECR}:latest-inference"]


def test_without_the_split_one_image_is_registered_in_both_roles(project: Path) -> None:
    _single(project)
    request = _planned(project, "algorithm")
    assert request["TrainingSpecification"]["TrainingImage"] == f"{ECR}:latest"
    assert [c["Image"] for c in request["InferenceSpecification"]["Containers"]] == [f"{ECR}:latest"]


def test_image_stands_for_every_role(project: Path) -> None:
    image = f"{ECR}:v7"
    request = _planned(project, "algorithm", "--image", image)
    assert request["TrainingSpecification"]["TrainingImage"] == image
    assert [c["Image"] for c in request["InferenceSpecification"]["Containers"]] == [image]


def test_cloud_transform_and_deploy_plans_use_the_inference_image(project: Path) -> None:
    model = "s3://my-bucket/model.tar.gz"
    for args in (
        ("deploy", "--model", model),
        ("transform", "--model", model, "--input", "s3://my-bucket/in/", "--output", "s3://my-bucket/out/"),
    ):
        result = run_cli("--json", *args, "--dry-run", cwd=project, env=OFFLINE)
        assert result.returncode == 0, result.stderr
        (model_request,) = [
            s["kwargs"] for s in json.loads(result.stdout)["plan"] if s.get("operation") == "CreateModel"
        ]
        assert model_request["PrimaryContainer"]["Image"] == f"{ECR}:latest-inference", args
    result = run_cli(
        "--json", "train", "--data", "training=s3://my-bucket/train/", "--dry-run", cwd=project, env=OFFLINE
    )
    assert result.returncode == 0, result.stderr
    (training,) = [s["kwargs"] for s in json.loads(result.stdout)["plan"] if s.get("operation") == "CreateTrainingJob"]
    assert training["AlgorithmSpecification"]["TrainingImage"] == f"{ECR}:latest"
