"""`smbyo transform --local --dry-run`: the CreateModel and CreateTransformJob requests local Docker would run,
printed and checked without Docker; mistakes exit 2 naming the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_DIR
from tests.unit.plans import assert_plan_accepted, offline, smbyo

MANIFEST = str(EXAMPLE_DIR / "smbyo.yaml")
INPUT = EXAMPLE_DIR / "data" / "transform"


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(monkeypatch)
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"checked when the job runs, not when it is planned")
    return path


def dry_run(capsys: pytest.CaptureFixture[str], model: Path, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    return smbyo(
        capsys, "transform", "--local", "--dry-run", "-f", MANIFEST, "--model", str(model),
        "--input", str(INPUT), "--output", str(model.parent / "out"), *extra,
    )  # fmt: skip


def test_the_plan_is_what_sagemaker_would_accept_with_local_data_as_file_uris(
    capsys: pytest.CaptureFixture[str], model: Path
) -> None:
    code, plan = dry_run(
        capsys, model, "--strategy", "SingleRecord", "--max-payload-mb", "2", "--concurrency", "3",
        "--accept", "application/json", "--split-type", "None", "--instance-type", "ml.c5.xlarge",
        "--invocations-max-retries", "1",
    )  # fmt: skip
    assert code == 0, plan
    assert plan["target"] == "local"
    assert assert_plan_accepted(plan, local=True) == ["CreateModel", "CreateTransformJob"]
    create_model, create_job = (step["kwargs"] for step in plan["plan"])
    assert create_model["PrimaryContainer"] == {
        "Image": "decision-trees-sample:latest",
        "ModelDataUrl": model.as_uri(),
    }
    assert create_job["ModelName"] == create_model["ModelName"]
    assert create_job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == INPUT.absolute().as_uri()
    assert create_job["TransformOutput"] == {
        "S3OutputPath": (model.parent / "out").as_uri(),
        "Accept": "application/json",
        "AssembleWith": "Line",
    }
    assert create_job["TransformInput"]["SplitType"] == "None"
    assert (create_job["BatchStrategy"], create_job["MaxPayloadInMB"], create_job["MaxConcurrentTransforms"]) == (
        "SingleRecord",
        2,
        3,
    )
    assert create_job["TransformResources"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1}
    assert create_job["ModelClientConfig"] == {"InvocationsMaxRetries": 1}


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--content-type", "text/nope"], "--content-type"),
        (["--accept", "image/png"], "--accept"),
        (["--instance-type", "ml.bad"], "--instance-type"),
        (["--instance-type", "ml.zz.large"], "--instance-type"),  # well formed, but no such transform instance
        (["--invocations-max-retries", "4"], "--invocations-max-retries"),  # SageMaker's range is 0-3
    ],
)
def test_a_bad_value_exits_2_naming_its_flag(
    capsys: pytest.CaptureFixture[str], model: Path, flags: list[str], named: str
) -> None:
    code, error = dry_run(capsys, model, *flags)
    assert code == 2, error
    assert named in error["message"]
    assert "Docker" not in error["message"]


@pytest.mark.parametrize(
    "flags",
    [["--role", "arn:aws:iam::123456789012:role/R"], ["--download", "x"], ["--no-wait"], ["--timeout", "5"],
     ["--profile", "p"], ["--region", "eu-west-1"]],
)  # fmt: skip
def test_flags_of_the_cloud_exit_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], model: Path, flags: list[str]
) -> None:
    code, error = dry_run(capsys, model, *flags)
    assert code == 2, error
    assert error["message"].startswith(flags[0].replace("--no-wait", "--wait/--no-wait"))
    assert "only applies on SageMaker" in error["message"]


def test_s3_and_missing_paths_are_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], model: Path, tmp_path: Path
) -> None:
    code, error = smbyo(
        capsys, "transform", "--local", "--dry-run", "-f", MANIFEST, "--model", "s3://b/model.tar.gz",
        "--input", str(INPUT), "--output", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2 and error["message"].startswith("--model s3://b/model.tar.gz: a local transform")
    code, error = dry_run(capsys, tmp_path / "missing.tar.gz")
    assert code == 2 and "--model" in error["message"] and "no such file" in error["message"]
    (tmp_path / "empty").mkdir()
    code, error = smbyo(
        capsys, "transform", "--local", "--dry-run", "-f", MANIFEST, "--model", str(model),
        "--input", str(tmp_path / "empty"), "--output", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2 and "holds no files" in error["message"]
