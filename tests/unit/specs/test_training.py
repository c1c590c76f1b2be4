"""The CreateTrainingJob request builder: manifest + options -> boto3 kwargs, each value with its origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_byo.errors import UsageError
from sm_byo.manifest import load_manifest
from sm_byo.specs.training import TrainingOptions, training_job_request

EXAMPLE = Path(__file__).resolve().parents[3] / "algorithms" / "decision_trees" / "smbyo.yaml"


@pytest.fixture(scope="module")
def manifest():  # type: ignore[no-untyped-def]
    return load_manifest(EXAMPLE).manifest


def options(**changes: object) -> TrainingOptions:
    base: dict[str, object] = {
        "job_name": "dt-2026",
        "image": "123.dkr.ecr.us-east-1.amazonaws.com/dt:latest",
        "role": "arn:aws:iam::123:role/R",
        "output_path": "s3://b/out",
        "channels": {"training": "s3://b/in/"},
        "hyperparameters": {"max_leaf_nodes": "10"},
    }
    base.update(changes)
    return TrainingOptions(**base)  # type: ignore[arg-type]


def test_training_request_carries_the_manifests_metrics_channels_and_defaults(manifest) -> None:  # type: ignore[no-untyped-def]
    request = training_job_request(manifest, options()).kwargs
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/dt:latest",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "validation:accuracy", "Regex": "validation-accuracy: (\\S+)"}],
    }
    assert request["InputDataConfig"] == [
        {
            "ChannelName": "training",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": "s3://b/in/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "ContentType": "text/csv",
            "CompressionType": "None",
            "InputMode": "File",
        }
    ]
    assert request["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert request["HyperParameters"] == {"max_leaf_nodes": "10"}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://b/out"}


def test_pipe_mode_is_allowed_when_the_channel_declares_it(manifest) -> None:  # type: ignore[no-untyped-def]
    request = training_job_request(manifest, options(input_mode="Pipe")).kwargs
    assert request["InputDataConfig"][0]["InputMode"] == "Pipe"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"channels": {"training": "s3://b/", "extra": "s3://b/x"}}, "extra"),
        ({"channels": {}}, "required channel"),
        ({"input_mode": "FastFile"}, "--input-mode FastFile"),
        ({"instance_type": "m5.large"}, "--instance-type"),
    ],
)
def test_mistakes_are_usage_errors_naming_the_flag(manifest, changes, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as error:
        training_job_request(manifest, options(**changes))
    assert words in error.value.message


def test_without_job_settings_the_request_carries_sagemakers_defaults_and_nothing_more(manifest) -> None:  # type: ignore[no-untyped-def]
    request = training_job_request(manifest, options()).kwargs
    assert set(request) == {
        "TrainingJobName", "AlgorithmSpecification", "RoleArn", "InputDataConfig", "OutputDataConfig",
        "ResourceConfig", "StoppingCondition", "HyperParameters",
    }  # fmt: skip
    assert request["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}


def test_each_value_remembers_the_flag_or_the_manifest_field_behind_it() -> None:
    from sm_byo.manifest import Manifest
    from sm_byo.options import TrainingJobSettings

    spec = Manifest.model_validate(
        {
            "name": "algo",
            "tags": {"owner": "me"},
            "training": {
                "supports_distributed": True,
                "job": {"max_runtime_seconds": 600, "environment": {"A": "1"}, "spot": {"max_wait_seconds": 900}},
            },
        }
    )
    given = TrainingJobSettings(
        instance_count=2,
        spot=True,
        environment={"B": "2"},
        tags={"team": "ml"},
        distribution={"training": "ShardedByS3Key"},
    )
    request = training_job_request(spec, options(hyperparameters={}, job=given))
    assert request.kwargs["StoppingCondition"] == {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 900}
    assert request.kwargs["Environment"] == {"A": "1", "B": "2"}
    assert request.kwargs["Tags"] == [{"Key": "owner", "Value": "me"}, {"Key": "team", "Value": "ml"}]
    assert request.origin_of(("ResourceConfig", "InstanceCount")) == ("--instance-count",)
    assert request.origin_of(("ResourceConfig", "VolumeSizeInGB")) == ("training", "job", "volume_size_gb")
    assert request.origin_of(("StoppingCondition", "MaxRuntimeInSeconds")) == ("training", "job", "max_runtime_seconds")
    assert request.origin_of(("StoppingCondition", "MaxWaitTimeInSeconds")) == (
        "training",
        "job",
        "spot",
        "max_wait_seconds",
    )
    assert request.origin_of(("EnableManagedSpotTraining",)) == ("--spot/--no-spot",)
    assert request.origin_of(("Environment", "A")) == ("training", "job", "environment", "A")
    assert request.origin_of(("Environment", "B")) == ("--env",)
    assert request.origin_of(("Tags", 0)) == ("tags", "owner") and request.origin_of(("Tags", 1)) == ("--job-tag",)
    distribution = ("InputDataConfig", 0, "DataSource", "S3DataSource", "S3DataDistributionType")
    assert (
        request.kwargs["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    )
    assert request.origin_of(distribution) == ("--distribution",)
