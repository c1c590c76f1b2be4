"""What a published algorithm or model package declares, and a buyer's requests checked against it (pure: no I/O).

A buyer runs a published product by name, not by image: ``train``/``tune --algorithm NAME|ARN`` send
``AlgorithmSpecification.AlgorithmName`` (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-mkt-algo-train.html),
``transform``/``deploy --model-package NAME|ARN`` create a model whose container is the package
(https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-mkt-model-pkg-model.html), and ``transform``/``deploy
--algorithm NAME|ARN --model s3://...`` first make a model package of the algorithm and a trained model ("If you
subscribe to an algorithm on AWS Marketplace, you must create a model package before you can use it to get
inferences", https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-mkt-buy.html).

DescribeAlgorithm's TrainingSpecification and InferenceSpecification, and DescribeModelPackage's
InferenceSpecification, say what the product supports; every choice (hyperparameters, channels, input modes,
instance types and counts, content types) is checked against them here, before anything is sent, and a mistake is a
:class:`UsageError` (exit 2) naming the flag and the declaration it breaks.

Network isolation: "For security purposes, when a buyer subscribes to your containerized product, the Docker
containers run in an isolated environment without internet connection"
(https://docs.aws.amazon.com/marketplace/latest/userguide/ml-packaging-your-code-into-images.html; also
https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html). These requests ask for it
(``EnableNetworkIsolation`` true), so a product behaves the same whether it is the buyer's own resource or a
subscription; ``--no-network-isolation`` is refused rather than sent and silently overridden.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sm_byo.errors import UsageError
from sm_byo.manifest import ChannelSpec, Manifest, MetricSpec, TrainingSpec
from sm_byo.rules import instance_count_problem
from sm_byo.specs.hyperparameters import Declared
from sm_byo.specs.request import Origin, Request, RequestPath
from sm_byo.specs.training import tags

ISOLATION = "EnableNetworkIsolation"
ISOLATION_FLAG = "--network-isolation/--no-network-isolation"
TRAINING = "TrainingSpecification"
INFERENCE = "InferenceSpecification"
Use = Literal["transform", "realtime"]
INPUT_MODES = ("File", "Pipe", "FastFile")  # TrainingInputMode (botocore's service model)
COMPRESSIONS = ("None", "Gzip")  # CompressionType
# Where each use's instance types are declared (InferenceSpecification members).
INSTANCE_TYPES: Mapping[Use, str] = {
    "transform": "SupportedTransformInstanceTypes",
    "realtime": "SupportedRealtimeInferenceInstanceTypes",
}


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# DescribeAlgorithm and DescribeModelPackage answers are read as hostile: a list that is not one, or an item that
# is not a mapping, counts as absent rather than ending the run with a traceback.
def _names(items: Any) -> list[str]:
    return [str(item) for item in items] if isinstance(items, list | tuple) else []


def _known(items: Any, known: tuple[str, ...]) -> list[Any]:
    """The values of an enum this version of smbyo knows (TrainingInputMode, CompressionType), in order."""
    return [item for item in _names(items) if item in known]


def _items(spec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = spec.get(key)
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list | tuple) else []


# --- an algorithm's TrainingSpecification --------------------------------------------------------------


def declared_in_published(published: Mapping[str, Any], algorithm: str) -> dict[str, Declared]:
    """SupportedHyperParameters of a DescribeAlgorithm TrainingSpecification (no scaling: it is not published)."""
    found = {}
    for index, item in enumerate(_items(published, "SupportedHyperParameters")):
        ranges = item.get("Range") or {}
        numeric = ranges.get("IntegerParameterRangeSpecification") or ranges.get(
            "ContinuousParameterRangeSpecification"
        ) or {}  # fmt: skip
        values = (ranges.get("CategoricalParameterRangeSpecification") or {}).get("Values")
        name = str(item.get("Name"))
        found[name] = Declared(
            name=name, type=str(item.get("Type")), min=_float_or_none(numeric.get("MinValue")),
            max=_float_or_none(numeric.get("MaxValue")),
            values=tuple(str(value) for value in values) if values is not None else None,
            tunable=bool(item.get("IsTunable")), required=bool(item.get("IsRequired")),
            default=item.get("DefaultValue"), origin=("--algorithm",),
            where=f"{algorithm}'s {TRAINING}.SupportedHyperParameters[{index}] ({name})",
        )  # fmt: skip
    return found


def published_training(manifest: Manifest, published: Mapping[str, Any], algorithm: str) -> Manifest:
    """The manifest with its training section replaced by what the published algorithm declares (channels,
    instance types, metrics, distributed support), so the training request is built and checked against those;
    the job's defaults (training.job) stay the manifest's."""
    channels = [
        ChannelSpec(
            name=str(channel.get("Name")), description=None,
            content_types=_names(channel.get("SupportedContentTypes")) or ["text/csv"],
            input_modes=_known(channel.get("SupportedInputModes"), INPUT_MODES) or ["File"],
            compression_types=_known(channel.get("SupportedCompressionTypes"), COMPRESSIONS) or ["None"],
            required=bool(channel.get("IsRequired", True)),
        )
        for channel in _items(published, "TrainingChannels")
    ]  # fmt: skip
    if not channels:
        raise UsageError(f"--algorithm {algorithm}: its {TRAINING} declares no training channel",
                         hint="Use an algorithm that declares its TrainingChannels.")  # fmt: skip
    base = manifest.training or TrainingSpec()  # a model-only manifest: smbyo's job defaults
    spec = TrainingSpec(
        instance_types=_names(published.get("SupportedTrainingInstanceTypes")) or base.instance_types,
        supports_distributed=bool(published.get("SupportsDistributedTraining", False)),
        channels=channels,
        metrics=[MetricSpec(name=str(m.get("Name")), regex=str(m.get("Regex"))) for m in
                 _items(published, "MetricDefinitions")],
        job=base.job,
    )  # fmt: skip
    return manifest.model_copy(update={"training": spec})


def _check_channels(published: Mapping[str, Any], algorithm: str, channels: Mapping[str, str]) -> None:
    """Every --data channel is one the algorithm declares, and every channel it requires is given."""
    declared = {str(channel.get("Name")): channel for channel in _items(published, "TrainingChannels")}
    listing = f"{TRAINING}.TrainingChannels: {', '.join(sorted(declared)) or 'none'}"
    unknown = sorted(set(channels) - set(declared))
    if unknown:
        raise UsageError(
            f"--data names channel(s) {', '.join(unknown)} that {algorithm} does not declare ({listing})",
            hint="Give data for the channels the published algorithm declares.",
        )
    missing = [name for name, item in declared.items() if item.get("IsRequired", True) and name not in channels]
    if missing:
        raise UsageError(
            f"{algorithm} requires channel(s) {', '.join(missing)}, which have no data ({listing})",
            hint=f"Pass --data {missing[0]}=PATH_OR_S3_URI.",
        )


def _check_channel_modes(published: Mapping[str, Any], algorithm: str, channels: Mapping[str, str],
                         input_mode: str | None) -> None:  # fmt: skip
    """The request's input mode and compression (``None``: it sends data as stored) for each channel given."""
    for index, channel in enumerate(_items(published, "TrainingChannels")):
        name = str(channel.get("Name"))
        if name not in channels:
            continue
        where = f"{algorithm}'s {TRAINING}.TrainingChannels[{index}] ({name})"
        modes = _names(channel.get("SupportedInputModes")) or ["File"]
        if input_mode is not None and input_mode not in modes:
            raise UsageError(
                f"--input-mode {input_mode} is not one {where} supports (SupportedInputModes: {', '.join(modes)})",
                hint=f"Drop --input-mode, or use --input-mode {modes[0]}.",
            )
        compressions = _names(channel.get("SupportedCompressionTypes")) or ["None"]
        if "None" not in compressions:
            raise UsageError(
                f"{where} takes only compressed data (SupportedCompressionTypes: {', '.join(compressions)}); smbyo "
                "sends channel data as it is stored (CompressionType None)",
                hint="Use `aws sagemaker create-training-job` with CompressionType for this algorithm.",
            )


def check_training_choices(
    published: Mapping[str, Any],
    algorithm: str,
    *,
    channels: Mapping[str, str],
    instance_type: str | None,
    instance_count: int,
    input_mode: str | None,
    network_isolation: bool | None,
) -> None:
    """Channels, input mode, instance type and count, and network isolation against the TrainingSpecification."""
    _check_channels(published, algorithm, channels)
    _check_channel_modes(published, algorithm, channels, input_mode)
    supported = _names(published.get("SupportedTrainingInstanceTypes"))
    if instance_type and supported and instance_type not in supported:
        raise UsageError(
            f"--instance-type {instance_type} is not one {algorithm} supports "
            f"({TRAINING}.SupportedTrainingInstanceTypes: {', '.join(supported)})",
            hint=f"Use e.g. --instance-type {supported[0]}.",
        )
    distributed = bool(published.get("SupportsDistributedTraining", False))
    declared_by = f"{algorithm}'s {TRAINING}.SupportsDistributedTraining is false: it"
    problem = instance_count_problem(instance_count, distributed, declared_by)
    if problem is not None:
        raise UsageError(f"--instance-count {problem}", hint="Use --instance-count 1 (or drop it).")
    refuse_without_isolation(network_isolation, f"--algorithm {algorithm}")


def refuse_without_isolation(network_isolation: bool | None, product: str) -> None:
    """``--no-network-isolation`` for a published product: SageMaker runs a subscribed one isolated whatever the
    request says, so smbyo sends no request that pretends otherwise (exit 2)."""
    if network_isolation is False:
        raise UsageError(
            f"--no-network-isolation with {product}: AWS Marketplace algorithms and model packages run with network "
            "isolation (no internet, no AWS calls from the container), so a request without it would not be honoured",
            hint="Drop --no-network-isolation; give the product its data through channels and S3 instead.",
            details={"flag": "--no-network-isolation"},
        )


def as_published(request: Request, algorithm: str) -> Request:
    """A CreateTrainingJob request (built against :func:`published_training`) that runs the published algorithm:
    ``AlgorithmName`` replaces ``TrainingImage`` and ``MetricDefinitions`` (the algorithm brings its image and
    metric definitions: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AlgorithmSpecification.html),
    and ``EnableNetworkIsolation`` is true (see the module docstring)."""
    kwargs = dict(request.kwargs)
    mode = kwargs["AlgorithmSpecification"]["TrainingInputMode"]
    kwargs["AlgorithmSpecification"] = {"AlgorithmName": algorithm, "TrainingInputMode": mode}
    kwargs[ISOLATION] = True
    metrics = ("AlgorithmSpecification", "MetricDefinitions")
    origins = {path: origin for path, origin in request.origins.items() if path[:2] != metrics}
    origins[("AlgorithmSpecification", "AlgorithmName")] = ("--algorithm",)
    origins[(ISOLATION,)] = ("--algorithm",)
    return Request(request.operation, kwargs, origins)


# --- a model package's (or an algorithm's) InferenceSpecification -----------------------------------------


def check_inference_choices(
    inference: Mapping[str, Any],
    product: str,
    use: Use,
    *,
    content_type: str | None = None,
    accept: str | None = None,
    instance_type: str | None = None,
) -> None:
    """The flags' content type, accept type and instance type against the product's InferenceSpecification (a
    product that declares no instance type for ``use`` cannot be used so: exit 2)."""
    key = INSTANCE_TYPES[use]
    supported = _names(inference.get(key))
    if not supported:
        other = "deploy" if use == "transform" else "transform"
        raise UsageError(
            f"{product} supports no {'batch transform' if use == 'transform' else 'real-time endpoint'} "
            f"({INFERENCE}.{key} is empty)",
            hint=f"Use `smbyo {other}` with it instead, or a product that lists {key}.",
        )
    choices = (
        ("--content-type", content_type, "SupportedContentTypes"),
        ("--accept", accept, "SupportedResponseMIMETypes"),
        ("--instance-type", instance_type, key),
    )
    for flag, value, member in choices:
        allowed = _names(inference.get(member))
        if value is not None and allowed and value not in allowed:
            raise UsageError(
                f"{flag} {value} is not one {product} supports ({INFERENCE}.{member}: {', '.join(allowed)})",
                hint=f"Use e.g. {flag} {allowed[0]}, or drop {flag} to use the first.",
            )


def inference_manifest(manifest: Manifest, inference: Mapping[str, Any]) -> Manifest:
    """The manifest with what it says about serving replaced by the product's InferenceSpecification, so the
    transform and endpoint builders take their defaults (the first of each list) from the product."""
    serving = manifest.serving.model_copy(update={
        "content_types": _names(inference.get("SupportedContentTypes")) or manifest.serving.content_types,
        "accept": _names(inference.get("SupportedResponseMIMETypes")) or manifest.serving.accept,
    })  # fmt: skip
    hosting = manifest.inference.model_copy(update={
        "transform_instance_types": _names(inference.get(INSTANCE_TYPES["transform"])),
        "realtime_instance_types": _names(inference.get(INSTANCE_TYPES["realtime"])),
    })  # fmt: skip
    return manifest.model_copy(update={"serving": serving, "inference": hosting})


def inference_origins(request: Request, flag: str) -> Request:
    """Defaults taken from the product (not from smbyo.yaml): pre-flight names the product's flag for them."""
    for path, origin in list(request.origins.items()):
        if origin[:1] in (("serving",), ("inference",)):
            request.origins[path] = (flag,)
    return request


def package_model_request(
    manifest: Manifest, *, model_name: str, package: str, role: str, flags: Mapping[str, str]
) -> Request:
    """``CreateModel`` whose container is the model package (it brings its image and model data), isolated.
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html (ModelPackageName)"""
    kwargs: dict[str, Any] = {
        "ModelName": model_name,
        "PrimaryContainer": {"ModelPackageName": package},
        "ExecutionRoleArn": role,
        ISOLATION: True,
    }
    kwargs["Tags"] = tags(manifest)
    package_flag = flags.get("package", "--model-package")
    origins: dict[RequestPath, Origin] = {
        ("ModelName",): (flags["name"],) if "name" in flags else ("name",),
        ("PrimaryContainer", "ModelPackageName"): (package_flag,),
        ("ExecutionRoleArn",): (flags["role"],) if "role" in flags else ("validation", "role"),
        (ISOLATION,): (package_flag,),
        ("Tags",): ("tags",),
    }
    return Request("CreateModel", kwargs, origins)
