"""Golden tests: the CreateAlgorithm / CreateModelPackage requests built from the example manifest."""

from __future__ import annotations

from typing import Any

import pytest

from sm_byo.manifest import load_manifest
from sm_byo.preflight import request_violations
from sm_byo.specs.algorithm import create_algorithm_request
from sm_byo.specs.model_package import create_model_package_request
from sm_byo.specs.validation import validation_locations
from tests.conftest import EXAMPLE_DIR

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees-sample:latest"
NAME = "decision-trees-sample-2026-01-01-00-00-00-000"
MODEL = "s3://my-bucket/models/model.tar.gz"


@pytest.fixture(scope="module")
def example() -> Any:
    return load_manifest(EXAMPLE_DIR / "smbyo.yaml")


@pytest.fixture(scope="module")
def algorithm(example: Any) -> dict[str, Any]:
    manifest = example.manifest
    where = validation_locations(manifest.validation, NAME)
    return create_algorithm_request(manifest, image=IMAGE, name=NAME, locations=where).kwargs


def test_hyperparameter_is_an_integer_range_2_to_100000_and_tunable(algorithm: dict[str, Any]) -> None:
    [spec] = algorithm["TrainingSpecification"]["SupportedHyperParameters"]
    assert spec["Name"] == "max_leaf_nodes"
    assert spec["Type"] == "Integer"
    assert spec["Range"] == {"IntegerParameterRangeSpecification": {"MinValue": "2", "MaxValue": "100000"}}
    assert spec["IsTunable"] is True
    assert spec["IsRequired"] is False
    assert spec["DefaultValue"] == "100"


def test_training_channel_metric_and_objective(algorithm: dict[str, Any]) -> None:
    training = algorithm["TrainingSpecification"]
    assert training["TrainingImage"] == IMAGE
    [channel] = training["TrainingChannels"]
    assert channel["Name"] == "training"
    assert channel["SupportedContentTypes"] == ["text/csv"]
    assert "File" in channel["SupportedInputModes"]
    assert training["MetricDefinitions"] == [{"Name": "validation:accuracy", "Regex": r"validation-accuracy: (\S+)"}]
    assert training["SupportedTuningJobObjectiveMetrics"] == [{"Type": "Maximize", "MetricName": "validation:accuracy"}]
    assert training["SupportsDistributedTraining"] is False
    assert "ml.c5.xlarge" in training["SupportedTrainingInstanceTypes"]


def test_one_validation_profile_on_ml_c5_xlarge(algorithm: dict[str, Any]) -> None:
    spec = algorithm["ValidationSpecification"]
    assert spec["ValidationRole"] == "arn:aws:iam::123456789012:role/SageMakerRole"
    [profile] = spec["ValidationProfiles"]
    training = profile["TrainingJobDefinition"]
    assert training["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
    assert training["HyperParameters"] == {"max_leaf_nodes": "10"}
    [channel] = training["InputDataConfig"]
    assert channel["ChannelName"] == "training"
    assert channel["ContentType"] == "text/csv"
    uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
    assert uri == f"s3://my-bucket/smbyo-validation/{NAME}/input/training/"
    transform = profile["TransformJobDefinition"]
    assert transform["TransformResources"]["InstanceType"] == "ml.c5.xlarge"
    assert transform["TransformInput"]["ContentType"] == "text/csv"
    assert transform["TransformInput"]["SplitType"] == "Line"
    assert transform["TransformOutput"]["S3OutputPath"] == f"s3://my-bucket/smbyo-validation/{NAME}/output/"


def test_inference_and_marketplace(algorithm: dict[str, Any]) -> None:
    inference = algorithm["InferenceSpecification"]
    assert inference["Containers"] == [{"Image": IMAGE}]
    assert inference["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert inference["SupportedResponseMIMETypes"] == ["text/csv", "application/json"]
    assert algorithm["AlgorithmName"] == NAME
    assert algorithm["CertifyForMarketplace"] is True


def test_example_request_passes_every_check(example: Any) -> None:
    manifest = example.manifest
    where = validation_locations(manifest.validation, NAME)
    assert request_violations(create_algorithm_request(manifest, image=IMAGE, name=NAME, locations=where)) == []
    package = create_model_package_request(manifest, image=IMAGE, model_data=MODEL, name=NAME, locations=where)
    assert request_violations(package) == []


def test_model_package_serves_the_model_and_validates_by_transform_only(example: Any) -> None:
    manifest = example.manifest
    where = validation_locations(manifest.validation, NAME)
    kwargs = create_model_package_request(manifest, image=IMAGE, model_data=MODEL, name=NAME, locations=where).kwargs
    assert kwargs["ModelPackageName"] == NAME
    assert kwargs["InferenceSpecification"]["Containers"] == [{"Image": IMAGE, "ModelDataUrl": MODEL}]
    [profile] = kwargs["ValidationSpecification"]["ValidationProfiles"]
    assert set(profile) == {"ProfileName", "TransformJobDefinition"}
    assert "TrainingSpecification" not in kwargs


def test_s3_validation_data_is_used_as_given(example: Any) -> None:
    validation = example.manifest.validation.model_copy(update={"training_data": "s3://data/train/"})
    where = validation_locations(validation, NAME)
    assert where.training_data == "s3://data/train/"
    assert where.transform_data.endswith(f"/{NAME}/input/transform/")
