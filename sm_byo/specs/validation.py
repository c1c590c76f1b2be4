"""ValidationSpecification: the one profile AWS runs before it accepts an Algorithm or Model Package.

For an algorithm the profile is a training job on ``validation.training_data`` followed by a batch
transform of ``validation.transform_data`` with the model it trained; for a model package, the
transform alone. Local data paths are uploaded before submission: :func:`validation_locations` says
where, so the request (and ``--dry-run``) carries the S3 URIs AWS will read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sm_byo.manifest import ChannelSpec, Manifest, ValidationSpec
from sm_byo.specs.request import Origin, RequestPath, at

PROFILE_NAME = "validation"
VOLUME_SIZE_GB = 10
MAX_RUNTIME_SECONDS = 3600


@dataclass(frozen=True)
class ValidationLocations:
    """The S3 URIs of the validation inputs and outputs of one submission ('' when not derivable)."""

    training_data: str
    transform_data: str
    output: str


def training_instance_count(manifest: Manifest) -> int:
    """Instances of the profile's training job: ``validation.instance_count``, else 2 for an algorithm
    that supports distributed training (the profile then runs the distributed path buyers will use),
    else 1. Both the published profile and ``validate --local`` use it."""
    assert manifest.validation is not None
    if manifest.validation.instance_count is not None:
        return manifest.validation.instance_count
    return 2 if manifest.training is not None and manifest.training.supports_distributed else 1


def _join(prefix: str, *parts: str) -> str:
    return "/".join([prefix.rstrip("/"), *parts]) + "/"


def is_s3(uri: str | None) -> bool:
    return bool(uri) and str(uri).startswith("s3://")


def validation_locations(validation: ValidationSpec, submission: str) -> ValidationLocations:
    """S3 URIs for the profile: given S3 URIs as they are, local data under ``<output>/<submission>/input/``."""
    output = validation.output or ""

    def place(value: str | None, channel: str) -> str:
        if value is None:
            return ""
        if is_s3(value):
            return value
        return _join(output, submission, "input", channel) if output else ""

    return ValidationLocations(
        training_data=place(validation.training_data, "training"),
        transform_data=place(validation.transform_data, "transform"),
        output=_join(output, submission, "output") if output else "",
    )


def validation_channel(manifest: Manifest) -> tuple[int, ChannelSpec] | None:
    """The channel fed with ``validation.training_data``: 'training' if declared, else the first one."""
    if manifest.training is None or not manifest.training.channels:
        return None
    for index, channel in enumerate(manifest.training.channels):
        if channel.name == "training":
            return index, channel
    return 0, manifest.training.channels[0]


def _data_origin(value: str | None, field_name: str) -> Origin:
    """Given S3 data comes from its own field; local data is placed under ``validation.output``."""
    return ("validation", field_name) if is_s3(value) or not value else ("validation", "output")


def _s3_source(uri: str) -> dict[str, Any]:
    return {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}


def training_job_definition(
    manifest: Manifest, where: ValidationLocations, base: RequestPath, origins: dict[RequestPath, Origin]
) -> dict[str, Any]:
    """The profile's TrainingJobDefinition: the validation hyperparameters and data, on
    :func:`training_instance_count` instances."""
    assert manifest.validation is not None
    validation = manifest.validation
    found = validation_channel(manifest)
    index, channel = found if found else (0, ChannelSpec(name="training"))
    mode = "File" if "File" in channel.input_modes else channel.input_modes[0]
    input_path = (*base, "InputDataConfig", 0)
    origins[at(base, "TrainingInputMode")] = ("training", "channels", index, "input_modes")
    origins[at(base, "HyperParameters")] = ("validation", "hyperparameters")
    origins[input_path] = ("validation", "training_data")
    origins[at(input_path, "DataSource", "S3DataSource", "S3Uri")] = _data_origin(
        validation.training_data, "training_data"
    )
    origins[at(input_path, "ChannelName")] = ("training", "channels", index, "name")
    origins[at(input_path, "ContentType")] = ("training", "channels", index, "content_types")
    origins[at(base, "OutputDataConfig")] = ("validation", "output")
    origins[at(base, "ResourceConfig")] = ("validation", "instance_type")
    definition: dict[str, Any] = {
        "TrainingInputMode": mode,
        "HyperParameters": {name: _as_text(value) for name, value in validation.hyperparameters.items()},
        "InputDataConfig": [
            {
                "ChannelName": channel.name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": where.training_data,
                        "S3DataDistributionType": channel.distribution,
                    }
                },
                "ContentType": channel.content_types[0],
                "CompressionType": "None",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": where.output},
        "ResourceConfig": {
            "InstanceType": validation.instance_type,
            "InstanceCount": training_instance_count(manifest),
            "VolumeSizeInGB": VOLUME_SIZE_GB,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
    }
    return definition


def _as_text(value: object) -> str:
    """Hyperparameters travel as strings; booleans the way YAML users write them."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def transform_job_definition(
    manifest: Manifest, where: ValidationLocations, base: RequestPath, origins: dict[RequestPath, Origin]
) -> dict[str, Any]:
    """The profile's TransformJobDefinition: the transform data, split and batched as the manifest says."""
    assert manifest.validation is not None
    validation = manifest.validation
    origins[at(base, "MaxPayloadInMB")] = ("validation", "max_payload_mb")
    origins[at(base, "BatchStrategy")] = ("validation", "strategy")
    origins[at(base, "TransformInput")] = ("validation", "transform_data")
    origins[at(base, "TransformInput", "DataSource", "S3DataSource", "S3Uri")] = _data_origin(
        validation.transform_data, "transform_data"
    )
    origins[at(base, "TransformInput", "ContentType")] = ("validation", "content_type")
    origins[at(base, "TransformInput", "SplitType")] = ("validation", "split_type")
    origins[at(base, "TransformOutput")] = ("validation", "output")
    origins[at(base, "TransformOutput", "Accept")] = ("serving", "accept")
    instance_key = "transform_instance_type" if validation.transform_instance_type else "instance_type"
    origins[at(base, "TransformResources")] = ("validation", instance_key)
    return {
        "MaxPayloadInMB": validation.max_payload_mb,
        "BatchStrategy": validation.strategy,
        "TransformInput": {
            "DataSource": _s3_source(where.transform_data),
            "ContentType": validation.content_type,
            "CompressionType": "None",
            "SplitType": validation.split_type,
        },
        "TransformOutput": {"S3OutputPath": where.output, "Accept": manifest.serving.accept[0]},
        "TransformResources": {
            "InstanceType": validation.transform_instance_type or validation.instance_type,
            "InstanceCount": 1,
        },
    }


def validation_specification(
    manifest: Manifest,
    where: ValidationLocations,
    *,
    with_training: bool,
    base: RequestPath,
    origins: dict[RequestPath, Origin],
) -> dict[str, Any]:
    """ValidationSpecification with exactly one profile (AWS accepts no more)."""
    assert manifest.validation is not None
    profile_path = (*base, "ValidationProfiles", 0)
    origins[base] = ("validation",)
    origins[at(base, "ValidationRole")] = ("validation", "role")
    origins[profile_path] = ("validation",)
    profile: dict[str, Any] = {"ProfileName": PROFILE_NAME}
    if with_training:
        profile["TrainingJobDefinition"] = training_job_definition(
            manifest, where, (*profile_path, "TrainingJobDefinition"), origins
        )
    profile["TransformJobDefinition"] = transform_job_definition(
        manifest, where, (*profile_path, "TransformJobDefinition"), origins
    )
    spec: dict[str, Any] = {}
    if manifest.validation.role is not None:
        spec["ValidationRole"] = manifest.validation.role
    spec["ValidationProfiles"] = [profile]
    return spec
