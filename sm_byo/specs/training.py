"""CreateTrainingJob's request, built from the manifest and the command's options (pure: no I/O).

Checks what SageMaker would only reject after an upload (unknown or missing channels, an input mode
the manifest does not allow, a malformed instance type) and raises :class:`UsageError` naming the
flag or manifest field to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import INSTANCE_TYPE_PATTERN, ChannelSpec, Manifest, TrainingSpec

DEFAULT_VOLUME_GB = 30
DEFAULT_MAX_RUNTIME_SECONDS = 24 * 3600


@dataclass(frozen=True)
class TrainingOptions:
    job_name: str
    image: str
    role: str
    output_path: str
    channels: Mapping[str, str]
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    instance_type: str | None = None
    instance_count: int = 1
    input_mode: str | None = None
    volume_gb: int = DEFAULT_VOLUME_GB
    max_runtime_seconds: int = DEFAULT_MAX_RUNTIME_SECONDS


def training_spec(manifest: Manifest) -> TrainingSpec:
    if manifest.training is None:
        raise UsageError(
            f"{manifest.name} has no `training:` section, so it cannot be trained",
            hint="Add a training section to smbyo.yaml (see `smbyo init`), or deploy a model with `smbyo deploy`.",
        )
    return manifest.training


def check_instance_type(value: str, flag: str) -> str:
    if not INSTANCE_TYPE_PATTERN.match(value):
        raise UsageError(f"{flag} {value!r} is not a SageMaker instance type", hint=f"Use e.g. {flag} ml.m5.large.")
    return value


def tags(manifest: Manifest) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(manifest.tags.items())]


def check_channels(spec: TrainingSpec, channels: Mapping[str, str]) -> None:
    """Every given channel is declared; every required one is given."""
    declared = {channel.name for channel in spec.channels}
    unknown = sorted(set(channels) - declared)
    if unknown:
        raise UsageError(
            f"--data names channel(s) {', '.join(unknown)} that the manifest does not declare "
            f"(declared: {', '.join(sorted(declared))})",
            hint="Use a channel listed under training.channels in smbyo.yaml, or add it there.",
        )
    missing = [channel.name for channel in spec.channels if channel.required and channel.name not in channels]
    if missing:
        raise UsageError(
            f"required channel(s) {', '.join(missing)} have no data",
            hint=f"Pass --data {missing[0]}=PATH_OR_S3_URI (or mark the channel `required: false` in smbyo.yaml).",
        )


def _input_mode(channel: ChannelSpec, override: str | None) -> str:
    if override is None:
        return channel.input_modes[0]
    if override not in channel.input_modes:
        raise UsageError(
            f"--input-mode {override} is not allowed for channel {channel.name!r} "
            f"(training.channels input_modes: {', '.join(channel.input_modes)})",
            hint=f"Drop --input-mode, or add {override} to the channel's input_modes in smbyo.yaml.",
        )
    return override


def _channel_request(channel: ChannelSpec, uri: str, input_mode: str | None) -> dict[str, Any]:
    return {
        "ChannelName": channel.name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        },
        "ContentType": channel.content_types[0],
        "CompressionType": "None",
        "InputMode": _input_mode(channel, input_mode),
    }


def training_job_request(manifest: Manifest, options: TrainingOptions) -> dict[str, Any]:
    """The boto3 ``create_training_job`` keyword arguments."""
    spec = training_spec(manifest)
    check_channels(spec, options.channels)
    instance_type = check_instance_type(options.instance_type or spec.instance_types[0], "--instance-type")
    by_name = {channel.name: channel for channel in spec.channels}
    request: dict[str, Any] = {
        "TrainingJobName": options.job_name,
        "AlgorithmSpecification": {
            "TrainingImage": options.image,
            "TrainingInputMode": _input_mode(spec.channels[0], options.input_mode),
            "MetricDefinitions": [{"Name": metric.name, "Regex": metric.regex} for metric in spec.metrics],
        },
        "RoleArn": options.role,
        "InputDataConfig": [
            _channel_request(by_name[name], uri, options.input_mode) for name, uri in sorted(options.channels.items())
        ],
        "OutputDataConfig": {"S3OutputPath": options.output_path},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": options.instance_count,
            "VolumeSizeInGB": options.volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": options.max_runtime_seconds},
        "HyperParameters": dict(options.hyperparameters),
    }
    if manifest.tags:
        request["Tags"] = tags(manifest)
    return request
