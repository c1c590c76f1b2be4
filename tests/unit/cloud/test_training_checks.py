"""train_cloud checks what the user typed before it uploads or submits anything (moto server as AWS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_byo.aws import connect
from sm_byo.cloud.training import train_cloud
from sm_byo.errors import UsageError
from sm_byo.manifest import load_manifest
from sm_byo.options import TrainCommand
from sm_byo.reporting import RecordingReporter
from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)

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
            load_manifest(EXAMPLE / "smbyo.yaml"), RecordingReporter(), TrainCommand(data={"training": str(EXAMPLE / "data")})
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
