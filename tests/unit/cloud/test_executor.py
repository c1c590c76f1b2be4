"""The ledger of what a run created: recorded only once AWS created it, deleted newest first, and what
could not be deleted is said (moto's server as AWS)."""

from __future__ import annotations

import pytest

from sm_byo.aws import connect
from sm_byo.cloud.executor import Created
from sm_byo.errors import SmByoError, UsageError
from sm_byo.reporting import RecordingReporter
from sm_byo.specs.request import Request
from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.harness import ACCOUNT_ID, MotoHarness

IMAGE = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/algo:v1"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/R"


def model(name: str) -> Request:
    return Request("CreateModel", {"ModelName": name, "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE}})


def config(name: str, model_name: str) -> Request:
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": model_name,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    return Request("CreateEndpointConfig", {"EndpointConfigName": name, "ProductionVariants": [variant]})


def names(moto: MotoHarness) -> tuple[list[str], list[str]]:
    sagemaker = moto.client("sagemaker")
    return (
        sorted(m["ModelName"] for m in sagemaker.list_models()["Models"]),
        sorted(c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]),
    )


def test_a_failure_deletes_what_the_run_created_newest_first(aws_env: dict[str, str], moto: MotoHarness) -> None:
    moto.client("sagemaker").create_model(ModelName="before", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    reporter = RecordingReporter()
    with pytest.raises(SmByoError) as failed, Created(connect()).undone_on_failure(reporter) as created:
        created.send(model("mine"))
        created.send(config("mine", "mine"))
        created.send(model("before"))  # taken: refused, so never recorded and never deleted
    assert failed.value.details["cleanup"] == {"deleted": ["endpoint-config/mine", "model/mine"], "not_deleted": []}
    assert names(moto) == (["before"], [])
    assert [step for step in reporter.of_kind("step")] == [
        ("Deleting endpoint-config/mine (created by this run)",),
        ("Deleting model/mine (created by this run)",),
    ]


def test_what_cannot_be_deleted_is_said_and_the_original_error_is_kept(
    aws_env: dict[str, str], moto: MotoHarness
) -> None:
    with (
        pytest.raises(UsageError, match="the step after") as failed,
        Created(connect()).undone_on_failure(RecordingReporter()) as created,
    ):
        created.send(model("gone-already"))
        moto.client("sagemaker").delete_model(ModelName="gone-already")  # someone else removed it
        raise UsageError("the step after failed", hint="Fix it.")
    cleanup = failed.value.details["cleanup"]
    assert cleanup["deleted"] == [] and cleanup["not_deleted"][0].startswith("model/gone-already: ")
    assert failed.value.hint is not None
    assert failed.value.hint.startswith("Could not delete: model/gone-already") and failed.value.hint.endswith(
        "Fix it."
    )


def test_a_run_that_succeeds_deletes_nothing(aws_env: dict[str, str], moto: MotoHarness) -> None:
    with Created(connect()).undone_on_failure(RecordingReporter()) as created:
        created.send(model("kept"))
        created.send(config("kept", "kept"))
    assert names(moto) == (["kept"], ["kept"])
