"""`smbyo deploy`: three requests planned and checked before any is sent (--dry-run prints them without
credentials); a step that fails deletes what this run created, and nothing else (moto's server as AWS)."""

from __future__ import annotations

import pytest

from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.harness import ACCOUNT_ID, MotoHarness
from tests.conftest import EXAMPLE_DIR
from tests.unit.plans import assert_plan_accepted, offline, smbyo

MANIFEST = str(EXAMPLE_DIR / "smbyo.yaml")
IMAGE = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/decision-trees-sample:v1"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/SageMakerRole"
ARTIFACT = "s3://smbyo-models/job/output/model.tar.gz"


def test_the_dry_run_plan_needs_no_credentials_and_is_what_sagemaker_accepts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch)
    code, plan = smbyo(
        capsys, "deploy", "--dry-run", "-f", MANIFEST, "--model", ARTIFACT, "--name", "iris",
        "--instance-type", "ml.c5.xlarge", "--instance-count", "2",
    )  # fmt: skip
    assert code == 0, plan
    assert assert_plan_accepted(plan) == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    create_model, create_config, create_endpoint = (step["kwargs"] for step in plan["plan"])
    assert create_model["ModelName"] == create_config["EndpointConfigName"] == create_endpoint["EndpointName"] == "iris"
    assert create_model["PrimaryContainer"]["Image"].startswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/")
    variant = create_config["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InstanceType"], variant["InitialInstanceCount"]) == (
        "iris",
        "ml.c5.xlarge",
        2,
    )
    assert create_endpoint["EndpointConfigName"] == "iris"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--name", "not_valid"], "--name"),
        (["--name", "-leading"], "--name"),
        (["--instance-type", "ml.bad"], "--instance-type"),
        (["--instance-type", "ml.zz.large"], "--instance-type"),
        (["--model", "output/model.tar.gz"], "--model"),
        (["--image", "decision-trees-sample:latest"], "--image"),
    ],
)
def test_a_bad_value_exits_2_naming_its_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, flags: list[str], named: str
) -> None:
    offline(monkeypatch)
    given = {"--model": ARTIFACT, **dict(zip(flags[::2], flags[1::2], strict=True))}
    args = [item for pair in given.items() for item in pair]
    code, error = smbyo(capsys, "deploy", "--dry-run", "-f", MANIFEST, *args)
    assert code == 2, error
    assert named in error["message"], error


def test_a_failed_create_endpoint_config_leaves_no_model_and_keeps_the_existing_config(
    capsys: pytest.CaptureFixture[str], aws_env: dict[str, str], moto: MotoHarness
) -> None:
    """A real sequence on the server: an endpoint config named like the endpoint exists already."""
    sagemaker = moto.client("sagemaker")
    sagemaker.create_model(ModelName="theirs", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": "theirs",
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    sagemaker.create_endpoint_config(EndpointConfigName="taken", ProductionVariants=[variant])

    code, error = smbyo(capsys, "deploy", "-f", MANIFEST, "--model", ARTIFACT, "--name", "taken", "--image", IMAGE)

    assert code == 2, error
    assert "CreateEndpointConfig" in error["message"] and "already existing" in error["message"]
    assert error["details"]["cleanup"] == {"deleted": ["model/taken"], "not_deleted": []}
    assert "Deleted what this run had created: model/taken" in error["hint"]
    assert [model["ModelName"] for model in sagemaker.list_models()["Models"]] == ["theirs"]
    kept = sagemaker.describe_endpoint_config(EndpointConfigName="taken")
    assert kept["ProductionVariants"][0]["ModelName"] == "theirs"
    assert sagemaker.list_endpoints()["Endpoints"] == []


def test_a_model_name_in_use_fails_before_anything_is_created_and_deletes_nothing(
    capsys: pytest.CaptureFixture[str], aws_env: dict[str, str], moto: MotoHarness
) -> None:
    sagemaker = moto.client("sagemaker")
    sagemaker.create_model(ModelName="taken", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})

    code, error = smbyo(capsys, "deploy", "-f", MANIFEST, "--model", ARTIFACT, "--name", "taken", "--image", IMAGE)

    assert code == 2, error
    assert "CreateModel" in error["message"]
    assert "cleanup" not in error.get("details", {})
    assert sagemaker.describe_model(ModelName="taken")["PrimaryContainer"]["Image"] == IMAGE
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
