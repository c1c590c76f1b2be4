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
