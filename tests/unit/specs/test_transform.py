"""CreateModel / CreateTransformJob builders: manifest + options -> a Request whose values know their origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_byo.errors import UsageError
from sm_byo.manifest import Manifest, load_manifest
from sm_byo.options import DataProcessing
from sm_byo.specs.transform import ModelOptions, TransformOptions, model_request, transform_job_request

EXAMPLE = Path(__file__).resolve().parents[3] / "algorithms" / "decision_trees" / "smbyo.yaml"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dt:latest"


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest(EXAMPLE).manifest


def job(**changes: object) -> TransformOptions:
    base: dict[str, object] = {"job_name": "t", "model_name": "m", "input_uri": "s3://b/in", "output_uri": "s3://b/out"}
    base.update(changes)
    return TransformOptions(**base)  # type: ignore[arg-type]


def test_unset_options_are_left_to_the_container(manifest: Manifest) -> None:
    request = transform_job_request(manifest, job())
    assert request.operation == "CreateTransformJob"
    kwargs = request.kwargs
    assert not {"BatchStrategy", "MaxPayloadInMB", "MaxConcurrentTransforms", "Environment"} & set(kwargs)
    assert kwargs["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}},
        "ContentType": "text/csv",
        "CompressionType": "None",
        "SplitType": "Line",
    }
    assert kwargs["TransformOutput"] == {"S3OutputPath": "s3://b/out", "Accept": "text/csv", "AssembleWith": "Line"}
    assert kwargs["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1}
    assert request.origin_of(("TransformInput", "ContentType")) == ("serving", "content_types", 0)
    assert request.origin_of(("TransformResources", "InstanceType")) == ("inference", "transform_instance_types", 0)
    assert request.origin_of(("TransformInput", "DataSource", "S3DataSource", "S3Uri")) == ("--input",)


def test_every_option_lands_in_the_request_and_names_its_flag(manifest: Manifest) -> None:
    request = transform_job_request(
        manifest,
        job(
            content_type="application/json",
            accept="application/json",
            split_type="None",
            strategy="SingleRecord",
            max_payload_mb=2,
            concurrency=4,
            instance_type="ml.c5.xlarge",
            instance_count=2,
            environment={"MODEL_SERVER_WORKERS": "2"},
            flags={"model_name": "--model"},
        ),
    )
    kwargs = request.kwargs
    assert (kwargs["BatchStrategy"], kwargs["MaxPayloadInMB"], kwargs["MaxConcurrentTransforms"]) == (
        "SingleRecord",
        2,
        4,
    )
    assert kwargs["TransformInput"]["ContentType"] == "application/json"
    assert kwargs["TransformInput"]["SplitType"] == "None"
    assert kwargs["TransformOutput"]["Accept"] == "application/json"
    assert kwargs["TransformResources"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 2}
    assert kwargs["Environment"] == {"MODEL_SERVER_WORKERS": "2"}
    for path, flag in [
        (("ModelName",), "--model"),
        (("TransformInput", "ContentType"), "--content-type"),
        (("TransformOutput", "Accept"), "--accept"),
        (("BatchStrategy",), "--strategy"),
        (("MaxPayloadInMB",), "--max-payload-mb"),
        (("MaxConcurrentTransforms",), "--concurrency"),
        (("TransformResources", "InstanceType"), "--instance-type"),
    ]:
        assert request.origin_of(path) == (flag,), path


def test_invocation_retries_are_written_out_with_their_flag(manifest: Manifest) -> None:
    """ModelClientConfig.InvocationsMaxRetries: SageMaker's default 3 unless the flag says otherwise, always in the
    request so that the plan shows how often a failed request is sent again (and the local executor reads it)."""
    default = transform_job_request(manifest, job())
    assert default.kwargs["ModelClientConfig"] == {"InvocationsMaxRetries": 3}
    assert default.origin_of(("ModelClientConfig", "InvocationsMaxRetries")) == ("--invocations-max-retries",)
    assert transform_job_request(manifest, job(invocations_max_retries=0)).kwargs["ModelClientConfig"] == {
        "InvocationsMaxRetries": 0
    }


@pytest.mark.parametrize(
    ("changes", "flag"),
    [({"content_type": "image/png"}, "--content-type"), ({"accept": "text/nope"}, "--accept")],
)
def test_types_the_container_does_not_declare_are_refused_naming_the_flag(
    manifest: Manifest, changes: dict[str, str], flag: str
) -> None:
    with pytest.raises(UsageError) as refused:
        transform_job_request(manifest, job(**changes))
    assert refused.value.message.startswith(f"{flag} ") and "serving." in refused.value.message


def test_a_malformed_instance_type_is_refused(manifest: Manifest) -> None:
    with pytest.raises(UsageError, match=r"--instance-type 'ml\.bad'"):
        transform_job_request(manifest, job(instance_type="ml.bad"))


def test_the_model_request_serves_the_artifact_with_the_image(manifest: Manifest) -> None:
    request = model_request(
        manifest,
        ModelOptions(
            model_name="m",
            image=IMAGE,
            model_data="s3://b/model.tar.gz",
            role="arn:aws:iam::123456789012:role/R",
            environment={"A": "1"},
            flags={"role": "--role", "name": "--name"},
        ),
    )
    assert request.operation == "CreateModel"
    assert request.kwargs == {
        "ModelName": "m",
        "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz", "Environment": {"A": "1"}},
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/R",
        "Tags": [{"Key": "smbyo:project", "Value": manifest.name}],
    }
    assert request.origin_of(("PrimaryContainer", "ModelDataUrl")) == ("--model",)
    assert request.origin_of(("PrimaryContainer", "Image")) == ("--image",)
    assert request.origin_of(("ExecutionRoleArn",)) == ("--role",)
    assert request.origin_of(("ModelName",)) == ("--name",)
    defaults = model_request(manifest, ModelOptions(model_name="m", image=IMAGE, model_data="s3://b/m", role="r"))
    assert defaults.origin_of(("ExecutionRoleArn",)) == ("validation", "role")
    assert "Environment" not in defaults.kwargs["PrimaryContainer"]


def test_the_job_options_land_in_the_request_each_naming_its_flag(manifest: Manifest) -> None:
    """--env, --output-kms-key, --volume-kms-key, --assemble-with, --instance-count and DataProcessing."""
    request = transform_job_request(
        manifest,
        job(
            instance_count=3,
            environment={"LOG_LEVEL": "debug"},
            output_kms_key="arn:aws:kms:us-east-1:123456789012:key/abc",
            volume_kms_key="alias/volumes",
            assemble_with="None",
            data_processing=DataProcessing(input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]"),
        ),
    )
    kwargs = request.kwargs
    assert kwargs["TransformResources"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 3,
        "VolumeKmsKeyId": "alias/volumes",
    }
    assert kwargs["TransformOutput"]["KmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/abc"
    assert kwargs["TransformOutput"]["AssembleWith"] == "None"
    assert kwargs["Environment"] == {"LOG_LEVEL": "debug"}
    assert kwargs["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    for path, flag in [
        (("TransformResources", "InstanceCount"), "--instance-count"),
        (("TransformResources", "VolumeKmsKeyId"), "--volume-kms-key"),
        (("TransformOutput", "KmsKeyId"), "--output-kms-key"),
        (("TransformOutput", "AssembleWith"), "--assemble-with"),
        (("Environment", "LOG_LEVEL"), "--env"),
        (("DataProcessing", "InputFilter"), "--input-filter"),
        (("DataProcessing", "JoinSource"), "--join-source"),
        (("DataProcessing", "OutputFilter"), "--output-filter"),
    ]:
        assert request.origin_of(path) == (flag,), path


def test_unset_job_options_stay_out_and_the_instance_count_comes_from_the_manifest(manifest: Manifest) -> None:
    kwargs = transform_job_request(manifest, job()).kwargs
    assert not {"DataProcessing", "Environment"} & set(kwargs)
    assert "KmsKeyId" not in kwargs["TransformOutput"] and "VolumeKmsKeyId" not in kwargs["TransformResources"]
    three = manifest.model_copy(
        update={"inference": manifest.inference.model_copy(update={"transform_instance_count": 3})}
    )
    request = transform_job_request(three, job())
    assert request.kwargs["TransformResources"]["InstanceCount"] == 3
    assert request.origin_of(("TransformResources", "InstanceCount")) == ("inference", "transform_instance_count")
    assert transform_job_request(three, job(instance_count=1)).kwargs["TransformResources"]["InstanceCount"] == 1


def test_only_the_data_processing_values_given_are_sent(manifest: Manifest) -> None:
    kwargs = transform_job_request(manifest, job(data_processing=DataProcessing(join_source="Input"))).kwargs
    assert kwargs["DataProcessing"] == {"JoinSource": "Input"}
