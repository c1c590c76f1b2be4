"""CreateModel and CreateTransformJob requests, built from the manifest and the options (pure: no I/O).

The same two requests run on SageMaker and in local Docker (``sm_byo.local.transform.run_transform_job``);
a local plan names the model, the input and the output as ``file://`` URIs and the image as a local
tag. Values the container must support (content type, accept) and the instance type are checked here,
in both modes, naming the flag to change; every other rule is pre-flight's (``sm_byo.preflight``),
which finds the manifest field or flag behind a value through the origins recorded here.
Request references: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModel.html and
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import Manifest
from sm_byo.options import DataProcessing, TransformCommand
from sm_byo.specs.request import Origin, Request, RequestPath
from sm_byo.specs.training import check_instance_type, tags

# ModelClientConfig.InvocationsMaxRetries: how many more times SageMaker sends an invocation that failed
# (default 3, range 0-3: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelClientConfig.html).
TRANSFORM_DEFAULT_INVOCATIONS_MAX_RETRIES = 3
TRANSFORM_MAX_INVOCATIONS_MAX_RETRIES = 3


@dataclass(frozen=True)
class ModelOptions:
    """Everything a CreateModel request needs besides the manifest (values already chosen)."""

    model_name: str
    image: str
    model_data: str  # s3:// (SageMaker) or file:// (local) URI of model.tar.gz (or, locally, a directory)
    role: str
    environment: Mapping[str, str] = field(default_factory=dict)
    # EnableNetworkIsolation ("no inbound or outbound network calls", as buyers' containers run); None: unset.
    network_isolation: bool | None = None
    # Which flag gave each value (for pre-flight messages): name, image, model_data, role, network_isolation.
    flags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TransformOptions:
    """Everything a CreateTransformJob request needs besides the manifest; None leaves a value to the container."""

    job_name: str
    model_name: str
    input_uri: str  # s3:// (SageMaker) or file:// (local) URI of the input prefix
    output_uri: str
    content_type: str | None = None
    accept: str | None = None
    split_type: str = "Line"
    strategy: str | None = None
    max_payload_mb: int | None = None
    concurrency: int | None = None
    instance_type: str | None = None
    instance_count: int | None = None  # None: the manifest's inference.transform_instance_count
    assemble_with: str = "Line"
    invocations_max_retries: int | None = None  # None: SageMaker's default, written out so the plan shows it
    environment: Mapping[str, str] = field(default_factory=dict)
    output_kms_key: str | None = None
    volume_kms_key: str | None = None
    data_processing: DataProcessing = field(default_factory=DataProcessing)
    # Which flag gave each value: model_name ("--model" for an existing model), environment, instance_count.
    flags: Mapping[str, str] = field(default_factory=dict)


def transform_options(
    command: TransformCommand,
    *,
    job_name: str,
    model_name: str,
    input_uri: str,
    output_uri: str,
    flags: Mapping[str, str] | None = None,
) -> TransformOptions:
    """The request's options from what the user asked (``smbyo transform``), in either mode: only the
    locations and names differ between local Docker and SageMaker."""
    return TransformOptions(
        job_name=job_name,
        model_name=model_name,
        input_uri=input_uri,
        output_uri=output_uri,
        content_type=command.content_type,
        accept=command.accept,
        split_type=command.split_type,
        strategy=command.strategy,
        max_payload_mb=command.max_payload_mb,
        concurrency=command.concurrency,
        invocations_max_retries=command.invocations_max_retries,
        instance_type=command.instance_type,
        instance_count=command.instance_count,
        assemble_with=command.assemble_with,
        environment=dict(command.environment),
        output_kms_key=command.output_kms_key,
        volume_kms_key=command.volume_kms_key,
        data_processing=command.data_processing,
        flags=dict(flags or {}),
    )


def _flag_or(flags: Mapping[str, str], key: str, manifest_field: Origin) -> Origin:
    return (flags[key],) if key in flags else manifest_field


def model_request(manifest: Manifest, options: ModelOptions) -> Request:
    """``CreateModel``: the image serving ``model_data``, each value remembering its flag or manifest field."""
    container: dict[str, Any] = {"Image": options.image, "ModelDataUrl": options.model_data}
    if options.environment:
        container["Environment"] = dict(options.environment)
    kwargs: dict[str, Any] = {
        "ModelName": options.model_name,
        "PrimaryContainer": container,
        "ExecutionRoleArn": options.role,
    }
    if options.network_isolation is not None:
        kwargs["EnableNetworkIsolation"] = options.network_isolation
    kwargs["Tags"] = tags(manifest)
    flags = options.flags
    origins: dict[RequestPath, Origin] = {
        ("ModelName",): _flag_or(flags, "name", ("name",)),
        ("PrimaryContainer", "Image"): (flags.get("image", "--image"),),
        ("PrimaryContainer", "ModelDataUrl"): (flags.get("model_data", "--model"),),
        ("ExecutionRoleArn",): _flag_or(flags, "role", ("validation", "role")),
        ("Tags",): ("tags",),
    }
    if "environment" in flags:
        origins[("PrimaryContainer", "Environment")] = (flags["environment"],)
    if "network_isolation" in flags:
        origins[("EnableNetworkIsolation",)] = (flags["network_isolation"],)
    return Request("CreateModel", kwargs, origins)


def check_type(value: str, allowed: list[str], flag: str) -> str:
    """``value`` when the container declares it (serving.content_types / serving.accept), else exit 2."""
    if value not in allowed:
        listing = "content_types" if flag == "--content-type" else "accept"
        raise UsageError(
            f"{flag} {value} is not one the container declares (serving.{listing}: {', '.join(allowed)})",
            hint=f"Use one of serving.{listing} in smbyo.yaml, or add {value} there (and handle it in predictor.py).",
        )
    return value


def _transform_origins(options: TransformOptions) -> dict[RequestPath, Origin]:
    flags = options.flags
    origins: dict[RequestPath, Origin] = {
        ("TransformJobName",): ("name",),
        ("ModelName",): _flag_or(flags, "model_name", ("name",)),
        ("TransformInput", "DataSource"): ("--input",),
        ("TransformInput", "ContentType"): ("--content-type",)
        if options.content_type
        else ("serving", "content_types", 0),
        ("TransformInput", "SplitType"): ("--split-type",),
        ("TransformOutput", "S3OutputPath"): ("--output",),
        ("TransformOutput", "Accept"): ("--accept",) if options.accept else ("serving", "accept", 0),
        ("TransformResources", "InstanceType"): ("--instance-type",)
        if options.instance_type
        else ("inference", "transform_instance_types", 0),
        ("BatchStrategy",): ("--strategy",),
        ("MaxPayloadInMB",): ("--max-payload-mb",),
        ("MaxConcurrentTransforms",): ("--concurrency",),
        ("ModelClientConfig", "InvocationsMaxRetries"): ("--invocations-max-retries",),
        ("TransformOutput", "AssembleWith"): ("--assemble-with",),
        ("TransformOutput", "KmsKeyId"): ("--output-kms-key",),
        ("TransformResources", "VolumeKmsKeyId"): ("--volume-kms-key",),
        ("DataProcessing", "InputFilter"): ("--input-filter",),
        ("DataProcessing", "JoinSource"): ("--join-source",),
        ("DataProcessing", "OutputFilter"): ("--output-filter",),
        ("Tags",): ("tags",),
    }
    origins[("Environment",)] = (flags.get("environment", "--env"),)
    origins[("TransformResources", "InstanceCount")] = (
        (flags.get("instance_count", "--instance-count"),)
        if options.instance_count is not None
        else ("inference", "transform_instance_count")
    )
    return origins


def transform_job_request(manifest: Manifest, options: TransformOptions) -> Request:
    """``CreateTransformJob``; options left unset are left to the container's /execution-parameters."""
    serving = manifest.serving
    content_type = check_type(options.content_type or serving.content_types[0], serving.content_types, "--content-type")
    accept = check_type(options.accept or serving.accept[0], serving.accept, "--accept")
    instance_type = check_instance_type(
        options.instance_type or manifest.inference.transform_instance_types[0], "--instance-type"
    )
    kwargs: dict[str, Any] = {
        "TransformJobName": options.job_name,
        "ModelName": options.model_name,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": options.input_uri}},
            "ContentType": content_type,
            "CompressionType": "None",
            "SplitType": options.split_type,
        },
        "TransformOutput": {
            "S3OutputPath": options.output_uri,
            "Accept": accept,
            "AssembleWith": options.assemble_with,
        },
        "TransformResources": _resources(manifest, options, instance_type),
        "ModelClientConfig": {
            "InvocationsMaxRetries": TRANSFORM_DEFAULT_INVOCATIONS_MAX_RETRIES
            if options.invocations_max_retries is None
            else options.invocations_max_retries
        },
    }
    if options.strategy:
        kwargs["BatchStrategy"] = options.strategy
    if options.max_payload_mb is not None:
        kwargs["MaxPayloadInMB"] = options.max_payload_mb
    if options.concurrency is not None:
        kwargs["MaxConcurrentTransforms"] = options.concurrency
    if options.environment:
        kwargs["Environment"] = dict(options.environment)
    if options.output_kms_key is not None:
        kwargs["TransformOutput"]["KmsKeyId"] = options.output_kms_key
    if options.data_processing.to_request():
        kwargs["DataProcessing"] = options.data_processing.to_request()
    kwargs["Tags"] = tags(manifest)
    return Request("CreateTransformJob", kwargs, _transform_origins(options))


def _resources(manifest: Manifest, options: TransformOptions, instance_type: str) -> dict[str, Any]:
    """TransformResources: the instance type and count (SageMaker spreads the input files over the instances:
    https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html), and the key of their volumes."""
    count = manifest.inference.transform_instance_count if options.instance_count is None else options.instance_count
    resources: dict[str, Any] = {"InstanceType": instance_type, "InstanceCount": count}
    if options.volume_kms_key is not None:
        resources["VolumeKmsKeyId"] = options.volume_kms_key
    return resources
