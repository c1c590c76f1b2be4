"""The manifest (``smbyo.yaml``): typed models, validation with line numbers, JSON Schema export.

Validation happens in two passes so that a user sees every problem at once: pydantic checks the
shape (unknown keys, types, enums), then :func:`semantic_problems` checks the rules SageMaker enforces
across fields (ranges, defaults, references between fields). Each problem names the file, the line
and the field path, e.g. ``smbyo.yaml:14 training.hyperparameters[0].max: must be >= min``.

This module performs no network I/O and imports no boto3, docker or jinja.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from sm_byo.errors import ManifestError, ManifestProblem
from sm_byo.rules import (
    AMD64,
    DEBIAN_PACKAGE_PATTERN,
    LISTING_MAX_RELEASE_NOTES,
    MAX_DESCRIPTION_LENGTH,
    MAX_METRICS,
    channel_name_problem,
    debian_package_problem,
    description_problem,
    image_reference_problem,
    instance_architecture,
    instance_type_problem,
    listing_url_problem,
    metric_regex_problem,
    name_problem,
)
from sm_byo.runtime.hyperparameters import value_problem
from sm_byo.runtime.payload import TRANSFORM_DEFAULT_MAX_PAYLOAD_MB, TRANSFORM_MAX_PAYLOAD_MB

DEFAULT_MANIFEST = "smbyo.yaml"
# Hosts a validation profile may train on: smbyo runs them locally too, each a container on one machine.
MAX_VALIDATION_INSTANCES = 4

Loc = tuple[str | int, ...]


class _Model(BaseModel):
    """Base for manifest sections: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def _checked_by(problem: Any) -> AfterValidator:
    """A pydantic check from one of sm_byo.rules' ``*_problem`` functions (the same verdict everywhere)."""

    def check(value: str) -> str:
        found = problem(value)
        if found:
            raise ValueError(found)
        return value

    return AfterValidator(check)


# A value that reaches the Dockerfile: refused here when it could never be valid, and escaped by the
# templates anyway (sm_byo.container's Dockerfile filters), so a value that passes cannot inject either.
DebianPackage = Annotated[
    str,
    _checked_by(debian_package_problem),
    WithJsonSchema({"type": "string", "pattern": DEBIAN_PACKAGE_PATTERN}),
]
ImageReference = Annotated[str, _checked_by(image_reference_problem)]
Description = Annotated[
    str, _checked_by(description_problem), WithJsonSchema({"type": "string", "maxLength": MAX_DESCRIPTION_LENGTH})
]


class InferenceImageSpec(_Model):
    """A serve-only image next to the training one. CreateAlgorithm takes the training image
    (TrainingSpecification.TrainingImage) and the serving images (InferenceSpecification.Containers[].Image)
    separately (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateAlgorithm.html), and a
    model package only the latter: what endpoints and transform instances pull need not carry training's libraries."""

    requirements: str = Field(
        description="pip requirements file of the inference image, relative to the manifest: what load_model and "
        "predict import (smbyo's serving stack, flask, gunicorn and numpy, is always installed).",
    )
    system_packages: list[DebianPackage] = Field(
        default_factory=list,
        description="Extra Debian packages of the inference image (image.system_packages go to the training "
        "image only).",
    )


class ImageSpec(_Model):
    base: ImageReference = Field(
        "python:3.12-slim-bookworm",
        description="Base image: any Debian/Ubuntu image, with or without Python (python3 is installed if missing). "
        "A Docker image reference, [registry[:port]/]name[:tag][@digest].",
    )
    requirements: str | None = Field(
        "requirements.txt",
        description="pip requirements file of the algorithm, relative to the manifest (with image.inference: of the "
        "training image).",
    )
    system_packages: list[DebianPackage] = Field(
        default_factory=list,
        description="Extra Debian packages installed (apt-get) in the final image (with image.inference: the "
        "training image): one name per item, optionally NAME=VERSION.",
    )
    build_packages: list[DebianPackage] = Field(
        default_factory=list,
        description="Debian packages needed only to install the requirements (e.g. build-essential); "
        "they stay in the build stage and never reach the final image.",
    )
    inference: InferenceImageSpec | None = Field(
        None,
        description="Build a second, serve-only image for endpoints and batch transform (tagged "
        "<name>:<tag>-inference); the first one trains. Without it one image does both.",
    )


class CodeSpec(_Model):
    train: str | None = Field("train.py", description="Training code: defines train(env). Null for model-only images.")
    predict: str = Field(
        "predictor.py", description="Inference code: defines load_model(model_dir) and predict(model, rows, context)."
    )
    include: list[str] = Field(
        default_factory=list,
        description="Extra files or directories copied next to the code (relative to the manifest).",
    )


class ServingSpec(_Model):
    workers: int | Literal["auto"] = Field(
        "auto", description="gunicorn worker processes; 'auto' = one per CPU. MODEL_SERVER_WORKERS overrides it."
    )
    timeout_seconds: int = Field(
        60, ge=1, le=3600, description="Per-request timeout (MODEL_SERVER_TIMEOUT overrides it)."
    )
    content_types: list[str] = Field(
        ["text/csv"], min_length=1, description="Request content types accepted by /invocations."
    )
    accept: list[str] = Field(["text/csv"], min_length=1, description="Response MIME types; the first is the default.")

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> Any:
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("must be a positive integer or 'auto'")
        return value


class ChannelSpec(_Model):
    name: str = Field(description="Channel name, e.g. 'training'.")
    description: str | None = Field(None, description="Description of the channel in the algorithm's listing.")
    content_types: list[str] = Field(
        ["text/csv"],
        min_length=1,
        description="SupportedContentTypes of the channel; the first is the ContentType of `smbyo train`'s and "
        "the validation profile's input.",
    )
    input_modes: list[Literal["File", "Pipe", "FastFile"]] = Field(
        ["File"],
        min_length=1,
        description="SupportedInputModes; `smbyo train` uses the first unless `--input-mode` picks another, the "
        "validation profile uses File when listed.",
    )
    compression_types: list[Literal["None", "Gzip"]] = Field(
        ["None"], min_length=1, description="SupportedCompressionTypes buyers may send the channel's data in."
    )
    required: bool = Field(
        True, description="IsRequired: `smbyo train` refuses to start without data for a required channel."
    )
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = Field(
        "FullyReplicated",
        description="S3DataDistributionType of a training job's channel: every instance gets all the data "
        "(FullyReplicated), or each gets 1/N of the objects (ShardedByS3Key). `--distribution CHANNEL=TYPE` "
        "overrides it.",
    )


HyperparameterType = Literal["Integer", "Continuous", "Categorical", "FreeText"]
Scalar = Annotated[str | int | float | bool, Field()]


class HyperparameterSpec(_Model):
    name: str = Field(description="Name the training code reads it by; `-H NAME=VALUE` sets it.")
    type: HyperparameterType = Field(
        description="Type the value is checked and converted to, in `-H` values and in the container."
    )
    description: str | None = Field(None, description="Description shown to buyers in the algorithm's listing.")
    min: float | None = Field(None, description="Inclusive minimum (Integer, Continuous).")
    max: float | None = Field(None, description="Inclusive maximum (Integer, Continuous).")
    values: list[str] | None = Field(None, description="Allowed values (Categorical).")
    default: str | None = Field(None, description="Default value, as a string (SageMaker passes strings).")
    tunable: bool = Field(
        False, description="IsTunable: `smbyo tune` searches it (within min/max or values) unless `-H` fixes it."
    )
    required: bool = Field(
        False, description="IsRequired: a training job without a value for it (`-H NAME=VALUE`, or `default`) fails."
    )
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] | None = Field(
        None, description="ScalingType of its range in `smbyo tune` (`--range NAME=MIN:MAX:Scaling` overrides it)."
    )

    @field_validator("default", mode="before")
    @classmethod
    def _default_as_string(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, int | float):
            return str(value)
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v).lower() if isinstance(v, bool) else str(v) for v in value]
        return value


class MetricSpec(_Model):
    name: str = Field(description="Metric name, as the tuning objective and the training job's metrics name it.")
    regex: str = Field(description="MetricDefinitions Regex: its first group captures the value from the training log.")


class TuningObjective(_Model):
    metric: str = Field(description="Name of one of training.metrics, the metric `smbyo tune` optimizes.")
    type: Literal["Maximize", "Minimize"] = Field(description="Whether a higher or a lower value is better.")


class SpotSpec(_Model):
    enabled: bool = Field(False, description="EnableManagedSpotTraining (`--spot/--no-spot`).")
    max_wait_seconds: int | None = Field(
        None,
        description="StoppingCondition.MaxWaitTimeInSeconds (`--max-wait`): required with spot, at least "
        "max_runtime_seconds; used only when spot is enabled.",
    )


class CheckpointSpec(_Model):
    s3_uri: str = Field(
        description="CheckpointConfig.S3Uri (`--checkpoint-uri`): where SageMaker copies the checkpoints. "
        "Used on SageMaker only; `train --local` takes a local directory with --checkpoint-uri."
    )
    local_path: str | None = Field(
        None, description="CheckpointConfig.LocalPath (`--checkpoint-local-path`); default /opt/ml/checkpoints."
    )


class VpcSpec(_Model):
    subnets: list[str] = Field(description="VpcConfig.Subnets (`--vpc-subnets`): subnet ids, subnet-xxxxxxxx.")
    security_group_ids: list[str] = Field(
        description="VpcConfig.SecurityGroupIds (`--vpc-security-groups`): security group ids, sg-xxxxxxxx."
    )


class TrainingJobSpec(_Model):
    """Defaults of each training job's request (CreateTrainingJob); each has a `smbyo train` flag that overrides it.

    Values are judged where every request is, by pre-flight (the service model and sm_byo.rules).
    """

    instance_count: int = Field(1, description="ResourceConfig.InstanceCount (`--instance-count`).")
    volume_size_gb: int = Field(30, description="ResourceConfig.VolumeSizeInGB (`--volume-size`).")
    max_runtime_seconds: int = Field(
        86400, description="StoppingCondition.MaxRuntimeInSeconds (`--max-runtime`); SageMaker's default, 1 day."
    )
    spot: SpotSpec = Field(default_factory=SpotSpec, description="Managed spot training.")
    checkpoint: CheckpointSpec | None = Field(None, description="CheckpointConfig.")
    vpc: VpcSpec | None = Field(None, description="VpcConfig (SageMaker only).")
    volume_kms_key: str | None = Field(
        None, description="ResourceConfig.VolumeKmsKeyId (`--volume-kms-key`; SageMaker only)."
    )
    output_kms_key: str | None = Field(
        None, description="OutputDataConfig.KmsKeyId (`--output-kms-key`; SageMaker only)."
    )
    environment: dict[str, str] = Field(
        default_factory=dict, description="Environment of the training container (`--env KEY=VALUE` adds or overrides)."
    )
    network_isolation: bool = Field(
        False, description="EnableNetworkIsolation (`--network-isolation/--no-network-isolation`)."
    )
    inter_container_encryption: bool = Field(
        False, description="EnableInterContainerTrafficEncryption (`--inter-container-encryption`; SageMaker only)."
    )

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_as_strings(cls, value: Any) -> Any:
        """`OMP_NUM_THREADS: 4` means the string "4": the container's environment holds strings only."""
        if isinstance(value, dict):
            return {key: str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, int | float) else v
                    for key, v in value.items()}  # fmt: skip
        return value


class TrainingSpec(_Model):
    instance_types: list[str] = Field(
        ["ml.m5.large"],
        min_length=1,
        description="SupportedTrainingInstanceTypes; the first is `smbyo train`'s instance type when "
        "`--instance-type` is not given.",
    )
    supports_distributed: bool = Field(
        False, description="SupportsDistributedTraining: buyers may train on more than one instance."
    )
    channels: list[ChannelSpec] = Field(
        default_factory=lambda: [ChannelSpec(name="training")],
        min_length=1,
        description="TrainingChannels: the input channels the training code reads (`--data CHANNEL=...`).",
    )
    hyperparameters: list[HyperparameterSpec] = Field(
        default_factory=list,
        description="SupportedHyperParameters: what `-H NAME=VALUE` may set and is checked against.",
    )
    metrics: list[MetricSpec] = Field(
        default_factory=list,
        description="MetricDefinitions: metrics SageMaker (and `train --local`) read from the training log.",
    )
    tuning_objective: TuningObjective | None = Field(
        None, description="SupportedTuningJobObjectiveMetrics and `smbyo tune`'s objective."
    )
    job: TrainingJobSpec = Field(default_factory=TrainingJobSpec, description="Defaults of `smbyo train`'s request.")


class InferenceSpec(_Model):
    transform_instance_types: list[str] = Field(
        ["ml.m5.large"],
        description="SupportedTransformInstanceTypes; the first is `smbyo transform`'s instance type when "
        "`--instance-type` is not given.",
    )
    transform_instance_count: int = Field(
        1,
        ge=1,
        description="TransformResources.InstanceCount of `smbyo transform` when --instance-count is not given: "
        "SageMaker spreads the input files over the instances (a local run starts one container per instance).",
    )
    realtime_instance_types: list[str] = Field(
        ["ml.m5.large"],
        description="SupportedRealtimeInferenceInstanceTypes; the first is `smbyo deploy`'s instance type when "
        "`--instance-type` is not given.",
    )


class ValidationSpec(_Model):
    role: str | None = Field(None, description="IAM role ARN AWS assumes to run the validation jobs.")
    instance_type: str = Field(
        "ml.m5.large",
        description="Instance type of the validation profile's training job, and of its transform job unless "
        "transform_instance_type is set.",
    )
    instance_count: int | None = Field(
        None,
        ge=1,
        le=MAX_VALIDATION_INSTANCES,
        description="Instances of the profile's training job (local `validate` runs as many hosts). Default: 2 "
        "when training.supports_distributed is true, so that validation runs the distributed path buyers will "
        "use, else 1.",
    )
    transform_instance_type: str | None = Field(
        None, description="Instance type of the validation profile's transform job. Default: instance_type."
    )
    training_data: str | None = Field(None, description="Local path or s3:// URI of the 'training' channel data.")
    transform_data: str | None = Field(None, description="Local path or s3:// URI of the batch transform input.")
    content_type: str = Field("text/csv", description="ContentType of the validation transform's input.")
    split_type: Literal["None", "Line", "RecordIO", "TFRecord"] = Field(
        "Line", description="SplitType: how the validation transform cuts its input into records."
    )
    strategy: Literal["MultiRecord", "SingleRecord"] = Field(
        "MultiRecord", description="BatchStrategy: several records per request, or one."
    )
    max_payload_mb: int = Field(
        TRANSFORM_DEFAULT_MAX_PAYLOAD_MB,
        ge=0,
        le=TRANSFORM_MAX_PAYLOAD_MB,
        description="MaxPayloadInMB: the largest request body the validation transform sends the container.",
    )
    hyperparameters: dict[str, Scalar] = Field(
        default_factory=dict, description="HyperParameters of the validation training job (values sent as strings)."
    )
    output: str | None = Field(
        None,
        description="s3:// prefix for validation outputs; local training_data and transform_data are uploaded "
        "under it too.",
    )


class EcrSpec(_Model):
    repository: str | None = Field(None, description="ECR repository name; defaults to the manifest's name.")
    tag_mutability: Literal["MUTABLE", "IMMUTABLE"] = Field(
        "MUTABLE", description="imageTagMutability of the repository when `smbyo push` creates it."
    )
    scan_on_push: bool = Field(
        True, description="imageScanningConfiguration.scanOnPush of the repository when `smbyo push` creates it."
    )


class MarketplaceSpec(_Model):
    certify: bool = Field(True, description="CertifyForMarketplace: run AWS's Marketplace validation.")
    algorithm_name: str | None = Field(
        None, description="Fixed AlgorithmName. Default: <name>-<timestamp>, unique per submission."
    )
    model_package_name: str | None = Field(
        None, description="Fixed ModelPackageName. Default: <name>-<timestamp>, unique per submission."
    )


# The `listing:` section: a version of an AWS Marketplace machine learning product (``smbyo publish listing``).
# Field by field the Catalog API's AddDeliveryOptions / UpdatePricingTerms documents for MachineLearningProduct@1.0:
# https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-add-version.html
# https://docs.aws.amazon.com/marketplace/latest/APIReference/update-pricing-terms.html
ListingUrl = Annotated[str, _checked_by(listing_url_problem), WithJsonSchema({"type": "string", "format": "uri"})]
ListingText = Annotated[str, Field(min_length=1)]


class ListingSampleSpec(_Model):
    """A sample the listing page shows: a URL or inline text, for real-time inference and/or batch transform."""

    realtime_url: ListingUrl | None = Field(None, description="RealtimeInferenceUrl: a sample for an endpoint.")
    realtime_text: ListingText | None = Field(None, description="RealtimeInferenceText: the sample itself.")
    batch_url: ListingUrl | None = Field(None, description="BatchTransformUrl: a sample for a transform job.")
    batch_text: ListingText | None = Field(None, description="BatchTransformText: the sample itself.")


class ListingDataSpec(_Model):
    """InputProperties / OutputProperties: what the version reads or writes, with a sample (required by AWS)."""

    description: ListingText = Field(description="Description: what the inputs (or outputs) are.")
    limitations: ListingText | None = Field(None, description="Limitations (inputs only).")
    sample: ListingSampleSpec = Field(description="SampleInput / SampleOutput: at least one of its four fields.")


class ListingVersionSpec(_Model):
    title: ListingText = Field(description="VersionTitle: what buyers pick the version by, e.g. '1.1'.")
    release_notes: ListingText = Field(
        description=f"ReleaseNotes: what changed in this version (under {LISTING_MAX_RELEASE_NOTES} characters)."
    )


class ListingInstanceTypes(_Model):
    """RecommendedInstanceTypes; each defaults to the first supported type of its kind in this manifest."""

    training: str | None = Field(None, description="Training (algorithms only). Default: training.instance_types[0].")
    batch_transform: str | None = Field(
        None, description="BatchTransform. Default: inference.transform_instance_types[0]."
    )
    realtime_inference: str | None = Field(
        None, description="RealtimeInference. Default: inference.realtime_instance_types[0]."
    )


Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ListingPrices(_Model):
    """UpdatePricingTerms' usage rate card, in USD per instance hour: every instance type the version supports must
    be priced (training, batch transform and real-time each their own dimension)."""

    training: dict[str, Price] = Field(default_factory=dict, description="Instance type -> hourly price (a.t).")
    batch_transform: dict[str, Price] = Field(
        default_factory=dict, description="Instance type -> hourly price (m.i.b)."
    )
    realtime_inference: dict[str, Price] = Field(
        default_factory=dict, description="Instance type -> hourly price (m.i.r)."
    )
    per_inference: Price | None = Field(None, description="Price per real-time inference (m.i.c), if charged.")


class ListingSpec(_Model):
    """A version of an existing AWS Marketplace ML product: `smbyo publish listing`."""

    product_id: str = Field(description="The product's entity id (Entity.Identifier of MachineLearningProduct@1.0).")
    offer_id: str | None = Field(
        None,
        description="The product's public offer (Offer@1.0): UpdatePricingTerms is sent to it. Needed with prices.",
    )
    region: str | None = Field(
        None,
        description="The region the listing's algorithm or model package lives in (its ARN must name it). "
        "Default: --region / the session's region.",
    )
    access_role: str = Field(
        description="AccessRoleArn: the IAM role AWS Marketplace assumes to read the algorithm or model package."
    )
    version: ListingVersionSpec = Field(description="The version's title and release notes.")
    usage_instructions: ListingText = Field(
        description="UsageInstructions: training information (algorithms) or usage details (models)."
    )
    sample_notebook_url: ListingUrl = Field(description="SampleNotebookUrl: a Jupyter notebook showing its use.")
    repository_url: ListingUrl = Field(description="RepositoryUrl: a Git repository with the notebook and sample data.")
    input: ListingDataSpec = Field(description="InputProperties.")
    output: ListingDataSpec = Field(description="OutputProperties.")
    recommended_instance_types: ListingInstanceTypes = Field(
        default_factory=ListingInstanceTypes, description="RecommendedInstanceTypes shown on the listing."
    )
    prices: ListingPrices = Field(
        default_factory=ListingPrices, description="Hourly prices per instance type (UpdatePricingTerms)."
    )


class Manifest(_Model):
    """The root of ``smbyo.yaml``."""

    name: str = Field(description="AlgorithmName / ModelPackageName / ECR repository / image name.")
    description: Description = Field(
        "",
        description="AlgorithmDescription / ModelPackageDescription and the image's description label: "
        "one line (no newlines, tabs or other control characters).",
    )
    image: ImageSpec = Field(default_factory=ImageSpec, description="How `smbyo build` builds the image.")
    code: CodeSpec = Field(default_factory=CodeSpec, description="The algorithm's code files.")
    serving: ServingSpec = Field(default_factory=ServingSpec, description="The inference server in the image.")
    training: TrainingSpec | None = Field(
        default_factory=TrainingSpec,
        description="The algorithm's TrainingSpecification (train, tune, publish algorithm). Null for an image "
        "that only serves a model.",
    )
    inference: InferenceSpec = Field(
        default_factory=InferenceSpec, description="Instance types for batch transform and real-time endpoints."
    )
    validation: ValidationSpec | None = Field(
        None,
        description="The validation profile AWS runs when you publish (`smbyo validate` runs it locally). Without "
        "it, publish sends no ValidationSpecification.",
    )
    ecr: EcrSpec = Field(default_factory=EcrSpec, description="The ECR repository `smbyo push` pushes to.")
    marketplace: MarketplaceSpec = Field(
        default_factory=MarketplaceSpec, description="Names and certification of published resources."
    )
    listing: ListingSpec | None = Field(
        None, description="A version of an AWS Marketplace ML product (`smbyo publish listing`)."
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags added to the algorithms, model packages, models, training and transform jobs, endpoint "
        "configurations and endpoints smbyo creates.",
    )


class LoadedManifest(BaseModel):
    """A validated manifest together with where it came from (paths resolve against ``root``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    manifest: Manifest
    path: Path
    lines: dict[Loc, int] = Field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """A path named in the manifest, relative to the manifest's directory."""
        return Path(os.path.normpath(self.root / relative))

    def line_of(self, loc: Loc) -> int | None:
        """The line of the deepest YAML node on ``loc`` (for messages about valid-but-rejected values)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


# --- loading --------------------------------------------------------------------------------------


def format_loc(loc: Sequence[str | int]) -> str:
    """``('training', 'hyperparameters', 0, 'max')`` -> ``training.hyperparameters[0].max``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    """Record the 1-based line of every key and item, so any field path can be mapped to a line.

    Recursive, and walks aliases as often as they are used: :func:`_check_size` has bounded both first.
    """
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            child = (*loc, key)
            _index_lines(value_node, child, lines)
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*loc, index), lines)


# Budgets for the YAML document, far beyond any real manifest (which nests 6 deep, has a few hundred
# values and, when it uses anchors, a handful of aliases), and far below what hurts: a "billion laughs"
# of 350 bytes expands to 10^9 values through nested aliases; 100,000 nested brackets overflow the
# parser's recursion. Anchors and aliases (and `<<:` merge keys) otherwise work as YAML defines them.
MAX_YAML_DEPTH = 32  # nesting, counted through aliases
MAX_YAML_ALIASES = 100  # *alias uses
MAX_YAML_NODES = 100_000  # values, keys included, once aliases are expanded
YAML_BUDGET_HINT = (
    "A manifest nests a few levels deep and uses an anchor (&name) and its aliases (*name) a few times "
    f"at most: smbyo reads at most {MAX_YAML_DEPTH} levels, {MAX_YAML_ALIASES} aliases and "
    f"{MAX_YAML_NODES:,} values once aliases are expanded. Write the values out instead."
)


class _Refused(yaml.MarkedYAMLError):
    """A YAML document over one of the budgets (its ``problem`` is the whole message)."""


class _ManifestLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader (no Python objects, no code) with budgets checked while composing.

    The composer and constructor recurse once per nesting level, so depth is checked before descending;
    any exception a constructor raises for a value (a timestamp such as 2024-13-45, an integer of more than
    4,300 digits) becomes a YAML error at that value's line.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _Refused(
                    problem=f"has more than {MAX_YAML_ALIASES} aliases (*name)",
                    problem_mark=self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(
                    problem=f"is nested more than {MAX_YAML_DEPTH} levels deep",
                    problem_mark=self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, ArithmeticError) as exc:
            reason = "too many digits" if "digits" in str(exc) else str(exc)  # int()'s 4,300-digit limit
            raise yaml.constructor.ConstructorError(
                problem=f"cannot read the value {_shown(node.value, 60)}: {reason}"
                if isinstance(node, yaml.ScalarNode)
                else f"cannot read this value: {reason}",
                problem_mark=node.start_mark,
            ) from None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(root: yaml.Node) -> None:
    """Refuse a document whose aliases make it cyclic, or too deep or too large once expanded.

    The composed document is a graph (an alias is the anchored node itself), so sizes and depths are
    computed once per node, without expanding anything: linear in the text, whatever the aliases do.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    path: set[int] = set()  # nodes being visited: the ancestors of the node at hand
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            path.discard(key)
            children = _children(node)
            size[key] = 1 + sum(size[id(child)] for child in children)
            depth[key] = 1 + max((depth[id(child)] for child in children), default=0)
            if size[key] > MAX_YAML_NODES:
                raise _Refused(
                    problem=f"expands to {size[key]:,} values through aliases, from here "
                    f"(more than {MAX_YAML_NODES:,})",
                    problem_mark=node.start_mark,
                )
            if depth[key] > MAX_YAML_DEPTH:
                raise _Refused(
                    problem=f"nests more than {MAX_YAML_DEPTH} levels deep through aliases, from here",
                    problem_mark=node.start_mark,
                )
            continue
        if key in size:
            continue
        path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in path:
                raise _Refused(
                    problem="has an alias inside the value it refers to (anchored on this line): "
                    "the document would be infinitely deep",
                    problem_mark=child.start_mark,
                )
            if id(child) not in size:
                stack.append((child, False))


def _yaml_error(exc: yaml.YAMLError, text: str, path: Path) -> ManifestError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    position = getattr(exc, "position", None)  # a ReaderError: a character YAML does not allow
    if line is None and isinstance(position, int):
        line = text.count("\n", 0, position) + 1
    if isinstance(exc, _Refused):
        return ManifestError(
            [ManifestProblem(str(path), "", f"refused: the YAML {exc.problem}", line)], hint=YAML_BUDGET_HINT
        )
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, yaml.reader.ReaderError):
        character = chr(exc.character) if isinstance(exc.character, int) else exc.character
        problem = f"the character {character!r} is not allowed in YAML ({exc.reason})"
    return ManifestError(
        [ManifestProblem(str(path), "", f"not valid YAML: {problem}", line)],
        hint="Fix the YAML syntax at the line shown (indentation, a missing ':' or an unclosed quote).",
    )


def _parse_yaml(text: str, path: Path) -> tuple[Any, dict[Loc, int]]:
    """The document's data and the line of every field, composed once, within the budgets above."""
    loader: _ManifestLoader | None = None
    node = None
    try:
        loader = _ManifestLoader(text)  # its reader refuses characters YAML does not allow, at once
        node = loader.get_single_node()
        data = None
        if node is not None:
            _check_size(node)
            data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, path) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return data, lines


def _known_prefix(loc: Sequence[Any], lines: dict[Loc, int], keep_last: bool) -> Loc:
    """The part of a pydantic error location that exists in the YAML (drops union branch tags)."""
    kept: list[str | int] = []
    for part in loc:
        candidate = (*kept, part)
        if candidate in lines:
            kept.append(part)
        elif keep_last and part == loc[-1]:
            kept.append(part)
            break
        else:
            break
    return tuple(kept)


def _shown(value: Any, limit: int = 80) -> str:
    """A value as a message quotes it: repr'd, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"


def _pydantic_problems(exc: ValidationError, path: Path, lines: dict[Loc, int]) -> list[ManifestProblem]:
    problems: list[ManifestProblem] = []
    seen: set[tuple[Loc, str]] = set()
    for error in exc.errors():
        kind = error["type"]
        loc = _known_prefix(error["loc"], lines, keep_last=kind in ("missing", "extra_forbidden"))
        if kind == "extra_forbidden":
            message = "unknown key (check its spelling; `smbyo schema` lists the allowed keys)"
        elif kind == "missing":
            message = "required field is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
            if "input" in error and not isinstance(error["input"], dict | list):
                message += f" (got {_shown(error['input'])})"
        if (loc, message) in seen:
            continue
        seen.add((loc, message))
        line = lines.get(loc) or lines.get(loc[:-1]) if loc else None
        problems.append(ManifestProblem(str(path), format_loc(loc), message, line))
    return problems


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        data = path.read_bytes()
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestError(
            [ManifestProblem(str(path), "", f"not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x})", line)],
            hint="Save the manifest as UTF-8 (YAML's encoding).",
        ) from None
    except OSError as exc:
        raise ManifestError(
            [ManifestProblem(str(path), "", f"cannot be read: {exc.strerror or exc}")],
            hint="Check the file's permissions, or pass another file with -f/--manifest.",
        ) from None


def load_manifest(path: str | Path = DEFAULT_MANIFEST, *, check_files: bool = True) -> LoadedManifest:
    """Read, parse and validate a manifest; raise :class:`ManifestError` with every problem found."""
    path = Path(path)
    try:
        path.stat()
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError | NotADirectoryError):
            raise ManifestError(
                [ManifestProblem(str(path)[:200], "", f"cannot be read: {exc.strerror or exc}")],
                hint="Pass the manifest's path with -f/--manifest.",
            ) from None
    except ValueError:  # a NUL byte in the path
        pass
    if path.is_dir():
        raise ManifestError(
            [ManifestProblem(str(path), "", "is a directory, not a manifest file")],
            hint=f"Pass the manifest itself, e.g. -f {path / DEFAULT_MANIFEST}.",
        )
    if not path.is_file():
        raise ManifestError(
            [ManifestProblem(str(path), "", "file not found")],
            hint="Run smbyo in your algorithm's directory, pass -f/--manifest PATH, "
            "or create a project with `smbyo init DIR`.",
        )
    data, lines = _parse_yaml(_read_text(path), path)
    if not isinstance(data, dict):
        raise ManifestError([ManifestProblem(str(path), "", "must be a YAML mapping with at least `name:`", 1)])
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(_pydantic_problems(exc, path, lines)) from None
    loaded = LoadedManifest(manifest=manifest, path=path.resolve(), lines=lines)
    found = semantic_problems(manifest)
    if check_files:
        found += file_problems(loaded)
    if found:
        raise ManifestError(
            [ManifestProblem(str(path), format_loc(loc), message, loaded.line_of(loc)) for loc, message in found]
        )
    return loaded


# --- semantic rules -------------------------------------------------------------------------------


def _name_problems(manifest: Manifest) -> Iterable[tuple[Loc, str]]:
    names: list[tuple[Loc, str | None]] = [
        (("name",), manifest.name),
        (("marketplace", "algorithm_name"), manifest.marketplace.algorithm_name),
        (("marketplace", "model_package_name"), manifest.marketplace.model_package_name),
    ]
    for loc, name in names:
        problem = name_problem(name) if name is not None else None
        if problem:
            yield loc, problem


def _instance_type_problems(loc: Loc, values: Sequence[str]) -> Iterable[tuple[Loc, str]]:
    for index, value in enumerate(values):
        problem = instance_type_problem(value)
        if problem:
            yield (*loc, index), problem


def _duplicates(names: Sequence[str]) -> list[int]:
    seen: set[str] = set()
    dupes = []
    for index, name in enumerate(names):
        if name in seen:
            dupes.append(index)
        seen.add(name)
    return dupes


def hyperparameter_problems(spec: HyperparameterSpec, loc: Loc) -> Iterable[tuple[Loc, str]]:
    """The rules AWS applies to one SupportedHyperParameter."""
    numeric = spec.type in ("Integer", "Continuous")
    if numeric:
        if spec.min is None or spec.max is None:
            yield loc, f"{spec.type} hyperparameters need both min and max (AWS requires a range)"
        elif spec.max < spec.min:
            yield (*loc, "max"), f"must be >= min ({spec.max:g} < {spec.min:g})"
        if spec.type == "Integer":
            for bound in ("min", "max"):
                value = getattr(spec, bound)
                if value is not None and not float(value).is_integer():
                    yield (*loc, bound), f"must be a whole number for an Integer hyperparameter (got {value})"
        if spec.values is not None:
            yield (*loc, "values"), "only Categorical hyperparameters take values"
    elif spec.type == "Categorical":
        if not spec.values:
            yield loc, "Categorical hyperparameters need a non-empty list of values"
        elif len(spec.values) > 30:
            yield (*loc, "values"), f"at most 30 categorical values (got {len(spec.values)})"
    if not numeric and (spec.min is not None or spec.max is not None):
        yield loc, f"min/max only apply to Integer and Continuous hyperparameters, not {spec.type}"
    if spec.type == "FreeText" and spec.tunable:
        yield (*loc, "tunable"), "FreeText hyperparameters cannot be tunable"
    if spec.required and spec.default is not None:
        yield (*loc, "default"), "a required hyperparameter cannot have a default (AWS rejects it); drop one of them"
    if spec.default is not None:
        yield from _default_problems(spec, (*loc, "default"))


def _default_problems(spec: HyperparameterSpec, loc: Loc) -> Iterable[tuple[Loc, str]]:
    """The default, judged by the rule the container and pre-flight use (one verdict everywhere)."""
    assert spec.default is not None
    problem = value_problem(spec.model_dump(), spec.default)
    if problem:
        yield loc, problem


def _metric_problems(training: TrainingSpec) -> Iterable[tuple[Loc, str]]:
    for index, metric in enumerate(training.metrics):
        problem = metric_regex_problem(metric.regex)
        if problem:
            yield ("training", "metrics", index, "regex"), problem
    for index in _duplicates([m.name for m in training.metrics]):
        yield ("training", "metrics", index, "name"), "duplicate metric name"
    if len(training.metrics) > MAX_METRICS:
        yield ("training", "metrics"), f"at most {MAX_METRICS} metrics (got {len(training.metrics)})"
    objective = training.tuning_objective
    if objective and objective.metric not in {m.name for m in training.metrics}:
        known = ", ".join(m.name for m in training.metrics) or "none defined"
        yield (
            ("training", "tuning_objective", "metric"),
            f"{objective.metric!r} is not a metric defined in training.metrics ({known})",
        )


def _training_problems(training: TrainingSpec) -> Iterable[tuple[Loc, str]]:
    yield from _instance_type_problems(("training", "instance_types"), training.instance_types)
    for index, channel in enumerate(training.channels):
        problem = channel_name_problem(channel.name)
        if problem:
            yield ("training", "channels", index, "name"), problem
    for index in _duplicates([c.name for c in training.channels]):
        yield ("training", "channels", index, "name"), f"duplicate channel name {training.channels[index].name!r}"
    if len(training.channels) > 8:
        yield ("training", "channels"), f"at most 8 channels (got {len(training.channels)})"
    for index, spec in enumerate(training.hyperparameters):
        yield from hyperparameter_problems(spec, ("training", "hyperparameters", index))
    for index in _duplicates([h.name for h in training.hyperparameters]):
        yield ("training", "hyperparameters", index, "name"), "duplicate hyperparameter name"
    if len(training.hyperparameters) > 100:
        yield ("training", "hyperparameters"), f"at most 100 hyperparameters (got {len(training.hyperparameters)})"
    yield from _metric_problems(training)


def _validation_problems(manifest: Manifest) -> Iterable[tuple[Loc, str]]:
    validation = manifest.validation
    if validation is None:
        return
    yield from _instance_type_problems(("validation",), [validation.instance_type])
    distributed = manifest.training is not None and manifest.training.supports_distributed
    if (validation.instance_count or 1) > 1 and not distributed:
        yield (
            ("validation", "instance_count"),
            f"{validation.instance_count} instances, but training.supports_distributed is false: the algorithm "
            "says it trains on one instance (set supports_distributed: true, or instance_count: 1)",
        )
    known = {h.name for h in manifest.training.hyperparameters} if manifest.training else set()
    for name in validation.hyperparameters:
        if name not in known:
            yield ("validation", "hyperparameters", name), "not a hyperparameter defined in training.hyperparameters"


def _listing_problems(listing: ListingSpec) -> Iterable[tuple[Loc, str]]:
    """Instance types by SageMaker's rule; prices go to the product's offer, so they need its id."""
    loc: Loc = ("listing",)
    for field in ("training", "batch_transform", "realtime_inference"):
        chosen = getattr(listing.recommended_instance_types, field)
        if chosen is not None and (problem := instance_type_problem(chosen)):
            yield (*loc, "recommended_instance_types", field), problem
        for instance_type in getattr(listing.prices, field):
            if problem := instance_type_problem(instance_type):
                yield (*loc, "prices", field, instance_type), problem
    prices = listing.prices
    priced = prices.training or prices.batch_transform or prices.realtime_inference or prices.per_inference is not None
    if priced and not listing.offer_id:
        yield (*loc, "offer_id"), "required with prices: UpdatePricingTerms changes the product's offer (Offer@1.0)"


def image_instance_types(manifest: Manifest) -> dict[str, list[tuple[Loc, str]]]:
    """``{image role: [(field, instance type)]}``: the instance types each image runs on. One image runs
    everywhere; with ``image.inference`` the training image trains (training and validation jobs) and the
    inference image serves (transform, endpoints, and the validation transform)."""
    training: list[tuple[Loc, str]] = []
    if manifest.training is not None:
        training += [(("training", "instance_types", i), t) for i, t in enumerate(manifest.training.instance_types)]
    inference: list[tuple[Loc, str]] = [
        (("inference", field, i), instance_type)
        for field in ("transform_instance_types", "realtime_instance_types")
        for i, instance_type in enumerate(getattr(manifest.inference, field))
    ]
    validation = manifest.validation
    if validation is not None:
        training.append((("validation", "instance_type"), validation.instance_type))
        if validation.transform_instance_type is not None:
            inference.append((("validation", "transform_instance_type"), validation.transform_instance_type))
        else:
            inference.append((("validation", "instance_type"), validation.instance_type))
    if manifest.image.inference is None:
        return {"training": training + [item for item in inference if item not in training]}
    return {"training": training, "inference": inference}


def image_platform(manifest: Manifest, role: str = "training") -> str:
    """The Docker platform ``role``'s image is built for: the architecture of the instance types it runs on
    (``linux/amd64`` unless they are Graviton, ``linux/arm64``), so a build on an arm64 laptop makes an image
    SageMaker's x86 instances can run. The manifest's rules make them agree (:func:`_architecture_problems`)."""
    by_image = image_instance_types(manifest)
    types = by_image.get(role) or by_image["training"]
    return f"linux/{instance_architecture(types[0][1]) if types else AMD64}"


def _architecture_problems(manifest: Manifest) -> Iterable[tuple[Loc, str]]:
    """An image is built for one architecture, so every instance type it runs on must have that one."""
    for role, types in image_instance_types(manifest).items():
        if not types:
            continue
        first_loc, first = types[0]
        wanted = instance_architecture(first)
        for loc, instance_type in types[1:]:
            if instance_architecture(instance_type) != wanted:
                image = f"the {role} image" if manifest.image.inference is not None else "the image"
                yield loc, (
                    f"{instance_type!r} runs {instance_architecture(instance_type)} images but {format_loc(first_loc)} "
                    f"{first!r} runs {wanted} images, and {image} is built for one architecture: use instance types "
                    "of one architecture (Graviton families such as ml.c7g/ml.m7g are arm64, the others amd64)"
                    + ("" if manifest.image.inference is not None else ", or serve from image.inference")
                )


def semantic_problems(manifest: Manifest) -> list[tuple[Loc, str]]:
    """Every cross-field rule violation, as (field location, message) pairs."""
    found: list[tuple[Loc, str]] = list(_name_problems(manifest))
    if manifest.training is not None:
        found += _training_problems(manifest.training)
    found += _instance_type_problems(
        ("inference", "transform_instance_types"), manifest.inference.transform_instance_types
    )
    found += _instance_type_problems(
        ("inference", "realtime_instance_types"), manifest.inference.realtime_instance_types
    )
    found += _validation_problems(manifest)
    found += _architecture_problems(manifest)
    if manifest.listing is not None:
        found += _listing_problems(manifest.listing)
    if not manifest.serving.accept:
        found.append((("serving", "accept"), "needs at least one MIME type"))
    return found


def file_problems(loaded: LoadedManifest) -> list[tuple[Loc, str]]:
    """Files the manifest names that do not exist (paths are relative to the manifest)."""
    manifest = loaded.manifest
    named: list[tuple[Loc, str | None]] = [
        (("code", "train"), manifest.code.train if manifest.training is not None else None),
        (("code", "predict"), manifest.code.predict),
        (("image", "requirements"), manifest.image.requirements),
    ]
    if manifest.image.inference is not None:
        named.append((("image", "inference", "requirements"), manifest.image.inference.requirements))
    named += [(("code", "include", i), p) for i, p in enumerate(manifest.code.include)]
    if manifest.validation:
        for key in ("training_data", "transform_data"):
            value = getattr(manifest.validation, key)
            if value and not value.startswith("s3://"):
                named.append((("validation", key), value))
    found: list[tuple[Loc, str]] = []
    for loc, rel in named:
        if rel is None:
            continue
        path = loaded.resolve(rel)
        if loc[0] in ("code", "image") and not path.is_relative_to(loaded.root):
            found.append((loc, f"{_shown(rel)} is outside the project directory {loaded.root}"))
            continue
        try:
            exists, is_file = path.exists(), path.is_file()
        except OSError as exc:  # a name too long for the file system, a loop of symlinks
            found.append((loc, f"{_shown(rel)} cannot be a path here: {exc.strerror or exc}"))
            continue
        real = _real(path)  # where it leads, links followed: that is what gets copied
        if loc[0] in ("code", "image") and not real.is_relative_to(_real(loaded.root)):
            found.append(
                (loc, f"{_shown(rel)} leads out of the project directory {loaded.root} through a link (to {real})")
            )
        elif not exists:
            found.append((loc, f"{_shown(rel)} not found (relative to {loaded.root})"))
        elif loc in FILE_FIELDS and not is_file:
            found.append((loc, f"{_shown(rel)} is a directory; name a file"))
    return found


# Fields that name one file (code.include and the validation data may be directories).
FILE_FIELDS: frozenset[Loc] = frozenset(
    {("code", "train"), ("code", "predict"), ("image", "requirements"), ("image", "inference", "requirements")}
)


def _real(path: Path) -> Path:
    """``path`` with every symbolic link resolved (a loop is left as it is, never raised)."""
    return Path(os.path.realpath(path))


class _FactoryDefaults(GenerateJsonSchema):
    """Schema generation that states the defaults of ``default_factory`` fields too.

    pydantic leaves them out (a factory could depend on the data), so editors and the reference would show
    no default for ``training.channels`` (one 'training' channel) or an empty-looking one for ``image``; none
    of the manifest's factories take data, so their value is the default."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return super().get_default_value(schema)

    def encode_default(self, dft: Any) -> JsonSchemaValue:
        """A model default as the mapping a user would write (``model_dump``), in JSON form."""
        if isinstance(dft, BaseModel):
            dft = dft.model_dump(mode="json")
        elif isinstance(dft, list):
            dft = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in dft]
        return super().encode_default(dft)


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema, for editors (yaml-language-server) and the docs."""
    schema = Manifest.model_json_schema(schema_generator=_FactoryDefaults)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "smbyo manifest (smbyo.yaml)"
    return schema
