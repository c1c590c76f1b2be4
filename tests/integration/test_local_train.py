"""`smbyo train --local` on real Docker: metrics, model.tar.gz, refusals before Docker, failure reasons, Pipe mode."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sm_byo.build import build_image
from sm_byo.local.training import train_local
from sm_byo.manifest import load_manifest
from sm_byo.options import TrainCommand
from sm_byo.reporting import RecordingReporter
from sm_byo.results import TrainingResult
from tests.conftest import EXAMPLE_DIR, EXAMPLE_TAG, ca_bundle, probe_report, run_cli
from tests.integration.local_helpers import (
    Signalled,
    local_containers,
    smbyo_temp_dirs,
    stop_with_signal,
    trained_example,
)

pytestmark = pytest.mark.docker
FAILING_IMAGE = EXAMPLE_TAG.rsplit(":", 1)[0] + "-failing:" + EXAMPLE_TAG.rsplit(":", 1)[1]  # own tag per run


@pytest.fixture(scope="module")
def trained(example_image: str) -> dict[str, Any]:
    return trained_example(example_image)


def _model_arrays(archive: Path) -> dict[str, np.ndarray]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("model.npz")
        assert member is not None
        with np.load(io.BytesIO(member.read()), allow_pickle=False) as saved:
            return {name: saved[name] for name in saved.files}


def test_training_writes_model_tar_gz_and_reports_the_accuracy_metric(trained: dict[str, Any]) -> None:
    assert trained["status"] == "Completed"
    model = Path(trained["model_artifacts"])
    assert model.name == "model.tar.gz" and model.is_file() and trained["where"] == "local"
    assert set(_model_arrays(model)) >= {"children_left", "threshold", "classes"}
    assert 0.8 <= trained["metrics"]["validation:accuracy"] <= 1.0
    assert trained["metric_series"]["validation:accuracy"] == [trained["metrics"]["validation:accuracy"]]
    assert trained["hyperparameters"] == {"max_leaf_nodes": "100"}  # the manifest's default, filled on the host
    assert "validation-accuracy:" in trained["stderr"]  # the container's log streamed live
    assert not local_containers(**{"dev.smbyo.job": trained["job_name"]})  # container removed


def test_a_bad_hyperparameter_is_refused_before_docker_is_contacted(tmp_path: Path) -> None:
    # An unreachable Docker and an image that does not exist: only host-side validation can answer.
    result = run_cli(
        "train", "--local", "--image", "smbyo-local-never-built:none", "--data", "training=data/training",
        "-H", "max_leaf_nodes=1", "--out", str(tmp_path),
        cwd=EXAMPLE_DIR,
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "max_leaf_nodes" in result.stderr and "[2, 100000]" in result.stderr
    assert not (tmp_path / "model.tar.gz").exists()


def test_a_required_channel_without_data_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("train", "--local", "--out", str(tmp_path), cwd=EXAMPLE_DIR)
    assert result.returncode == 2
    assert "training" in result.stderr and "--data training=PATH" in result.stderr


@pytest.fixture
def failing_image(project: Path, docker_adapter, base_image: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    train = project / "train.py"
    train.write_text(
        train.read_text().replace(
            "    data = read_training_data(env)\n",
            "    data = read_training_data(env)\n    raise ValueError(f'labels look wrong in {len(data)} rows')\n",
        )
    )
    build_image(
        load_manifest(project / "smbyo.yaml"),
        RecordingReporter(),
        tag=FAILING_IMAGE,
        base_image=base_image,
        network="host",
        ca_bundle=ca_bundle(),
        docker=docker_adapter,
    )
    yield FAILING_IMAGE
    for image in (FAILING_IMAGE, f"{FAILING_IMAGE}-inference"):  # the example builds image.inference's too
        docker_adapter.client.images.remove(image, force=True)


def test_a_training_script_that_raises_fails_with_the_reason(failing_image: str, project: Path, tmp_path: Path) -> None:
    result = run_cli(
        "--json", "train", "--local", "--image", failing_image, "--data", "training=data/training",
        "--out", str(tmp_path), cwd=project,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "ValueError: labels look wrong in 150 rows" in result.stdout  # the failure reason, in the JSON error
    assert "labels look wrong in 150 rows" in result.stderr  # and in the streamed log
    assert not (tmp_path / "model.tar.gz").exists()


def test_a_pipe_mode_channel_trains_to_the_same_model_as_file_mode(example_image: str, tmp_path: Path) -> None:
    # Several files, so Pipe mode has to concatenate them in the order File mode reads them.
    rows = (EXAMPLE_DIR / "data" / "training" / "iris.csv").read_text().splitlines(keepends=True)
    data = tmp_path / "data"
    data.mkdir()
    for index in range(3):
        (data / f"part-{index}.csv").write_text("".join(rows[index::3]))
    loaded = load_manifest(EXAMPLE_DIR / "smbyo.yaml")
    models = {}
    for mode in ("File", "Pipe"):
        result = train_local(
            loaded,
            RecordingReporter(),
            TrainCommand(
                local=True,
                image=example_image,
                data={"training": str(data)},
                hyperparameters={"max_leaf_nodes": "6"},
                out=tmp_path / mode,
                input_mode=mode,
            ),
        )
        assert isinstance(result, TrainingResult)
        models[mode] = _model_arrays(Path(str(result.model_artifacts)))
    assert models["File"].keys() == models["Pipe"].keys()
    for name, array in models["File"].items():
        np.testing.assert_array_equal(array, models["Pipe"][name], err_msg=name)
    shutil.rmtree(data)


@pytest.fixture(scope="module")
def long_training_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough rows that training lasts a few seconds, so a signal lands while the container runs."""
    data = tmp_path_factory.mktemp("long-training")
    rows = (EXAMPLE_DIR / "data" / "training" / "iris.csv").read_text()
    (data / "big.csv").write_text(rows * 8000)
    return data


def _stop_training(
    image: str, data: Path, tmp_path: Path, signals: list[int], *, ignore_sigint: bool = False
) -> tuple[Signalled, str]:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()

    def container_up(match: re.Match[str]) -> bool:
        return bool(local_containers(**{"dev.smbyo.job": match.group(1)}))

    ended = stop_with_signal(
        ["train", "--local", "--image", image, "--data", f"training={data}", "--out", str(tmp_path / "out")],
        cwd=EXAMPLE_DIR, tmpdir=tmpdir, ready=r"Training (\S+) locally", when=container_up, signals=signals,
        between=r"Stopping smbyo-local-train-", ignore_sigint=ignore_sigint, timeout=90,
    )  # fmt: skip
    job = ended.match.group(1)
    assert local_containers(**{"dev.smbyo.job": job}) == [], "the training container was left behind"
    assert smbyo_temp_dirs(tmpdir) == [], "the job's temporary tree (config, FIFOs) was left behind"
    assert not (tmp_path / "out" / "model.tar.gz").exists()
    return ended, job


@pytest.mark.parametrize(
    ("signum", "ignore_sigint", "code", "named"),
    [
        (signal.SIGINT, False, 130, "Ctrl-C (SIGINT)"),
        (signal.SIGTERM, False, 143, "SIGTERM"),  # a CI cancel, `timeout`, systemd
        (signal.SIGINT, True, 130, "Ctrl-C (SIGINT)"),  # started by a shell without job control
    ],
    ids=["ctrl-c", "sigterm", "sigint-while-ignored"],
)
def test_a_stop_signal_stops_and_removes_the_container_and_its_temporary_tree(
    example_image: str,
    long_training_data: Path,
    tmp_path: Path,
    signum: int,
    ignore_sigint: bool,
    code: int,
    named: str,
) -> None:
    ended, _ = _stop_training(example_image, long_training_data, tmp_path, [signum], ignore_sigint=ignore_sigint)
    assert ended.returncode == code, ended.stderr
    assert f"interrupted by {named}" in ended.stderr
    assert "Stopping smbyo-local-train-" in ended.stderr and "(SIGTERM, up to 10 s" in ended.stderr


def test_a_second_signal_kills_the_container_at_once(
    example_image: str, long_training_data: Path, tmp_path: Path
) -> None:
    # The example's training process is PID 1 without a SIGTERM handler, so it would sit out the 10 s grace.
    began = time.monotonic()
    ended, _ = _stop_training(example_image, long_training_data, tmp_path, [signal.SIGTERM, signal.SIGTERM])
    assert ended.returncode == 143, ended.stderr  # the first signal's code
    assert "Killing smbyo-local-train-" in ended.stderr
    assert time.monotonic() - began < 60


def test_the_container_gets_exactly_what_the_request_says(probe_image: str, tmp_path: Path) -> None:
    # A .gz file in File mode is handed over as stored (CompressionType applies to Pipe mode only);
    # a hidden file is data, as under an S3 prefix; the request's instance type reaches resourceconfig.
    data = tmp_path / "data"
    data.mkdir()
    compressed = gzip.compress(b"1,2\n")
    (data / "a.csv.gz").write_bytes(compressed)
    (data / ".hidden.csv").write_text("3,4\n")
    result = run_cli(
        "--json", "train", "--local", "--image", probe_image, "--data", f"training={data}",
        "-H", "max_leaf_nodes=7", "--instance-type", "ml.c5.xlarge", "--out", str(tmp_path / "out"),
        cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "hidden file(s)" in result.stderr  # said, not silently skipped
    report = probe_report(Path(json.loads(result.stdout)["model_artifacts"]))
    assert report["files"]["training"] == {
        ".hidden.csv": hashlib.sha256(b"3,4\n").hexdigest(),
        "a.csv.gz": hashlib.sha256(compressed).hexdigest(),
    }
    assert report["config"]["inputdataconfig.json"]["training"]["CompressionType"] == "None"
    assert report["config"]["hyperparameters.json"] == {"max_leaf_nodes": "7"}
    assert report["config"]["resourceconfig.json"]["current_instance_type"] == "ml.c5.xlarge"


def test_dry_run_prints_the_request_without_docker(tmp_path: Path) -> None:
    result = run_cli(
        "train", "--local", "--dry-run", "--data", "training=data/training", "--out", str(tmp_path),
        cwd=EXAMPLE_DIR, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["target"] == "local" and [step["operation"] for step in plan["plan"]] == ["CreateTrainingJob"]
    request = plan["plan"][0]["kwargs"]
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        (EXAMPLE_DIR / "data" / "training").resolve().as_uri()
    )
    assert request["OutputDataConfig"]["S3OutputPath"] == tmp_path.as_uri()
    assert not any(tmp_path.iterdir())  # nothing ran


def _resume_report(archive: Path) -> dict[str, Any]:
    with tarfile.open(archive) as tar:
        member = tar.extractfile("resume.json")
        assert member is not None
        return dict(json.loads(member.read()))


def _checkpoint_steps(directory: Path) -> list[int]:
    return sorted(int(path.stem.removeprefix("step-")) for path in directory.glob("step-*.json"))


def test_a_job_stopped_part_way_resumes_from_its_checkpoint_directory(checkpointing_image: str, tmp_path: Path) -> None:
    # Run 1 checkpoints every 0.2 s and would need hours: MaxRuntimeInSeconds stops it (SIGTERM, as on
    # SageMaker). Run 2, with the same --checkpoint-uri, must start after the last checkpoint run 1 wrote.
    checkpoints = tmp_path / "checkpoints"  # missing: the first run makes it
    job = (
        "--json", "train", "--local", "--image", checkpointing_image, "--data", "training=data/training",
        "--checkpoint-uri", str(checkpoints),
    )  # fmt: skip
    first = run_cli(
        *job, "--env", "STEPS=100000", "--env", "STEP_SECONDS=0.2", "--max-runtime", "6",
        "--out", str(tmp_path / "first"), cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert first.returncode == 1, first.stderr
    assert "StoppingCondition.MaxRuntimeInSeconds (6 s)" in first.stdout
    written = _checkpoint_steps(checkpoints)
    assert written and written == list(range(1, len(written) + 1)), written  # stopped part-way, after step 1
    last = written[-1]
    assert "resumed from step 0" in first.stderr

    second = run_cli(
        *job, "--env", f"STEPS={last + 3}", "--env", "STEP_SECONDS=0", "--out", str(tmp_path / "second"),
        cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    report = _resume_report(Path(json.loads(second.stdout)["model_artifacts"]))
    assert report["resumed_from"] == last and report["last_step"] == last + 3
    assert f"resumed from step {last}" in second.stderr
    assert _checkpoint_steps(checkpoints) == list(range(1, last + 4))  # the first run's are still there
    assert {path.stat().st_uid for path in checkpoints.iterdir()} == {os.getuid()}  # handed back to the user
