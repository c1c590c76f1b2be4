"""CreateTrainingJob's request, built from the manifest and the command's options (pure: no I/O).

The same request runs on SageMaker and in local Docker (``sm_byo.local.training.run_training_job``);
a local request names its data as ``file://`` URIs. Checks what SageMaker would only reject after
an upload (unknown or missing channels, an input mode the manifest does not allow, a malformed
instance type) and raises :class:`UsageError` naming the flag or manifest field to change.
Request reference: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import ChannelSpec, Manifest, TrainingSpec
from sm_byo.rules import instance_type_problem
from sm_byo.specs.request import Origin, Request, RequestPath

# SageMaker's defaults when a request leaves them out (ResourceConfig, StoppingCondition).
DEFAULT_VOLUME_GB = 30
DEFAULT_MAX_RUNTIME_SECONDS = 24 * 3600
# A local plan has no IAM role; CreateTrainingJob requires one, so the request carries this stand-in.
LOCAL_ROLE = "arn:aws:iam::000000000000:role/smbyo-local"


@dataclass(frozen=True)
class TrainingOptions:
    """Everything a training request needs besides the manifest (values already chosen)."""

    job_name: str
    image: str
    role: str
    output_path: str
    channels: Mapping[str, str]  # channel -> s3:// (SageMaker) or file:// (local) URI
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    instance_type: str | None = None
    instance_count: int = 1
    input_mode: str | None = None
    volume_gb: int = DEFAULT_VOLUME_GB
    max_runtime_seconds: int = DEFAULT_MAX_RUNTIME_SECONDS
    environment: Mapping[str, str] = field(default_factory=dict)
    # Which flag gave each value (for pre-flight messages); channels are always --data.
    flags: Mapping[str, str] = field(default_factory=dict)


def training_spec(manifest: Manifest) -> TrainingSpec:
    if manifest.training is None:
        raise UsageError(
            f"{manifest.name} has no `training:` section, so it cannot be trained",
            hint="Add a training section to smbyo.yaml (see `smbyo init`), or deploy a model with `smbyo deploy`.",
        )
    return manifest.training


def check_instance_type(value: str, flag: str) -> str:
    problem = instance_type_problem(value)
    if problem:
        raise UsageError(f"{flag} {problem}", hint=f"Use e.g. {flag} ml.m5.large.")
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
            f"(declared: {', '.join(sorted(declared)) or 'none'})",
            hint="Use a channel listed under training.channels in smbyo.yaml, or add it there.",
        )
    missing = [channel.name for channel in spec.channels if channel.required and channel.name not in channels]
    if missing:
        raise UsageError(
            f"required channel(s) {', '.join(missing)} have no data",
            hint=f"Pass --data {missing[0]}=PATH_OR_S3_URI (or mark the channel `required: false` in smbyo.yaml).",
        )


def input_mode(channel: ChannelSpec, override: str | None) -> str:
    """The channel's input mode: ``--input-mode`` when the channel allows it, else its first."""
    if override is None:
        return channel.input_modes[0]
    if override not in channel.input_modes:
        raise UsageError(
            f"--input-mode {override} is not allowed for channel {channel.name!r} "
            f"(training.channels input_modes: {', '.join(channel.input_modes)})",
            hint=f"Drop --input-mode, or add {override} to the channel's input_modes in smbyo.yaml.",
        )
    return override


def _channel_request(channel: ChannelSpec, uri: str, mode: str) -> dict[str, Any]:
    # CompressionType applies to Pipe mode only; File-mode data is handed over as it is stored
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Channel.html#sagemaker-Type-Channel-CompressionType).
    return {
        "ChannelName": channel.name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        },
        "ContentType": channel.content_types[0],
        "CompressionType": "None",
        "InputMode": mode,
    }


def _origins(spec: TrainingSpec, options: TrainingOptions, channel_names: list[str]) -> dict[RequestPath, Origin]:
    by_name = {channel.name: index for index, channel in enumerate(spec.channels)}
    origins: dict[RequestPath, Origin] = {
        ("TrainingJobName",): ("name",),
        ("AlgorithmSpecification", "TrainingImage"): (options.flags.get("image", "--image"),),
        ("AlgorithmSpecification", "MetricDefinitions"): ("training", "metrics"),
        ("RoleArn",): (options.flags["role"],) if "role" in options.flags else ("validation", "role"),
        ("ResourceConfig", "InstanceType"): (options.flags["instance_type"],)
        if "instance_type" in options.flags
        else ("training", "instance_types", 0),
        ("HyperParameters",): ("-H",),
        ("Tags",): ("tags",),
    }
    if "output" in options.flags:
        origins[("OutputDataConfig",)] = (options.flags["output"],)
    for index, name in enumerate(channel_names):
        manifest_index = by_name[name]
        origins[("InputDataConfig", index)] = ("training", "channels", manifest_index)
        origins[("InputDataConfig", index, "DataSource")] = ("--data",)
        origins[("InputDataConfig", index, "InputMode")] = (
            ("--input-mode",) if options.input_mode else ("training", "channels", manifest_index, "input_modes", 0)
        )
    metrics: RequestPath = ("AlgorithmSpecification", "MetricDefinitions")
    for index in range(len(spec.metrics)):
        origins[(*metrics, index)] = ("training", "metrics", index)
        origins[(*metrics, index, "Regex")] = ("training", "metrics", index, "regex")
        origins[(*metrics, index, "Name")] = ("training", "metrics", index, "name")
    return origins


def training_job_request(manifest: Manifest, options: TrainingOptions) -> Request:
    """The ``CreateTrainingJob`` request, each value remembering the manifest field or flag behind it."""
    spec = training_spec(manifest)
    check_channels(spec, options.channels)
    instance_type = check_instance_type(options.instance_type or spec.instance_types[0], "--instance-type")
    by_name = {channel.name: channel for channel in spec.channels}
    names = sorted(options.channels)
    modes = {name: input_mode(by_name[name], options.input_mode) for name in names}
    kwargs: dict[str, Any] = {
        "TrainingJobName": options.job_name,
        "AlgorithmSpecification": {
            "TrainingImage": options.image,
            # The job's default mode; each channel's own InputMode overrides it.
            "TrainingInputMode": modes[names[0]] if names else (options.input_mode or "File"),
            "MetricDefinitions": [{"Name": metric.name, "Regex": metric.regex} for metric in spec.metrics],
        },
        "RoleArn": options.role,
        "InputDataConfig": [_channel_request(by_name[name], options.channels[name], modes[name]) for name in names],
        "OutputDataConfig": {"S3OutputPath": options.output_path},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": options.instance_count,
            "VolumeSizeInGB": options.volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": options.max_runtime_seconds},
        "HyperParameters": dict(options.hyperparameters),
    }
    if options.environment:
        kwargs["Environment"] = dict(options.environment)
    if manifest.tags:
        kwargs["Tags"] = tags(manifest)
    return Request("CreateTrainingJob", kwargs, _origins(spec, options, names))
