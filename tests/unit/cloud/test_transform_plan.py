"""`smbyo transform` on SageMaker: the plan (upload, CreateModel, CreateTransformJob) is checked before anything
is uploaded or created, printed by --dry-run without credentials, and a failed CreateTransformJob takes the
model this run created with it (moto's server as AWS)."""

from __future__ import annotations

import pytest

from sm_byo.aws import connect
from sm_byo.aws.errors import AwsRequestRejected
from sm_byo.cloud.transform import cloud_transform_plan, run_cloud_transform
from sm_byo.manifest import load_manifest
from sm_byo.options import TransformCommand
from sm_byo.reporting import RecordingReporter
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
        capsys, "transform", "--dry-run", "-f", MANIFEST, "--model", ARTIFACT,
        "--input", str(EXAMPLE_DIR / "data" / "transform"), "--output", "s3://smbyo-out/predictions",
        "--strategy", "MultiRecord", "--max-payload-mb", "4", "--concurrency", "2", "--content-type", "text/csv",
    )  # fmt: skip
    assert code == 0, plan
    assert plan["target"] == "sagemaker"
    assert assert_plan_accepted(plan) == ["Upload", "CreateModel", "CreateTransformJob"]
    upload, create_model, create_job = (step["kwargs"] for step in plan["plan"])
    # validation.role's account: the default bucket and the pushed image are that account's
    bucket = "sagemaker-us-east-1-123456789012"
    assert upload["Destination"].startswith(f"s3://{bucket}/smbyo/decision-trees-sample/transform-input/")
    assert create_model["PrimaryContainer"] == {
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees-sample:latest-inference",
        "ModelDataUrl": ARTIFACT,
    }
    assert create_model["ExecutionRoleArn"] == "arn:aws:iam::123456789012:role/SageMakerRole"
    assert create_job["ModelName"] == create_model["ModelName"]
    assert create_job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == upload["Destination"]
    assert (create_job["BatchStrategy"], create_job["MaxPayloadInMB"], create_job["MaxConcurrentTransforms"]) == (
        "MultiRecord",
        4,
        2,
    )


def test_an_existing_model_and_s3_input_make_a_one_request_plan(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch)
    code, plan = smbyo(
        capsys, "transform", "--dry-run", "-f", MANIFEST, "--model", "my-model",
        "--input", "s3://smbyo-in/rows/", "--output", "s3://smbyo-out/predictions",
    )  # fmt: skip
    assert code == 0, plan
    assert assert_plan_accepted(plan) == ["CreateTransformJob"]
    assert plan["plan"][0]["kwargs"]["ModelName"] == "my-model"


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--content-type", "text/nope"], "--content-type"),
        (["--instance-type", "ml.bad"], "--instance-type"),
        (["--instance-type", "ml.zz.large"], "--instance-type"),
        (["--model", "my_model"], "--model"),
        (["--model", "output/model.tar.gz"], "--model"),
        (["--output", "predictions"], "--output"),
        (["--image", "decision-trees-sample:latest"], "--image"),
        (["--role", "SageMakerRole"], "--role"),
    ],
)
def test_a_bad_value_exits_2_naming_its_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, flags: list[str], named: str
) -> None:
    offline(monkeypatch)
    given = {"--model": ARTIFACT, "--input": "s3://smbyo-in/rows/", "--output": "s3://smbyo-out/predictions"}
    given.update(dict(zip(flags[::2], flags[1::2], strict=True)))
    args = [item for pair in given.items() for item in pair]
    code, error = smbyo(capsys, "transform", "--dry-run", "-f", MANIFEST, *args)
    assert code == 2, error
    assert named in error["message"], error


def test_nothing_is_uploaded_or_created_when_a_request_would_be_rejected(aws_env: dict[str, str]) -> None:
    options = TransformCommand(
        model=ARTIFACT,
        input=str(EXAMPLE_DIR / "data" / "transform"),
        output="s3://smbyo-out/predictions",
        image="not-on-ecr:latest",
        role=ROLE,
    )
    aws = connect()
    with pytest.raises(Exception, match="--image"):
        cloud_transform_plan(load_manifest(MANIFEST), options, aws, RecordingReporter())
    assert aws.client("s3").list_buckets()["Buckets"] == []
    assert aws.client("sagemaker").list_models()["Models"] == []


def test_a_failed_create_transform_job_deletes_the_model_this_run_created(
    aws_env: dict[str, str], moto: MotoHarness
) -> None:
    """A real sequence on the server: the job's name is taken, so CreateTransformJob fails after CreateModel."""
    aws = connect()
    options = TransformCommand(
        model=ARTIFACT, input="s3://smbyo-in/rows/", output="s3://smbyo-out/predictions", image=IMAGE, role=ROLE
    )
    planned = cloud_transform_plan(load_manifest(MANIFEST), options, aws, RecordingReporter())
    job_name = planned.plan.request("CreateTransformJob").kwargs["TransformJobName"]
    sagemaker = moto.client("sagemaker")
    sagemaker.create_model(ModelName="theirs", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sagemaker.create_transform_job(
        TransformJobName=job_name,
        ModelName="theirs",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://smbyo-in/x/"}}},
        TransformOutput={"S3OutputPath": "s3://smbyo-out/x"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        Tags=[{"Key": "smbyo-test", "Value": "hold"}],  # tests/aws/moto_ext.py: stays InProgress, never runs
    )
    reporter = RecordingReporter()
    with pytest.raises(AwsRequestRejected) as refused:
        run_cloud_transform(aws, planned, reporter, options)
    ours = planned.plan.request("CreateModel").kwargs["ModelName"]
    assert refused.value.details["cleanup"] == {"deleted": [f"model/{ours}"], "not_deleted": []}
    assert f"model/{ours}" in (refused.value.hint or "")
    assert [model["ModelName"] for model in sagemaker.list_models()["Models"]] == ["theirs"]
    assert sagemaker.describe_transform_job(TransformJobName=job_name)["ModelName"] == "theirs"


def test_the_job_options_reach_the_sagemaker_plan(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch)
    code, plan = smbyo(
        capsys, "transform", "--dry-run", "-f", MANIFEST, "--model", "my-model", "--input", "s3://smbyo-in/rows",
        "--output", "s3://smbyo-out/predictions", "--instance-count", "4", "--env", "LOG_LEVEL=debug",
        "--output-kms-key", "alias/out", "--volume-kms-key", "alias/volume", "--input-filter", "$[1:]",
        "--join-source", "Input", "--output-filter", "$[0,-1]",
    )  # fmt: skip
    assert code == 0, plan
    assert assert_plan_accepted(plan) == ["CreateTransformJob"]
    job = plan["plan"][0]["kwargs"]
    assert job["TransformResources"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 4,
        "VolumeKmsKeyId": "alias/volume",
    }
    assert job["TransformOutput"]["KmsKeyId"] == "alias/out" and job["Environment"] == {"LOG_LEVEL": "debug"}
    assert job["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    code, error = smbyo(
        capsys, "transform", "--dry-run", "-f", MANIFEST, "--model", "my-model", "--input", "s3://smbyo-in/rows",
        "--output", "s3://smbyo-out/predictions", "--output-filter", "$..id",
    )  # fmt: skip
    assert code == 2 and "--output-filter" in error["message"]


def test_network_isolation_is_a_local_flag(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    offline(monkeypatch)
    code, error = smbyo(
        capsys, "transform", "--dry-run", "-f", MANIFEST, "--model", ARTIFACT, "--input", "s3://smbyo-in/rows/",
        "--output", "s3://smbyo-out/predictions", "--no-network-isolation",
    )  # fmt: skip
    assert code == 2, error
    assert error["message"].startswith("--network-isolation/--no-network-isolation only applies with --local")
