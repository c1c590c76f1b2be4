"""What a command was asked to do, as one frozen object per command (the CLI fills it, the core reads it).

Each command runs in one of two places, and some flags only mean something in one of them (``--role``
names the IAM role SageMaker assumes; ``--out`` is where a local run writes). A flag given for the
other place is a mistake to report, not to ignore: :meth:`CommandOptions.refuse_other_mode` names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sm_byo.errors import UsageError

# Flags that belong to one mode only, per command (the rest mean the same in both).
# A training job's cloud-only flags: `tune` runs that training job in every trial, so they are its too.
TRAINING_CLOUD_ONLY = frozenset(
    {
        "--role",
        "--logs/--no-logs",
        "--wait/--no-wait",
        "--timeout",
        "--profile",
        "--region",
        # No local meaning (docs/local.md): a VPC, KMS keys and traffic between instances are AWS's.
        "--vpc-subnets",
        "--vpc-security-groups",
        "--volume-kms-key",
        "--output-kms-key",
        "--inter-container-encryption/--no-inter-container-encryption",
    }
)
CLOUD_ONLY: Mapping[str, frozenset[str]] = {
    # A published algorithm or model package runs on SageMaker only (docs/local.md).
    "train": TRAINING_CLOUD_ONLY | {"--algorithm"},
    "transform": frozenset(
        {
            "--role",
            "--download",
            "--wait/--no-wait",
            "--timeout",
            "--profile",
            "--region",
            "--algorithm",
            "--model-package",
        }
    ),
    # A published algorithm runs on SageMaker only; warm start reads parent tuning jobs SageMaker ran
    # (a local study resumes from its --out instead: docs/local.md).
    "tune": TRAINING_CLOUD_ONLY | {"--algorithm", "--warm-start-from", "--warm-start-type"},
}
LOCAL_ONLY: Mapping[str, frozenset[str]] = {
    "train": frozenset({"--out"}),
    # Locally, buyers' conditions (docs/local.md); a SageMaker job's model sets EnableNetworkIsolation itself.
    "transform": frozenset({"--network-isolation/--no-network-isolation"}),
    "tune": frozenset({"--out"}),
}


@dataclass(frozen=True)
class CloudOptions:
    """Where and how a cloud command talks to AWS."""

    profile: str | None = None
    region: str | None = None
    wait: bool = True
    timeout: float | None = None
    logs: bool = True

    @property
    def resume_flags(self) -> str:
        """The --profile/--region part of a resume command, so `smbyo wait` looks in the same place."""
        flags = ""
        if self.profile:
            flags += f" --profile {self.profile}"
        if self.region:
            flags += f" --region {self.region}"
        return flags


@dataclass(frozen=True)
class CommandOptions:
    """Shared by the commands that run locally or on SageMaker."""

    command: str
    local: bool = False
    dry_run: bool = False
    image: str | None = None
    cloud: CloudOptions = field(default_factory=CloudOptions)
    given: frozenset[str] = frozenset()  # the flags given on the command line (not defaults)

    def refuse_other_mode(self) -> None:
        """Exit 2 naming a flag that only means something in the other mode (it would be ignored)."""
        other = CLOUD_ONLY.get(self.command, frozenset()) if self.local else LOCAL_ONLY.get(self.command, frozenset())
        wrong = sorted(self.given & other)
        if wrong:
            where = "on SageMaker (without --local)" if self.local else "with --local"
            raise UsageError(
                f"{', '.join(wrong)} only applies {where}; `smbyo {self.command}"
                f"{' --local' if self.local else ''}` would ignore it",
                hint=f"Drop {wrong[0]}, or run {'without' if self.local else 'with'} --local.",
                details={"flags": wrong},
            )


@dataclass(frozen=True)
class TrainingJobSettings:
    """The training job's own settings as given on the command line; None (or empty) leaves the manifest's
    ``training.job`` value, which each of them overrides (sm_byo.specs.training records which gave what)."""

    instance_count: int | None = None
    volume_size_gb: int | None = None
    max_runtime_seconds: int | None = None
    spot: bool | None = None
    max_wait_seconds: int | None = None
    checkpoint_uri: str | None = None  # s3:// on SageMaker; a local directory with --local (named as file://)
    checkpoint_local_path: str | None = None
    vpc_subnets: tuple[str, ...] | None = None
    vpc_security_group_ids: tuple[str, ...] | None = None
    volume_kms_key: str | None = None
    output_kms_key: str | None = None
    network_isolation: bool | None = None
    inter_container_encryption: bool | None = None
    environment: Mapping[str, str] = field(default_factory=dict)  # added to training.job.environment
    tags: Mapping[str, str] = field(default_factory=dict)  # added to the manifest's tags
    distribution: Mapping[str, str] = field(default_factory=dict)  # channel -> S3DataDistributionType


@dataclass(frozen=True)
class TrainCommand(CommandOptions):
    """``smbyo train``."""

    command: str = "train"
    data: Mapping[str, str] = field(default_factory=dict)
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    input_mode: str | None = None
    instance_type: str | None = None
    role: str | None = None
    out: Path = Path("output")
    job: TrainingJobSettings = field(default_factory=TrainingJobSettings)
    algorithm: str | None = None  # a published algorithm (name or ARN) to train instead of the image


@dataclass(frozen=True)
class DataProcessing:
    """CreateTransformJob.DataProcessing: what to send of each input record, whether to join each output record
    with its input record, and what to keep of the result (None: SageMaker's default, ``$`` / ``None``).
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html"""

    input_filter: str | None = None
    join_source: str | None = None
    output_filter: str | None = None

    def to_request(self) -> dict[str, str]:
        """The request's DataProcessing: only the values given (empty when none is)."""
        values = {"InputFilter": self.input_filter, "JoinSource": self.join_source, "OutputFilter": self.output_filter}
        return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class TransformCommand(CommandOptions):
    """``smbyo transform``: local paths with --local; on SageMaker an S3 output, S3 or local input, and
    an S3 model artifact or the name of an existing model."""

    command: str = "transform"
    model: str = ""
    input: str = ""
    output: str = ""
    content_type: str | None = None
    accept: str | None = None
    split_type: str = "Line"
    strategy: str | None = None
    max_payload_mb: int | None = None
    concurrency: int | None = None
    invocations_max_retries: int | None = None
    instance_type: str | None = None
    instance_count: int | None = None  # None: the manifest's inference.transform_instance_count
    environment: Mapping[str, str] = field(default_factory=dict)
    output_kms_key: str | None = None
    volume_kms_key: str | None = None
    assemble_with: str = "Line"
    data_processing: DataProcessing = field(default_factory=DataProcessing)
    role: str | None = None
    download: Path | None = None
    # A published product instead of the image: a model package (name or ARN), or an algorithm whose trained
    # model (``model``, on S3) becomes a model package first.
    model_package: str | None = None
    algorithm: str | None = None
    network_isolation: bool = True  # locally: buyers' conditions (CreateModel.EnableNetworkIsolation)

    def __post_init__(self) -> None:
        check_model_source(self.model, self.model_package, self.algorithm)


def check_model_source(model: str, model_package: str | None, algorithm: str | None) -> None:
    """One model to serve: ``--model`` (the image's artifact, or an existing model), ``--model-package``, or
    ``--algorithm`` with ``--model`` (the algorithm's trained artifact); anything else is refused (exit 2)."""
    if model_package and (model or algorithm):
        other = "--algorithm" if algorithm else "--model"
        raise UsageError(
            f"--model-package {model_package} and {other}: a model package brings its own model",
            hint=f"Drop {other}, or drop --model-package.",
            details={"flags": ["--model-package", other]},
        )
    if not model and not model_package:
        needs = f"--algorithm {algorithm} needs the model it trained" if algorithm else "no model to serve"
        raise UsageError(
            f"{needs}: give --model" + ("" if algorithm else " or --model-package"),
            hint="e.g. --model s3://BUCKET/.../model.tar.gz (the model_artifacts `smbyo train` printed)"
            + ("" if algorithm else ", or --model-package NAME|ARN"),
        )


@dataclass(frozen=True)
class DeployCommand(CommandOptions):
    """``smbyo deploy``: a model artifact on S3 behind a real-time endpoint."""

    command: str = "deploy"
    model_data: str = ""
    name: str | None = None
    instance_type: str | None = None
    instance_count: int = 1
    role: str | None = None
    model_package: str | None = None  # as TransformCommand's
    algorithm: str | None = None

    def __post_init__(self) -> None:
        check_model_source(self.model_data, self.model_package, self.algorithm)


@dataclass(frozen=True)
class PublishCommand(CommandOptions):
    """``smbyo publish algorithm|model-package`` (``model_data`` for a model package)."""

    command: str = "publish"
    model_data: str | None = None


@dataclass(frozen=True)
class ListingCommand(CommandOptions):
    """``smbyo publish listing``: add a version to an AWS Marketplace ML product (``arn``: what it lists, else the
    manifest's marketplace.algorithm_name / model_package_name), or change one (``update``: its delivery option
    id or its version title, resolved through DescribeEntity) or withdraw some (``restrict``, the same).
    ``validate``: the change set's Intent is VALIDATE (checked, not applied)."""

    command: str = "publish"
    arn: str | None = None
    validate: bool = False
    update: str | None = None
    restrict: tuple[str, ...] = ()


@dataclass(frozen=True)
class TuneCommand(CommandOptions):
    """``smbyo tune``: a hyperparameter tuning job whose trials are the training job ``smbyo train`` would
    run with the same training options (channels, static hyperparameters, instance, job settings).

    ``ranges``: ``--range NAME=SPEC`` as given (``2:500``, ``0.01:1:Logarithmic``, ``gini,entropy``), each
    narrowing the manifest's range of a tunable hyperparameter. ``out``: where a local run writes the best
    model and the trial tables (and resumes from). ``algorithm``: tune a published algorithm (cloud) by
    name or ARN instead of this manifest's image."""

    command: str = "tune"
    data: Mapping[str, str] = field(default_factory=dict)
    hyperparameters: Mapping[str, str] = field(default_factory=dict)  # static: -H NAME=VALUE
    input_mode: str | None = None
    instance_type: str | None = None
    role: str | None = None
    job: TrainingJobSettings = field(default_factory=TrainingJobSettings)
    strategy: str = "Bayesian"  # Bayesian | Random | Hyperband | Grid
    max_jobs: int | None = None  # ResourceLimits.MaxNumberOfTrainingJobs (None: the builder's default)
    max_parallel_jobs: int = 1  # ResourceLimits.MaxParallelTrainingJobs
    ranges: Mapping[str, str] = field(default_factory=dict)
    early_stopping: str = "Off"  # TrainingJobEarlyStoppingType: Off | Auto
    warm_start_from: tuple[str, ...] = ()  # parent tuning job names
    warm_start_type: str = "IdenticalDataAndAlgorithm"  # or TransferLearning
    algorithm: str | None = None
    out: Path = Path("tuning")
    hyperband_min_resource: int | None = None  # HyperbandStrategyConfig.MinResource (None: 1)
    hyperband_max_resource: int | None = None  # HyperbandStrategyConfig.MaxResource (None: read from the epochs)
    random_seed: int | None = None  # HyperParameterTuningJobConfig.RandomSeed: the same seed, the same search


DELETE_KINDS = ("endpoint", "model", "algorithm", "model-package", "project")


@dataclass(frozen=True)
class DeleteCommand:
    """``smbyo delete KIND NAME...`` (``names``: names or ARNs) or ``smbyo delete project`` (``data``: also the S3
    objects smbyo uploaded for the project; ``images``: the ECR tags the project's resources run). ``legacy``: the
    one-argument ``smbyo delete ENDPOINT`` of earlier versions, whose result keeps its old shape."""

    kind: str
    names: tuple[str, ...] = ()
    dry_run: bool = False
    data: bool = False
    images: bool = False
    legacy: bool = False
    cloud: CloudOptions = field(default_factory=CloudOptions)
