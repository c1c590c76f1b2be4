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
from sm_byo.manifest import ChannelSpec, Manifest, TrainingJobSpec, TrainingSpec
from sm_byo.options import TrainingJobSettings
from sm_byo.rules import instance_type_problem
from sm_byo.specs.names import project_tags
from sm_byo.specs.request import Origin, Request, RequestPath

# A local plan has no IAM role; CreateTrainingJob requires one, so the request carries this stand-in.
LOCAL_ROLE = "arn:aws:iam::000000000000:role/smbyo-local"
# CheckpointConfig.LocalPath's default: "The default directory is /opt/ml/checkpoints/"
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CheckpointConfig.html).
DEFAULT_CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
JOB: Origin = ("training", "job")  # the manifest's defaults of these settings


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
    input_mode: str | None = None
    # The command line's job settings; each one left None takes training.job's value.
    job: TrainingJobSettings = field(default_factory=TrainingJobSettings)
    # False: leave out training.job.checkpoint (a local run cannot use an s3:// location; it says so).
    checkpoint_from_manifest: bool = True
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
    """The manifest's tags and smbyo's project tag (``names.project_tags``), sorted by key."""
    return [{"Key": key, "Value": value} for key, value in sorted(project_tags(manifest).items())]


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


def check_distribution(spec: TrainingSpec, distribution: Mapping[str, str], channels: Mapping[str, str]) -> None:
    """``--distribution`` names channels this job reads (its value is pre-flight's: S3DataDistribution's enum)."""
    declared = {channel.name for channel in spec.channels}
    for name in sorted(distribution):
        if name not in declared:
            raise UsageError(
                f"--distribution names channel {name!r}, which the manifest does not declare "
                f"(declared: {', '.join(sorted(declared))})",
                hint="Use a channel listed under training.channels in smbyo.yaml, e.g. "
                f"--distribution {sorted(declared)[0]}=ShardedByS3Key.",
            )
        if name not in channels:
            raise UsageError(
                f"--distribution names channel {name!r}, which has no data in this job, so it would be ignored",
                hint=f"Give the channel's data with --data {name}=PATH, or drop --distribution {name}=...",
            )


def _channel_request(channel: ChannelSpec, uri: str, mode: str, distribution: str) -> dict[str, Any]:
    # CompressionType applies to Pipe mode only; File-mode data is handed over as it is stored
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Channel.html#sagemaker-Type-Channel-CompressionType).
    # S3DataDistributionType: every instance gets all the objects (FullyReplicated) or 1/N of them (ShardedByS3Key)
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html).
    return {
        "ChannelName": channel.name,
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": distribution}
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
        origins[("InputDataConfig", index, "DataSource", "S3DataSource", "S3DataDistributionType")] = (
            ("--distribution",)
            if name in options.job.distribution
            else ("training", "channels", manifest_index, "distribution")
        )
    metrics: RequestPath = ("AlgorithmSpecification", "MetricDefinitions")
    for index in range(len(spec.metrics)):
        origins[(*metrics, index)] = ("training", "metrics", index)
        origins[(*metrics, index, "Regex")] = ("training", "metrics", index, "regex")
        origins[(*metrics, index, "Name")] = ("training", "metrics", index, "name")
    return origins


class _JobFields:
    """The job settings' request fields, each from its flag when given, else from training.job, with its origin.

    Request reference: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html
    (ResourceConfig, StoppingCondition, EnableManagedSpotTraining, CheckpointConfig, VpcConfig, Environment,
    EnableNetworkIsolation, EnableInterContainerTrafficEncryption, OutputDataConfig.KmsKeyId, Tags).
    """

    def __init__(self, defaults: TrainingJobSpec, given: TrainingJobSettings) -> None:
        self.defaults = defaults
        self.given = given
        self.origins: dict[RequestPath, Origin] = {}

    def pick(self, path: RequestPath, attribute: str, flag: str, default: Any, loc: Origin) -> Any:
        """The flag's value (``given.<attribute>``) if given, else ``default`` (the manifest's, at ``loc``)."""
        value = getattr(self.given, attribute)
        if value is not None:
            self.origins[path] = (flag,)
            return value
        self.origins[path] = (*JOB, *loc)
        return default

    def resources(self, instance_type: str) -> dict[str, Any]:
        defaults = self.defaults
        resources: dict[str, Any] = {
            "InstanceType": instance_type,
            "InstanceCount": self.pick(
                ("ResourceConfig", "InstanceCount"), "instance_count", "--instance-count",
                defaults.instance_count, ("instance_count",),
            ),
            "VolumeSizeInGB": self.pick(
                ("ResourceConfig", "VolumeSizeInGB"), "volume_size_gb", "--volume-size",
                defaults.volume_size_gb, ("volume_size_gb",),
            ),
        }  # fmt: skip
        kms = self.pick(
            ("ResourceConfig", "VolumeKmsKeyId"), "volume_kms_key", "--volume-kms-key",
            defaults.volume_kms_key, ("volume_kms_key",),
        )  # fmt: skip
        if kms is not None:
            resources["VolumeKmsKeyId"] = kms
        return resources

    def stopping(self, spot: bool) -> dict[str, Any]:
        """MaxRuntimeInSeconds, and MaxWaitTimeInSeconds from --max-wait, or from training.job.spot when the job
        uses spot (so --no-spot turns the manifest's spot section off whole; --max-wait alone is pre-flight's)."""
        stopping: dict[str, Any] = {
            "MaxRuntimeInSeconds": self.pick(
                ("StoppingCondition", "MaxRuntimeInSeconds"), "max_runtime_seconds", "--max-runtime",
                self.defaults.max_runtime_seconds, ("max_runtime_seconds",),
            )
        }  # fmt: skip
        wait = self.pick(
            ("StoppingCondition", "MaxWaitTimeInSeconds"), "max_wait_seconds", "--max-wait",
            self.defaults.spot.max_wait_seconds if spot else None, ("spot", "max_wait_seconds"),
        )  # fmt: skip
        if wait is not None:
            stopping["MaxWaitTimeInSeconds"] = wait
        return stopping

    def switches(self) -> dict[str, bool]:
        """The job's boolean settings, in the request only when on (off is SageMaker's default)."""
        defaults = self.defaults
        chosen = {
            "EnableManagedSpotTraining": self.pick(
                ("EnableManagedSpotTraining",), "spot", "--spot/--no-spot", defaults.spot.enabled, ("spot", "enabled")
            ),
            "EnableNetworkIsolation": self.pick(
                ("EnableNetworkIsolation",), "network_isolation", "--network-isolation/--no-network-isolation",
                defaults.network_isolation, ("network_isolation",),
            ),
            "EnableInterContainerTrafficEncryption": self.pick(
                ("EnableInterContainerTrafficEncryption",), "inter_container_encryption",
                "--inter-container-encryption/--no-inter-container-encryption",
                defaults.inter_container_encryption, ("inter_container_encryption",),
            ),
        }  # fmt: skip
        return {key: True for key, value in chosen.items() if value}

    def checkpoint(self, from_manifest: bool) -> dict[str, str] | None:
        manifest = self.defaults.checkpoint if from_manifest else None
        uri = self.pick(
            ("CheckpointConfig", "S3Uri"), "checkpoint_uri", "--checkpoint-uri",
            manifest.s3_uri if manifest else None, ("checkpoint", "s3_uri"),
        )  # fmt: skip
        if uri is None:
            if self.given.checkpoint_local_path is not None:
                raise UsageError(
                    "--checkpoint-local-path needs a checkpoint location to sync, and this job has none",
                    hint="Add --checkpoint-uri (s3://bucket/prefix; a local directory with --local), "
                    "or set training.job.checkpoint.s3_uri in smbyo.yaml.",
                )
            return None
        self.origins[("CheckpointConfig",)] = self.origins[("CheckpointConfig", "S3Uri")]
        local = self.pick(
            ("CheckpointConfig", "LocalPath"), "checkpoint_local_path", "--checkpoint-local-path",
            (manifest.local_path if manifest else None) or DEFAULT_CHECKPOINT_LOCAL_PATH, ("checkpoint", "local_path"),
        )  # fmt: skip
        return {"S3Uri": uri, "LocalPath": local}

    def vpc(self) -> dict[str, list[str]] | None:
        """VpcConfig when subnets or security groups are given (both are required: pre-flight names a missing one)."""
        manifest = self.defaults.vpc
        subnets = self.pick(
            ("VpcConfig", "Subnets"), "vpc_subnets", "--vpc-subnets",
            manifest.subnets if manifest else None, ("vpc", "subnets"),
        )  # fmt: skip
        groups = self.pick(
            ("VpcConfig", "SecurityGroupIds"), "vpc_security_group_ids", "--vpc-security-groups",
            manifest.security_group_ids if manifest else None, ("vpc", "security_group_ids"),
        )  # fmt: skip
        if subnets is None and groups is None:
            return None
        # A missing half (no flag, no vpc: in the manifest) is named by the flag that would give it.
        if subnets is None:
            self.origins[("VpcConfig", "Subnets")] = ("--vpc-subnets",)
        if groups is None:
            self.origins[("VpcConfig", "SecurityGroupIds")] = ("--vpc-security-groups",)
        present = "Subnets" if subnets is not None else "SecurityGroupIds"
        self.origins[("VpcConfig",)] = self.origins[("VpcConfig", present)]
        config: dict[str, list[str]] = {}
        if groups is not None:
            config["SecurityGroupIds"] = list(groups)
        if subnets is not None:
            config["Subnets"] = list(subnets)
        return config

    def output_kms_key(self) -> str | None:
        return self.pick(
            ("OutputDataConfig", "KmsKeyId"), "output_kms_key", "--output-kms-key",
            self.defaults.output_kms_key, ("output_kms_key",),
        )  # fmt: skip

    def environment(self) -> dict[str, str]:
        """training.job.environment with --env added over it; each variable remembers which gave it."""
        merged = dict(self.defaults.environment)
        self.origins[("Environment",)] = ("--env",) if self.given.environment else (*JOB, "environment")
        for key in merged:
            self.origins[("Environment", key)] = (*JOB, "environment", key)
        for key, value in self.given.environment.items():
            merged[key] = value
            self.origins[("Environment", key)] = ("--env",)
        return merged


def _tags(manifest: Manifest, given: Mapping[str, str], origins: dict[RequestPath, Origin]) -> list[dict[str, str]]:
    """The manifest's tags with --job-tag added over them, sorted by key; each remembers which gave it."""
    merged = {**manifest.tags, **given}
    items = sorted(merged.items())
    origins[("Tags",)] = ("--job-tag",) if given else ("tags",)
    for index, (key, _) in enumerate(items):
        origins[("Tags", index)] = ("--job-tag",) if key in given else ("tags", key)
    return [{"Key": key, "Value": value} for key, value in items]


def training_job_request(manifest: Manifest, options: TrainingOptions) -> Request:
    """The ``CreateTrainingJob`` request, each value remembering the manifest field or flag behind it."""
    spec = training_spec(manifest)
    check_channels(spec, options.channels)
    check_distribution(spec, options.job.distribution, options.channels)
    instance_type = check_instance_type(options.instance_type or spec.instance_types[0], "--instance-type")
    by_name = {channel.name: channel for channel in spec.channels}
    names = sorted(options.channels)
    modes = {name: input_mode(by_name[name], options.input_mode) for name in names}
    job = _JobFields(spec.job, options.job)
    distribution = {name: options.job.distribution.get(name, by_name[name].distribution) for name in names}
    kwargs: dict[str, Any] = {
        "TrainingJobName": options.job_name,
        "AlgorithmSpecification": {
            "TrainingImage": options.image,
            # The job's default mode; each channel's own InputMode overrides it.
            "TrainingInputMode": modes[names[0]] if names else (options.input_mode or "File"),
            "MetricDefinitions": [{"Name": metric.name, "Regex": metric.regex} for metric in spec.metrics],
        },
        "RoleArn": options.role,
        "InputDataConfig": [
            _channel_request(by_name[name], options.channels[name], modes[name], distribution[name]) for name in names
        ],
        "OutputDataConfig": {"S3OutputPath": options.output_path},
        "ResourceConfig": job.resources(instance_type),
        "HyperParameters": dict(options.hyperparameters),
        **(switches := job.switches()),
    }
    kwargs["StoppingCondition"] = job.stopping(spot=switches.get("EnableManagedSpotTraining", False))
    if (output_key := job.output_kms_key()) is not None:
        kwargs["OutputDataConfig"]["KmsKeyId"] = output_key
    if (checkpoint := job.checkpoint(options.checkpoint_from_manifest)) is not None:
        kwargs["CheckpointConfig"] = checkpoint
    if (vpc := job.vpc()) is not None:
        kwargs["VpcConfig"] = vpc
    if environment := job.environment():
        kwargs["Environment"] = environment
    origins = {**_origins(spec, options, names), **job.origins}
    if manifest.tags or options.job.tags:
        kwargs["Tags"] = _tags(manifest, options.job.tags, origins)
    return Request("CreateTrainingJob", kwargs, origins)
