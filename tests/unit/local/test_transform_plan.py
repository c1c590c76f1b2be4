"""`smbyo transform --local --dry-run`: the CreateModel and CreateTransformJob requests local Docker would run,
printed and checked without Docker; mistakes exit 2 naming the flag."""

from __future__ import annotations

import shutil
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
        "Image": "decision-trees-sample:latest-inference",  # image.inference: the serve-only image
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
     ["--profile", "p"], ["--region", "eu-west-1"], ["--algorithm", "decision-trees"]],
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


def test_the_job_options_reach_the_plan(capsys: pytest.CaptureFixture[str], model: Path) -> None:
    code, plan = dry_run(
        capsys, model, "--instance-count", "2", "--env", "LOG_LEVEL=debug", "--env", "EQ=a=b",
        "--output-kms-key", "alias/out", "--volume-kms-key", "arn:aws:kms:us-east-1:123456789012:key/v",
        "--input-filter", "$[1:]", "--join-source", "Input", "--output-filter", "$[0,-1]",
    )  # fmt: skip
    assert code == 0, plan
    assert assert_plan_accepted(plan, local=True) == ["CreateModel", "CreateTransformJob"]
    job = plan["plan"][1]["kwargs"]
    assert job["TransformResources"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 2,
        "VolumeKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/v",
    }
    assert job["Environment"] == {"LOG_LEVEL": "debug", "EQ": "a=b"}
    assert job["TransformOutput"]["KmsKeyId"] == "alias/out"
    assert job["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    code, plan = dry_run(capsys, model, "--assemble-with", "None")
    assert code == 0 and plan["plan"][1]["kwargs"]["TransformOutput"]["AssembleWith"] == "None"


def test_the_instance_count_defaults_to_the_manifest(
    capsys: pytest.CaptureFixture[str], model: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE_DIR, project, ignore=shutil.ignore_patterns("output", "predictions"))
    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace("\ninference:\n", "\ninference:\n  transform_instance_count: 3\n"))
    args = ["transform", "--local", "--dry-run", "-f", str(manifest), "--model", str(model), "--input", str(INPUT),
            "--output", str(tmp_path / "out")]  # fmt: skip
    code, plan = smbyo(capsys, *args)
    assert code == 0, plan
    assert plan["plan"][1]["kwargs"]["TransformResources"]["InstanceCount"] == 3
    code, plan = smbyo(capsys, *args, "--instance-count", "1")
    assert code == 0 and plan["plan"][1]["kwargs"]["TransformResources"]["InstanceCount"] == 1
    manifest.write_text(manifest.read_text().replace("transform_instance_count: 3", "transform_instance_count: 0"))
    code, error = smbyo(capsys, *args)
    assert code == 2 and "inference.transform_instance_count" in error["message"]


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--env", "1A=x"], "--env"),  # TransformEnvironmentKey: [a-zA-Z_][a-zA-Z0-9_]{0,1023}
        (["--env", "no-equals-sign"], "--env"),
        ([arg for n in range(17) for arg in ("--env", f"K{n}=v")], "--env"),  # TransformEnvironmentMap: at most 16
        (["--env", "A=" + "x" * 10241], "--env"),  # TransformEnvironmentValue: at most 10240 characters
        (["--instance-count", "0"], "--instance-count"),
        (["--output-kms-key", "not a key!"], "--output-kms-key"),  # KmsKeyId: [a-zA-Z0-9:/_-]*
        (["--volume-kms-key", "k" * 2049], "--volume-kms-key"),  # at most 2048
        (["--assemble-with", "Lines"], "--assemble-with"),
        (["--join-source", "Output"], "--join-source"),
        (["--input-filter", "$..x"], "--input-filter"),
        (["--output-filter", "features"], "--output-filter"),
        (["--input-filter", "$" + "[0]" * 21], "--input-filter"),  # JsonPath: at most 63 characters
        (["--input-filter", "$.features"], "--input-filter"),  # a CSV record takes indexes only
        (["--input-filter", "$[1:]", "--split-type", "None"], "--split-type"),  # CSV is filtered line by line
        (["--join-source", "Input", "--assemble-with", "None"], "--assemble-with"),  # a join needs lines out
        (["--join-source", "Input", "--split-type", "None"], "--split-type"),  # and records in
        (["--join-source", "Input", "--accept", "application/json"], "--accept"),  # joined in the input's format
    ],
)
def test_a_bad_job_option_exits_2_naming_its_flag(
    capsys: pytest.CaptureFixture[str], model: Path, flags: list[str], named: str
) -> None:
    code, error = dry_run(capsys, model, *flags)
    assert code == 2, error
    assert named in error["message"]


@pytest.mark.parametrize(("flags", "isolated"), [([], True), (["--network-isolation"], True),
                                                 (["--no-network-isolation"], False)])  # fmt: skip
def test_the_model_runs_with_network_isolation_unless_turned_off(
    capsys: pytest.CaptureFixture[str], model: Path, flags: list[str], isolated: bool
) -> None:
    code, plan = dry_run(capsys, model, *flags)
    assert code == 0, plan
    assert plan["plan"][0]["kwargs"]["EnableNetworkIsolation"] is isolated  # buyers' conditions by default
