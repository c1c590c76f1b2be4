"""CreateAlgorithm from the manifest: TrainingSpecification, InferenceSpecification, validation, tags.

Pure: no I/O. The image URI, the submission name and the S3 locations of the validation data are
inputs, decided by the caller (``sm_byo.cloud.publish``) so that ``--dry-run`` shows exactly what is sent.
"""

from __future__ import annotations

from typing import Any

from sm_byo.manifest import Manifest, TrainingSpec
from sm_byo.specs.hyperparameters import supported_hyperparameters
from sm_byo.specs.names import PROJECT_TAG, project_tags
from sm_byo.specs.request import Origin, Request, RequestPath, at
from sm_byo.specs.validation import ValidationLocations, validation_specification

IMAGE_FLAG: Origin = ("--image",)


def _channels(training: TrainingSpec, origins: dict[RequestPath, Origin]) -> list[dict[str, Any]]:
    base: RequestPath = ("TrainingSpecification", "TrainingChannels")
    fields = {
        "Name": "name",
        "Description": "description",
        "IsRequired": "required",
        "SupportedContentTypes": "content_types",
        "SupportedCompressionTypes": "compression_types",
        "SupportedInputModes": "input_modes",
    }
    channels = []
    for index, channel in enumerate(training.channels):
        origins[at(base, index)] = ("training", "channels", index)
        for member, field_name in fields.items():
            origins[at(base, index, member)] = ("training", "channels", index, field_name)
        item: dict[str, Any] = {"Name": channel.name}
        if channel.description:
            item["Description"] = channel.description
        item.update(
            IsRequired=channel.required,
            SupportedContentTypes=list(channel.content_types),
            SupportedCompressionTypes=list(channel.compression_types),
            SupportedInputModes=list(channel.input_modes),
        )
        channels.append(item)
    return channels


def _metrics(training: TrainingSpec, origins: dict[RequestPath, Origin]) -> list[dict[str, str]]:
    base: RequestPath = ("TrainingSpecification", "MetricDefinitions")
    for index in range(len(training.metrics)):
        origins[at(base, index)] = ("training", "metrics", index)
        origins[at(base, index, "Name")] = ("training", "metrics", index, "name")
        origins[at(base, index, "Regex")] = ("training", "metrics", index, "regex")
    return [{"Name": metric.name, "Regex": metric.regex} for metric in training.metrics]


def training_specification(training: TrainingSpec, image: str, origins: dict[RequestPath, Origin]) -> dict[str, Any]:
    """TrainingSpecification: what the algorithm's training image accepts."""
    base: RequestPath = ("TrainingSpecification",)
    origins[base] = ("training",)
    origins[at(base, "TrainingImage")] = IMAGE_FLAG
    origins[at(base, "SupportedTrainingInstanceTypes")] = ("training", "instance_types")
    origins[at(base, "SupportsDistributedTraining")] = ("training", "supports_distributed")
    origins[at(base, "SupportedHyperParameters")] = ("training", "hyperparameters")
    origins[at(base, "MetricDefinitions")] = ("training", "metrics")
    origins[at(base, "TrainingChannels")] = ("training", "channels")
    origins[at(base, "SupportedTuningJobObjectiveMetrics")] = ("training", "tuning_objective")
    spec: dict[str, Any] = {
        "TrainingImage": image,
        "SupportedHyperParameters": supported_hyperparameters(training, (*base, "SupportedHyperParameters"), origins),
        "SupportedTrainingInstanceTypes": list(training.instance_types),
        "SupportsDistributedTraining": training.supports_distributed,
        "MetricDefinitions": _metrics(training, origins),
        "TrainingChannels": _channels(training, origins),
    }
    if training.tuning_objective is not None:
        origins[at(base, "SupportedTuningJobObjectiveMetrics", 0, "MetricName")] = (
            "training",
            "tuning_objective",
            "metric",
        )
        spec["SupportedTuningJobObjectiveMetrics"] = [
            {"Type": training.tuning_objective.type, "MetricName": training.tuning_objective.metric}
        ]
    return spec


def inference_specification(
    manifest: Manifest, image: str, origins: dict[RequestPath, Origin], *, model_data: str | None = None
) -> dict[str, Any]:
    """InferenceSpecification: the serving container (and, for a model package, its model artifact)."""
    base: RequestPath = ("InferenceSpecification",)
    origins[base] = ("inference",)
    origins[at(base, "Containers", 0, "Image")] = IMAGE_FLAG
    origins[at(base, "Containers", 0, "ModelDataUrl")] = ("--model-data",)
    origins[at(base, "SupportedTransformInstanceTypes")] = ("inference", "transform_instance_types")
    origins[at(base, "SupportedRealtimeInferenceInstanceTypes")] = ("inference", "realtime_instance_types")
    origins[at(base, "SupportedContentTypes")] = ("serving", "content_types")
    origins[at(base, "SupportedResponseMIMETypes")] = ("serving", "accept")
    container: dict[str, Any] = {"Image": image}
    if model_data is not None:
        container["ModelDataUrl"] = model_data
    spec: dict[str, Any] = {"Containers": [container]}
    if manifest.inference.transform_instance_types:
        spec["SupportedTransformInstanceTypes"] = list(manifest.inference.transform_instance_types)
    if manifest.inference.realtime_instance_types:
        spec["SupportedRealtimeInferenceInstanceTypes"] = list(manifest.inference.realtime_instance_types)
    spec["SupportedContentTypes"] = list(manifest.serving.content_types)
    spec["SupportedResponseMIMETypes"] = list(manifest.serving.accept)
    return spec


def tags(manifest: Manifest, origins: dict[RequestPath, Origin]) -> list[dict[str, str]]:
    """Tags as AWS wants them (a list of Key/Value), in the manifest's order, then smbyo's project tag."""
    merged = project_tags(manifest)
    for index, key in enumerate(merged):
        origins[("Tags", index)] = ("name",) if key == PROJECT_TAG else ("tags", key)
    return [{"Key": key, "Value": value} for key, value in merged.items()]


def create_algorithm_request(
    manifest: Manifest, *, image: str, name: str, locations: ValidationLocations, inference_image: str | None = None
) -> Request:
    """The CreateAlgorithm kwargs for ``manifest``, registering ``image`` as ``name``.

    CreateAlgorithm names its training image (TrainingSpecification.TrainingImage, "the Amazon ECR registry
    path of the Docker image that contains the training algorithm") apart from its serving ones
    (InferenceSpecification.Containers[].Image, "the Amazon ECR path where the inference code is stored"):
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrainingSpecification.html and
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelPackageContainerDefinition.html.
    ``inference_image`` (image.inference's image) goes to the latter; without it ``image`` does both."""
    origins: dict[RequestPath, Origin] = {
        ("AlgorithmName",): ("name",),
        ("AlgorithmDescription",): ("description",),
        ("ValidationSpecification",): ("validation",),
        ("TrainingSpecification",): ("training",),
        ("CertifyForMarketplace",): ("marketplace", "certify"),
    }
    kwargs: dict[str, Any] = {"AlgorithmName": name}
    if manifest.description:
        kwargs["AlgorithmDescription"] = manifest.description
    training = manifest.training
    if training is not None:
        kwargs["TrainingSpecification"] = training_specification(training, image, origins)
    kwargs["InferenceSpecification"] = inference_specification(manifest, inference_image or image, origins)
    if manifest.validation is not None:
        kwargs["ValidationSpecification"] = validation_specification(
            manifest, locations, with_training=True, base=("ValidationSpecification",), origins=origins
        )
    kwargs["CertifyForMarketplace"] = manifest.marketplace.certify
    kwargs["Tags"] = tags(manifest, origins)
    return Request("CreateAlgorithm", kwargs, origins)
