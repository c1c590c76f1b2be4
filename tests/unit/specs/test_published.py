"""A buyer's requests against what a published algorithm or model package declares (sm_byo.specs.published): the
requests botocore accepts (AlgorithmName instead of an image, the package as the model's container, network
isolation), and each choice the product does not support refused with exit 2 before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from sm_byo.errors import UsageError
from sm_byo.manifest import LoadedManifest, load_manifest
from sm_byo.preflight import request_violations
from sm_byo.specs.hyperparameters import hyperparameter_values
from sm_byo.specs.model_package import algorithm_package_request
from sm_byo.specs.published import (
    as_published,
    check_inference_choices,
    check_training_choices,
    declared_in_published,
    inference_manifest,
    package_model_request,
    published_training,
)
from sm_byo.specs.training import TrainingOptions, training_job_request
from sm_byo.specs.transform import TransformOptions, transform_job_request
from tests.conftest import EXAMPLE_DIR
from tests.unit.plans import botocore_errors

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
ALGORITHM = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/decision-trees"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/decision-trees-model"
TRAINING: dict[str, Any] = {
    "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees:1",
    "SupportedHyperParameters": [
        {"Name": "max_leaf_nodes", "Type": "Integer", "IsTunable": True, "IsRequired": False, "DefaultValue": "100",
         "Range": {"IntegerParameterRangeSpecification": {"MinValue": "2", "MaxValue": "500"}}},
        {"Name": "criterion", "Type": "Categorical", "IsTunable": False, "IsRequired": True,
         "Range": {"CategoricalParameterRangeSpecification": {"Values": ["gini", "entropy"]}}},
    ],
    "SupportedTrainingInstanceTypes": ["ml.c5.xlarge", "ml.m5.xlarge"],
    "SupportsDistributedTraining": False,
    "MetricDefinitions": [{"Name": "validation:accuracy", "Regex": "validation-accuracy: (\\S+)"}],
    "TrainingChannels": [
        {"Name": "train", "SupportedContentTypes": ["text/csv"], "SupportedInputModes": ["File"], "IsRequired": True},
        {"Name": "extra", "SupportedContentTypes": ["application/x-parquet"], "SupportedInputModes": ["Pipe"],
         "SupportedCompressionTypes": ["Gzip"], "IsRequired": False},
    ],
}  # fmt: skip
INFERENCE: dict[str, Any] = {
    "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees:1"}],
    "SupportedContentTypes": ["application/json", "text/csv"],
    "SupportedResponseMIMETypes": ["application/json"],
    "SupportedTransformInstanceTypes": ["ml.c5.xlarge"],
    "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
}
DATA = {"train": "s3://my-bucket/data/train"}


@pytest.fixture(scope="module")
def example() -> LoadedManifest:
    return load_manifest(EXAMPLE_DIR / "smbyo.yaml")


def choices(**changes: Any) -> None:
    values: dict[str, Any] = {"channels": DATA, "instance_type": None, "instance_count": 1, "input_mode": None,
                              "network_isolation": None, **changes}  # fmt: skip
    check_training_choices(TRAINING, ALGORITHM, **values)


def test_a_training_job_of_a_published_algorithm_names_it_and_runs_isolated(example: LoadedManifest) -> None:
    manifest = published_training(example.manifest, TRAINING, ALGORITHM)
    options = TrainingOptions(job_name="decision-trees-261124-010203-456", image="", role=ROLE,
                              output_path="s3://my-bucket/output", channels=DATA,
                              hyperparameters={"criterion": "entropy"})  # fmt: skip
    request = as_published(training_job_request(manifest, options), ALGORITHM)

    kwargs = request.kwargs
    assert kwargs["AlgorithmSpecification"] == {"AlgorithmName": ALGORITHM, "TrainingInputMode": "File"}
    assert kwargs["EnableNetworkIsolation"] is True
    assert kwargs["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"  # the algorithm's first
    assert kwargs["InputDataConfig"][0]["ContentType"] == "text/csv"
    assert botocore_errors(request.operation, kwargs) == ""
    assert request_violations(request, loaded=example) == []
    assert request.origin_of(("AlgorithmSpecification", "AlgorithmName")) == ("--algorithm",)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"depth": "3", "criterion": "gini"}, "-H depth: unknown hyperparameter (defined: criterion, max_leaf_nodes)"),
        ({"max_leaf_nodes": "900", "criterion": "gini"}, "[0] (max_leaf_nodes) allows 2 to 500"),
        ({"criterion": "log_loss"}, "-H criterion: 'log_loss' is not one of"),
        ({}, "-H criterion: required"),
    ],
)
def test_hyperparameters_are_judged_against_the_published_declarations(given: dict[str, str], says: str) -> None:
    with pytest.raises(UsageError) as refused:
        hyperparameter_values(declared_in_published(TRAINING, ALGORITHM), given, hint="fix -H")
    assert refused.value.exit_code == 2 and says in refused.value.message


def test_declared_defaults_are_filled_in() -> None:
    values = hyperparameter_values(declared_in_published(TRAINING, ALGORITHM), {"criterion": "gini"}, hint="")
    assert values == {"criterion": "gini", "max_leaf_nodes": "100"}


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"channels": {"training": "s3://b/t"}}, "--data names channel(s) training that"),
        ({"channels": {"extra": "s3://b/e"}}, "requires channel(s) train, which have no data"),
        ({"input_mode": "Pipe"}, "--input-mode Pipe is not one"),
        ({"channels": {**DATA, "extra": "s3://b/e"}, "input_mode": "File"}, "TrainingChannels[1] (extra) supports"),
        ({"channels": {**DATA, "extra": "s3://b/e"}}, "takes only compressed data (SupportedCompressionTypes: Gzip)"),
        ({"instance_type": "ml.p3.2xlarge"}, "SupportedTrainingInstanceTypes: ml.c5.xlarge, ml.m5.xlarge"),
        ({"instance_count": 2}, "SupportsDistributedTraining is false"),
        ({"network_isolation": False}, "--no-network-isolation with --algorithm"),
    ],
)
def test_training_choices_the_algorithm_does_not_support_exit_2(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(UsageError) as refused:
        choices(**changes)
    assert refused.value.exit_code == 2 and says in refused.value.message


def test_supported_training_choices_pass() -> None:
    choices(instance_type="ml.m5.xlarge", input_mode="File", network_isolation=True)


def test_a_model_of_a_model_package_runs_the_package_isolated(example: LoadedManifest) -> None:
    request = package_model_request(example.manifest, model_name="trees-1", package=PACKAGE, role=ROLE, flags={})
    assert request.kwargs["PrimaryContainer"] == {"ModelPackageName": PACKAGE}
    assert request.kwargs["EnableNetworkIsolation"] is True
    assert botocore_errors(request.operation, request.kwargs) == ""
    assert request_violations(request, loaded=example) == []


def test_a_model_package_of_an_algorithm_and_its_trained_model(example: LoadedManifest) -> None:
    model = "s3://my-bucket/output/job/output/model.tar.gz"
    request = algorithm_package_request(example.manifest, name="trees-1", algorithm=ALGORITHM, model_data=model)
    assert request.kwargs["SourceAlgorithmSpecification"] == {
        "SourceAlgorithms": [{"AlgorithmName": ALGORITHM, "ModelDataUrl": model}]
    }
    assert botocore_errors(request.operation, request.kwargs) == ""
    assert request_violations(request, loaded=example) == []


@pytest.mark.parametrize(
    ("use", "given", "says"),
    [
        ("transform", {"content_type": "text/plain"}, "SupportedContentTypes: application/json, text/csv"),
        ("transform", {"accept": "text/csv"}, "SupportedResponseMIMETypes: application/json"),
        ("transform", {"instance_type": "ml.m5.large"}, "SupportedTransformInstanceTypes: ml.c5.xlarge"),
        ("realtime", {"instance_type": "ml.c5.xlarge"}, "SupportedRealtimeInferenceInstanceTypes: ml.m5.large"),
    ],
)
def test_inference_choices_the_package_does_not_support_exit_2(use: Any, given: dict[str, str], says: str) -> None:
    with pytest.raises(UsageError) as refused:
        check_inference_choices(INFERENCE, f"--model-package {PACKAGE}", use, **given)
    assert refused.value.exit_code == 2 and says in refused.value.message


def test_a_package_without_real_time_instance_types_cannot_be_deployed() -> None:
    batch_only = {**INFERENCE, "SupportedRealtimeInferenceInstanceTypes": []}
    with pytest.raises(UsageError, match="supports no real-time endpoint"):
        check_inference_choices(batch_only, "--model-package p", "realtime")


def test_a_transform_job_of_a_package_defaults_to_what_the_package_supports(example: LoadedManifest) -> None:
    served = inference_manifest(example.manifest, INFERENCE)
    options = TransformOptions(job_name="trees-1", model_name="trees-1", input_uri="s3://b/in", output_uri="s3://b/out")
    kwargs = transform_job_request(served, options).kwargs
    assert kwargs["TransformInput"]["ContentType"] == "application/json"
    assert kwargs["TransformOutput"]["Accept"] == "application/json"
    assert kwargs["TransformResources"]["InstanceType"] == "ml.c5.xlarge"
