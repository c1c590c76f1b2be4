"""Pre-flight checks: every reason AWS would reject a request, found before it is sent.

Two sources, all violations reported at once:

* the service model of the request's service (``sm_byo.aws.service_model``; SageMaker's, or marketplace-catalog's
  for a listing's change set): botocore's own parameter validation, plus the patterns, enums and maximums that
  botocore leaves to the server;
* the rules AWS applies that the service model cannot express: the role is a role *ARN*, S3 URIs
  are well formed, the image is on ECR, defaults fall inside their ranges and are not on required
  hyperparameters, the tuning objective names a defined metric, one validation profile, and the
  validation profile only uses what the algorithm declares; for a change set, the rules the Catalog API
  documents for ML products (``sm_byo.rules.change_set_problems``).

Each violation names the manifest field (with its line) or the flag that produced the value, so the
user knows what to edit. The fix is always in the manifest or the flags: exit code 2.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo.aws.service_model import Violation, check_request, is_operation
from sm_byo.errors import ManifestError, ManifestProblem
from sm_byo.manifest import LoadedManifest, format_loc
from sm_byo.rules import (
    MAX_RUNTIME,
    MAX_WAIT,
    S3_URI,
    SPOT,
    account_mismatch,
    change_set_problems,
    data_processing_problems,
    ecr_image_problem,
    instance_count_problem,
    managed_spot_problem,
    metric_regex_problem,
    name_problem,
    role_account,
    role_problem,
    s3_uri_problem,
    transform_payload_problem,
    tuning_job_problems,
)
from sm_byo.runtime.hyperparameters import value_problem
from sm_byo.specs.request import Origin, Request, RequestPath, is_flag

S3_KEYS = ("S3Uri", "S3OutputPath", "ModelDataUrl")
ROLE_KEYS = ("ValidationRole", "RoleArn", "ExecutionRoleArn")
# A local plan names local data as file:// URIs where SageMaker takes S3 URIs, and a local image tag
# where SageMaker needs ECR (docs/local.md, "What differs from SageMaker").
LOCAL_DATA_PREFIX = "file://"
IMAGE_KEYS = ("TrainingImage", "Image")
# Names of jobs and resources a plan creates or refers to (the rule in sm_byo.rules, friendlier than the pattern).
NAME_KEYS = ("TrainingJobName", "TransformJobName", "ModelName", "EndpointConfigName", "EndpointName")


@dataclass(frozen=True)
class Ownership:
    """What the credentials showed about the account a plan runs in (gathered by ``sm_byo.cloud.session``; a
    --dry-run without credentials has none, and these checks are skipped).

    ``foreign_buckets``: bucket -> why the plan may not write there (another account's bucket)."""

    account: str
    foreign_buckets: Mapping[str, str] = field(default_factory=dict)


class RequestRejected(ManifestError):
    """A request AWS would reject; every problem names the manifest field or flag to fix (exit 2)."""

    title = "Request would be rejected"


# --- rules the service model cannot express -------------------------------------------------------


def _walk(value: Any, path: RequestPath = ()) -> Iterator[tuple[RequestPath, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def _role_violations(kwargs: dict[str, Any]) -> Iterator[Violation]:
    for path, value in _walk(kwargs):
        if path and path[-1] in ROLE_KEYS and isinstance(value, str) and (problem := role_problem(value)):
            yield Violation(path, problem)
    spec = kwargs.get("ValidationSpecification")
    if isinstance(spec, dict) and not spec.get("ValidationRole"):
        yield Violation(
            ("ValidationSpecification", "ValidationRole"),
            "required: the ARN of the IAM role AWS assumes to run the validation jobs",
        )


def _ownership_violations(kwargs: dict[str, Any], ownership: Ownership | None) -> Iterator[Violation]:
    """The role and the output bucket are the caller's account's.

    SageMaker assumes the role through iam:PassRole, which passes only roles of the caller's own account
    ("you can't pass a role from another account", https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html).
    """
    if ownership is None:
        return
    for path, value in _walk(kwargs):
        if not path or not isinstance(value, str):
            continue
        account = role_account(value) if path[-1] in ROLE_KEYS else None
        mismatch = account_mismatch(account, ownership.account) if account else None
        if mismatch is not None:
            yield Violation(
                path,
                f"the role is {mismatch}: SageMaker can only be given a role of the account that calls it; "
                f"use a role of account {ownership.account} (or credentials of account {account})",
            )
        match = S3_URI.fullmatch(value) if path[-1] in S3_KEYS else None
        if match is not None and match["bucket"] in ownership.foreign_buckets:
            yield Violation(path, ownership.foreign_buckets[match["bucket"]])


def _s3_violations(kwargs: dict[str, Any]) -> Iterator[Violation]:
    for path, value in _walk(kwargs):
        if not path or path[-1] not in S3_KEYS or not isinstance(value, str):
            continue
        if not value:
            yield Violation(
                path,
                "no S3 location: local validation data is uploaded under validation.output, "
                "so set validation.output to an s3://bucket/prefix you can write to (or give s3:// data URIs)",
            )
        elif problem := s3_uri_problem(value):
            yield Violation(path, problem)


def _name_violations(kwargs: dict[str, Any]) -> Iterator[Violation]:
    for path, value in _walk(kwargs):
        if path and path[-1] in NAME_KEYS and isinstance(value, str) and (problem := name_problem(value)):
            yield Violation(path, problem)


def _image_violations(kwargs: dict[str, Any], registries: frozenset[str]) -> Iterator[Violation]:
    for path, value in _walk(kwargs):
        is_image = bool(path) and path[-1] in IMAGE_KEYS and isinstance(value, str)
        if is_image and (problem := ecr_image_problem(value, registries)):
            yield Violation(path, problem)


def _bound(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _runtime_spec(item: dict[str, Any]) -> dict[str, Any]:
    """A SupportedHyperParameter in the shape the runtime's rule reads (type, min, max, values)."""
    ranges = item.get("Range") or {}
    bounds = (
        ranges.get("IntegerParameterRangeSpecification") or ranges.get("ContinuousParameterRangeSpecification") or {}
    )
    return {
        "type": item.get("Type"),
        "min": _bound(bounds.get("MinValue")),
        "max": _bound(bounds.get("MaxValue")),
        "values": ranges.get("CategoricalParameterRangeSpecification", {}).get("Values"),
    }


def _value_problem(item: dict[str, Any], value: str) -> str | None:
    """Why ``value`` is not acceptable for hyperparameter ``item`` (None when it is): the runtime's rule."""
    return value_problem(_runtime_spec(item), value)


def _hyperparameter_violations(kwargs: dict[str, Any]) -> Iterator[Violation]:
    items = kwargs.get("TrainingSpecification", {}).get("SupportedHyperParameters", [])
    base: RequestPath = ("TrainingSpecification", "SupportedHyperParameters")
    for index, item in enumerate(items):
        path = (*base, index)
        default = item.get("DefaultValue")
        if default is not None and item.get("IsRequired"):
            yield Violation((*path, "DefaultValue"), "a required hyperparameter cannot have a default; drop one")
        if default is not None:
            problem = _value_problem(item, default)
            if problem:
                yield Violation((*path, "DefaultValue"), f"default {problem}")
        if item.get("IsTunable") and item.get("Type") == "FreeText":
            yield Violation((*path, "IsTunable"), "FreeText hyperparameters cannot be tunable")
        elif item.get("IsTunable") and "Range" not in item:
            yield Violation((*path, "Range"), "a tunable hyperparameter needs a range (min and max, or values)")


def _metric_violations(kwargs: dict[str, Any]) -> Iterator[Violation]:
    for owner in ("TrainingSpecification", "AlgorithmSpecification"):  # CreateAlgorithm, CreateTrainingJob
        for index, metric in enumerate(kwargs.get(owner, {}).get("MetricDefinitions", [])):
            if problem := metric_regex_problem(str(metric.get("Regex", ""))):
                yield Violation((owner, "MetricDefinitions", index, "Regex"), problem)
    training = kwargs.get("TrainingSpecification", {})
    metrics = training.get("MetricDefinitions", [])
    names = {metric.get("Name") for metric in metrics}
    for index, objective in enumerate(training.get("SupportedTuningJobObjectiveMetrics", [])):
        if objective.get("MetricName") not in names:
            known = ", ".join(sorted(str(name) for name in names)) or "none"
            yield Violation(
                ("TrainingSpecification", "SupportedTuningJobObjectiveMetrics", index, "MetricName"),
                f"{objective.get('MetricName')!r} is not one of the metrics defined ({known})",
            )


def _profile_training_violations(kwargs: dict[str, Any], profile_path: RequestPath) -> Iterator[Violation]:
    """The validation training job only uses what the TrainingSpecification declares."""
    training = kwargs.get("TrainingSpecification", {})
    job = kwargs["ValidationSpecification"]["ValidationProfiles"][0].get("TrainingJobDefinition")
    if not isinstance(job, dict) or not training:
        return
    job_path = (*profile_path, "TrainingJobDefinition")
    declared = {item["Name"]: item for item in training.get("SupportedHyperParameters", [])}
    given = job.get("HyperParameters", {})
    for name, value in given.items():
        if name not in declared:
            yield Violation((*job_path, "HyperParameters", name), f"{name!r} is not a declared hyperparameter")
        else:
            problem = _value_problem(declared[name], str(value))
            if problem:
                yield Violation((*job_path, "HyperParameters"), f"{name}: {problem}")
    for name, item in declared.items():
        if item.get("IsRequired") and name not in given:
            yield Violation((*job_path, "HyperParameters"), f"the required hyperparameter {name!r} has no value")
    fed = {channel.get("ChannelName") for channel in job.get("InputDataConfig", [])}
    for index, channel in enumerate(training.get("TrainingChannels", [])):
        if channel.get("IsRequired") and channel.get("Name") not in fed:
            yield Violation(
                ("TrainingSpecification", "TrainingChannels", index, "IsRequired"),
                f"channel {channel.get('Name')!r} is required, but the validation profile only provides data for "
                f"{', '.join(sorted(str(f) for f in fed))}; make it optional",
            )
    instance = job.get("ResourceConfig", {}).get("InstanceType")
    supported = training.get("SupportedTrainingInstanceTypes", [])
    if instance and supported and instance not in supported:
        yield Violation(
            (*job_path, "ResourceConfig"),
            f"{instance} is not one of training.instance_types ({', '.join(supported)})",
        )


def _profile_transform_violations(kwargs: dict[str, Any], profile_path: RequestPath) -> Iterator[Violation]:
    inference = kwargs.get("InferenceSpecification", {})
    job = kwargs["ValidationSpecification"]["ValidationProfiles"][0].get("TransformJobDefinition", {})
    job_path = (*profile_path, "TransformJobDefinition")
    content_type = job.get("TransformInput", {}).get("ContentType")
    supported = inference.get("SupportedContentTypes", [])
    if content_type and supported and content_type not in supported:
        yield Violation(
            (*job_path, "TransformInput", "ContentType"),
            f"{content_type} is not one of serving.content_types ({', '.join(supported)})",
        )
    instance = job.get("TransformResources", {}).get("InstanceType")
    allowed = inference.get("SupportedTransformInstanceTypes", [])
    if instance and allowed and instance not in allowed:
        yield Violation(
            (*job_path, "TransformResources"),
            f"{instance} is not one of inference.transform_instance_types ({', '.join(allowed)})",
        )


def _transform_payload_violations(kwargs: dict[str, Any]) -> Iterator[Violation]:
    """MaxConcurrentTransforms x MaxPayloadInMB <= 100 MB, in a transform job or a validation profile's."""
    jobs: list[tuple[RequestPath, Any]] = [((), kwargs)]
    for index, profile in enumerate(kwargs.get("ValidationSpecification", {}).get("ValidationProfiles", [])):
        jobs.append((("ValidationSpecification", "ValidationProfiles", index, "TransformJobDefinition"),
                     profile.get("TransformJobDefinition")))  # fmt: skip
    for path, job in jobs:
        if not isinstance(job, dict):
            continue
        problem = transform_payload_problem(job.get("MaxPayloadInMB"), job.get("MaxConcurrentTransforms"))
        if problem:
            yield Violation((*path, "MaxPayloadInMB"), problem)


def _data_processing_violations(kwargs: dict[str, Any]) -> Iterator[Violation]:
    """A transform job's DataProcessing: the JSONPath subset, and the types and record splits it needs."""
    for path, problem in data_processing_problems(kwargs):
        yield Violation(path, problem)


def _validation_violations(kwargs: dict[str, Any]) -> Iterator[Violation]:
    spec = kwargs.get("ValidationSpecification")
    if spec is None:
        if kwargs.get("CertifyForMarketplace"):
            yield Violation(
                ("ValidationSpecification",),
                "AWS Marketplace listings need a validation profile: add a `validation:` section "
                "(role, instance_type, training_data, transform_data, output)",
            )
        return
    profiles = spec.get("ValidationProfiles", [])
    if len(profiles) != 1:
        yield Violation(("ValidationSpecification", "ValidationProfiles"), "exactly one validation profile")
        return
    profile_path: RequestPath = ("ValidationSpecification", "ValidationProfiles", 0)
    yield from _profile_training_violations(kwargs, profile_path)
    yield from _profile_transform_violations(kwargs, profile_path)


def describe_origin(loaded: LoadedManifest | None, origin: Origin) -> str:
    """Where a value came from, for a message about two values: the flag, or the manifest field and its line."""
    if not origin:
        return "smbyo's default"
    if is_flag(origin):
        return str(origin[0])
    field = format_loc(origin)
    if loaded is None:
        return field
    if origin in loaded.lines:
        return f"{field} at {loaded.path.name}:{loaded.lines[origin]}"
    return f"{field} (not set: its default)"


def _training_job_violations(request: Request, loaded: LoadedManifest | None) -> Iterator[Violation]:
    """CreateTrainingJob's rules between two values (one may be the manifest's): each names where both came from."""
    if request.operation != "CreateTrainingJob":
        return
    kwargs = request.kwargs
    stopping = kwargs.get("StoppingCondition") or {}
    spot = managed_spot_problem(bool(kwargs.get(SPOT)), stopping.get(MAX_WAIT), stopping.get(MAX_RUNTIME))
    if spot is not None:
        field, message = spot
        involved: list[RequestPath] = [(SPOT,), ("StoppingCondition", MAX_WAIT), ("StoppingCondition", MAX_RUNTIME)]
        given = [path for path in involved if _value_at(kwargs, path) is not None]
        sources = "; ".join(f"{_request_field(path)} from {describe_origin(loaded, request.origin_of(path))}"
                            for path in given)  # fmt: skip
        path = (SPOT,) if field == SPOT else ("StoppingCondition", field)
        yield Violation(path, f"{message} [{sources}]")
    training = loaded.manifest.training if loaded is not None else None
    count_path: RequestPath = ("ResourceConfig", "InstanceCount")
    count = _value_at(kwargs, count_path)
    distributed = training.supports_distributed if training is not None else True
    if "InstanceGroups" not in (kwargs.get("ResourceConfig") or {}) and count is not None:
        problem = instance_count_problem(count, distributed)
        if problem is not None and count > 1:
            where = describe_origin(loaded, ("training", "supports_distributed"))
            source = describe_origin(loaded, request.origin_of(count_path))
            problem += f" [{_request_field(count_path)} from {source}; {where}]"
        if problem is not None:
            yield Violation(count_path, problem)


def _tuning_job_violations(request: Request) -> Iterator[Violation]:
    """CreateHyperParameterTuningJob's rules (sm_byo.rules.tuning_job_problems), and the spot rule of the training
    job each trial runs (its TrainingJobDefinition)."""
    if request.operation != "CreateHyperParameterTuningJob":
        return
    for path, problem in tuning_job_problems(request.kwargs):
        yield Violation(path, problem)
    definition = request.kwargs.get("TrainingJobDefinition") or {}
    stopping = definition.get("StoppingCondition") or {}
    spot = managed_spot_problem(bool(definition.get(SPOT)), stopping.get(MAX_WAIT), stopping.get(MAX_RUNTIME))
    if spot is not None:
        field, message = spot
        where: RequestPath = (SPOT,) if field == SPOT else ("StoppingCondition", field)
        yield Violation(("TrainingJobDefinition", *where), message)


def rule_violations(
    request: Request,
    registries: frozenset[str] = frozenset(),
    loaded: LoadedManifest | None = None,
    ownership: Ownership | None = None,
) -> list[Violation]:
    """The rules AWS applies that the service model does not express (``loaded``: the manifest behind
    the request, for the rules between a request and the algorithm it describes; ``ownership``: what the
    credentials showed, for the rules about whose role and bucket the request names)."""
    kwargs = request.kwargs
    if request.service != "sagemaker":  # an AWS Marketplace change set: the Catalog API's documented rules
        return [Violation(path, problem) for path, problem in change_set_problems(kwargs)]
    found: list[Violation] = list(_image_violations(kwargs, registries))
    found.extend(_training_job_violations(request, loaded))
    found.extend(_tuning_job_violations(request))
    found.extend(_ownership_violations(kwargs, ownership))
    for rule in (
        _name_violations,
        _role_violations,
        _s3_violations,
        _hyperparameter_violations,
        _metric_violations,
        _transform_payload_violations,
        _data_processing_violations,
        _validation_violations,
    ):
        found.extend(rule(kwargs))
    return found


# --- putting it together --------------------------------------------------------------------------


def _value_at(kwargs: dict[str, Any], path: RequestPath) -> Any:
    value: Any = kwargs
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _allowed_locally(kwargs: dict[str, Any], violation: Violation) -> bool:
    """What a local executor takes in place of AWS resources: file:// data and local image tags."""
    if not violation.path:
        return False
    key, value = violation.path[-1], _value_at(kwargs, violation.path)
    if key in S3_KEYS and isinstance(value, str) and value.startswith(LOCAL_DATA_PREFIX):
        return True
    return key in IMAGE_KEYS


def request_violations(
    request: Request,
    *,
    local: bool = False,
    registries: frozenset[str] = frozenset(),
    loaded: LoadedManifest | None = None,
    ownership: Ownership | None = None,
) -> list[Violation]:
    """Every violation of ``request``; where a rule explains a value, the generic model message is dropped.

    Operations SageMaker does not have (a plan's uploads) have nothing to check. ``local``: the
    request runs in local Docker, which takes file:// data and local images (nothing else differs).
    """
    if not is_operation(request.service, request.operation):
        return []
    ours = rule_violations(request, registries, loaded, ownership)
    explained = {violation.path for violation in ours}
    checked = check_request(request.operation, request.kwargs, request.service)
    model = [v for v in checked if v.path not in explained]
    found = model + ours
    return [v for v in found if not _allowed_locally(request.kwargs, v)] if local else found


def _request_field(path: RequestPath) -> str:
    return format_loc([str(part) if isinstance(part, str) else part for part in path])


def to_problem(loaded: LoadedManifest, origin: Origin, message: str, paths: list[RequestPath]) -> ManifestProblem:
    """A violation as the user sees it: the manifest field (and line) or the flag, then the request field(s)."""
    noun = "field" if len(paths) == 1 else "fields"
    message = f"{message} (request {noun} {', '.join(_request_field(path) for path in paths)})"
    if is_flag(origin):
        return ManifestProblem("command line", str(origin[0]), message)
    line = loaded.line_of(origin) if origin else None
    return ManifestProblem(str(loaded.path), format_loc(origin), message, line)


def preflight_problems(
    loaded: LoadedManifest, request: Request, *, local: bool = False, registries: frozenset[str] = frozenset()
) -> list[ManifestProblem]:
    """Every reason AWS would reject ``request``, each pointing at what to fix.

    One manifest value often lands in several request fields (the image in training and inference,
    the output prefix in both jobs): those are reported once, naming every request field.
    """
    grouped: dict[tuple[Origin, str], list[RequestPath]] = {}
    for violation in request_violations(request, local=local, registries=registries, loaded=loaded):
        key = (request.origin_of(violation.path), violation.message)
        grouped.setdefault(key, []).append(violation.path)
    return [to_problem(loaded, origin, message, paths) for (origin, message), paths in grouped.items()]


def ensure_acceptable(loaded: LoadedManifest, request: Request) -> None:
    """Raise :class:`RequestRejected` (exit 2) listing every problem, or return when AWS would accept it."""
    ensure_plan_acceptable(loaded, [request])


def ensure_plan_acceptable(
    loaded: LoadedManifest,
    requests: list[Request],
    *,
    local: bool = False,
    registries: frozenset[str] = frozenset(),
    ownership: Ownership | None = None,
) -> None:
    """Check every request of a plan before any is sent; raise :class:`RequestRejected` listing all problems.

    A flag or manifest value used by several requests of the plan (deploy's ``--name`` names the
    model, the endpoint config and the endpoint) is reported once, naming each request's field.
    """
    checked = [request for request in requests if is_operation(request.service, request.operation)]
    several = len({request.operation for request in checked}) > 1
    grouped: dict[tuple[Origin, str], list[RequestPath]] = {}
    for request in checked:
        found = request_violations(request, local=local, registries=registries, loaded=loaded, ownership=ownership)
        for violation in found:
            key = (request.origin_of(violation.path), violation.message)
            path = (request.operation, *violation.path) if several else violation.path
            grouped.setdefault(key, []).append(path)
    problems = [to_problem(loaded, origin, message, paths) for (origin, message), paths in grouped.items()]
    if problems:
        operations = ", ".join(dict.fromkeys(request.operation for request in checked))
        raise RequestRejected(
            problems,
            hint=f"Fix the manifest fields and flags named above; nothing was sent ({operations}).",
        )
