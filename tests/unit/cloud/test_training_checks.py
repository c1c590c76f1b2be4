"""train_cloud checks what the user typed before it uploads or submits anything (moto server as AWS)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sm_byo.aws import connect
from sm_byo.aws.service_model import check_request
from sm_byo.cloud.training import train_cloud
from sm_byo.errors import UsageError
from sm_byo.manifest import load_manifest
from sm_byo.options import TrainCommand
from sm_byo.reporting import RecordingReporter
from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.conftest import run_cli

EXAMPLE = Path(__file__).resolve().parents[3] / "algorithms" / "decision_trees"


@pytest.mark.parametrize(
    ("data", "hyperparameters", "words"),
    [
        ({"training": str(EXAMPLE / "data" / "training")}, {"max_leaf_nodes": "1"}, "max_leaf_nodes"),
        ({"training": str(EXAMPLE / "data" / "training")}, {"no_such": "1"}, "no_such"),
        ({"validation": str(EXAMPLE / "data" / "training")}, {}, "validation"),
    ],
)
def test_bad_input_is_refused_before_anything_reaches_aws(
    aws_env: dict[str, str], data: dict[str, str], hyperparameters: dict[str, str], words: str
) -> None:
    with pytest.raises(UsageError) as refused:
        train_cloud(
            load_manifest(EXAMPLE / "smbyo.yaml"),
            RecordingReporter(),
            TrainCommand(data=data, hyperparameters=hyperparameters),
        )
    assert refused.value.exit_code == 2 and words in refused.value.message
    assert connect().client("s3").list_buckets()["Buckets"] == []


def test_no_pushed_image_says_to_push_first(aws_env: dict[str, str]) -> None:
    with pytest.raises(UsageError) as refused:
        train_cloud(
            load_manifest(EXAMPLE / "smbyo.yaml"),
            RecordingReporter(),
            TrainCommand(data={"training": str(EXAMPLE / "data")}),
        )
    assert "smbyo push" in (refused.value.hint or "")


def test_clients_name_smbyo_in_the_user_agent_and_use_standard_retries(aws_env: dict[str, str]) -> None:
    client = connect().client("sagemaker")
    assert "smbyo/" in client.meta.config.user_agent_extra
    assert client.meta.config.retries["mode"] == "standard"


def test_a_role_name_instead_of_an_arn_is_refused_before_any_upload(aws_env: dict[str, str]) -> None:
    with pytest.raises(UsageError) as refused:
        train_cloud(
            load_manifest(EXAMPLE / "smbyo.yaml"),
            RecordingReporter(),
            TrainCommand(data={"training": str(EXAMPLE / "data" / "training")}, role="SageMakerRole"),
        )
    assert refused.value.message.startswith("--role: 'SageMakerRole' is a role name")
    assert "arn:aws:iam::<account-id>:role/SageMakerRole" in refused.value.message
    assert connect().client("s3").list_buckets()["Buckets"] == []


def test_aws_region_is_honoured_like_aws_default_region(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert connect().region == "eu-west-3"


OFFLINE = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: any call would fail
    "AWS_EC2_METADATA_DISABLED": "true",
    "DOCKER_HOST": "unix:///nonexistent/docker.sock",
}


def _offline_env() -> dict[str, str]:
    return {key: value for key, value in OFFLINE.items()}


def test_dry_run_prints_a_plan_aws_would_accept_without_credentials_or_docker() -> None:
    result = run_cli(
        "train", "--dry-run", "--data", "training=data/training", "-H", "max_leaf_nodes=9",
        cwd=EXAMPLE, env=_offline_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["target"] == "sagemaker"
    upload, create = plan["plan"]
    assert upload["operation"] == "Upload" and upload["kwargs"]["Source"] == str(EXAMPLE / "data" / "training")
    assert create["operation"] == "CreateTrainingJob"
    request = create["kwargs"]
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == upload["kwargs"]["Destination"]
    assert request["HyperParameters"] == {"max_leaf_nodes": "9"}
    assert check_request("CreateTrainingJob", request) == []  # botocore's validator and the model's constraints
    assert "no AWS credentials" in result.stderr  # it said where the account came from


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--instance-type", "ml.bad"], "--instance-type"),
        (["--role", "arn:aws:iam::123456789012:user/me"], "--role"),
        (["--image", "docker.io/library/python:3"], "--image"),
    ],
)
def test_a_bad_value_in_the_plan_exits_2_naming_its_flag(args: list[str], named: str) -> None:
    result = run_cli("train", "--dry-run", "--data", "training=data/training", *args, cwd=EXAMPLE, env=_offline_env())
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and result.stdout == ""


def test_a_bad_manifest_value_names_its_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    manifest = project / "smbyo.yaml"
    long_name = "m" * 300  # MetricDefinition.Name: at most 255 characters
    manifest.write_text(manifest.read_text().replace('name: "validation:accuracy"', f'name: "{long_name}"'))
    manifest.write_text(manifest.read_text().replace('metric: "validation:accuracy"', f'metric: "{long_name}"'))
    result = run_cli("train", "--dry-run", "--data", "training=data/training", cwd=project, env=_offline_env())
    assert result.returncode == 2, result.stderr
    line = next(i for i, text in enumerate(manifest.read_text().splitlines(), 1) if long_name in text)
    assert f"smbyo.yaml:{line} training.metrics[0].name" in result.stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--local", "--role", "arn:aws:iam::123456789012:role/R"], "--role"),
        (["--local", "--no-wait"], "--wait/--no-wait"),
        (["--local", "--region", "eu-west-1"], "--region"),
        (["--out", "elsewhere"], "--out"),
    ],
)
def test_a_flag_of_the_other_mode_exits_2_naming_it(args: list[str], flag: str) -> None:
    result = run_cli("train", "--dry-run", "--data", "training=data/training", *args, cwd=EXAMPLE, env=_offline_env())
    assert result.returncode == 2, result.stderr
    assert flag in result.stderr
