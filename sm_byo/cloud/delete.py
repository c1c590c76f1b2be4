"""``smbyo delete``: remove what smbyo created on AWS, and only that.

Two forms. ``smbyo delete KIND NAME...`` names the resources (an endpoint takes its endpoint config and
models along, as ``deploy`` made them); every name is looked up before anything is deleted, so a missing one
exits 2 and nothing goes. ``smbyo delete project`` finds the manifest's own resources by the ``smbyo:project``
tag smbyo puts on every model, endpoint config, endpoint, algorithm and model package it creates
(``sm_byo.specs.names.PROJECT_TAG``); a resource without it (made by hand, by another tool, by another
project, or by an smbyo release before the tag) is never touched. ``--data`` adds the S3 objects smbyo
uploaded for the project (each carries ``smbyo-project`` metadata, ``sm_byo.cloud.s3.PROJECT_METADATA``) under
the two places smbyo uploads to; ``--images`` the ECR tags the project's resources run, in the project's
repository (never the repository, never another tag).

The targets are listed first (``--dry-run`` stops there) and deleted in an order that leaves nothing
dangling: endpoints, endpoint configs, models, model packages, algorithms, S3 objects, image tags. A deletion
AWS refuses (an endpoint still Creating, a permission) is recorded and the rest still go; the command then
exits 1 naming what failed and what was deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo.aws import AwsAdapter, marketplace
from sm_byo.aws.errors import AwsNotFound
from sm_byo.cloud.push import split_tag
from sm_byo.cloud.s3 import PROJECT_METADATA, parse_s3_uri
from sm_byo.cloud.session import bucket_name, open_aws
from sm_byo.errors import DeleteIncomplete, SmByoError, UsageError, WorkFailed
from sm_byo.manifest import LoadedManifest
from sm_byo.options import DELETE_KINDS, CloudOptions, DeleteCommand
from sm_byo.reporting import Reporter
from sm_byo.rules import listing_arn_problem, name_problem
from sm_byo.specs.names import INFERENCE_SUFFIX, PROJECT_TAG, data_prefix, repository_name
from sm_byo.specs.validation import is_s3


@dataclass(frozen=True)
class Target:
    """One thing to delete: ``kind`` as smbyo names it, ``name`` as its Delete call takes it (an S3 object's
    ``s3://bucket/key``, an image tag's ``repository:tag``)."""

    kind: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name}

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class DeleteResult:
    """What a delete listed (``targets``), and once run, what went, what was already gone, what AWS refused."""

    dry_run: bool
    targets: list[Target] = field(default_factory=list)
    deleted: list[Target] = field(default_factory=list)
    missing: list[Target] = field(default_factory=list)
    failed: list[tuple[Target, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        if self.dry_run:
            return {"dry_run": True, "would_delete": [target.to_dict() for target in self.targets]}
        return {
            "deleted": [target.to_dict() for target in self.deleted],
            "missing": [target.to_dict() for target in self.missing],
            "failed": [{**target.to_dict(), "error": error} for target, error in self.failed],
        }


@dataclass
class LegacyEndpointResult:
    """``smbyo delete ENDPOINT``'s result as it has always been (``kind/name`` strings), for scripts reading it."""

    endpoint: str
    result: DeleteResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "deleted": [str(target) for target in self.result.deleted],
            "missing": [str(target) for target in self.result.missing],
        }


def _delete_image_tag(aws: AwsAdapter, name: str) -> None:
    repository, tag = split_tag(name)
    refused = aws.delete_image_tags(repository, [tag])
    if refused:
        code = refused.get(tag, "")
        if code.startswith("ImageNotFound"):
            raise AwsNotFound(f"ecr:BatchDeleteImage: {refused[tag]}")
        raise WorkFailed(f"ecr:BatchDeleteImage refused {name}: {refused[tag]}")


def _delete_object(aws: AwsAdapter, name: str) -> None:
    aws.delete_object(*parse_s3_uri(name, "s3-object"))


# Each kind's Delete call, in the order the kinds go (what uses a resource goes before it).
DELETERS: Mapping[str, Callable[[AwsAdapter, str], None]] = {
    "endpoint": AwsAdapter.delete_endpoint,
    "endpoint-config": AwsAdapter.delete_endpoint_config,
    "model": AwsAdapter.delete_model,
    "model-package": marketplace.delete_model_package,
    "algorithm": marketplace.delete_algorithm,
    "s3-object": _delete_object,
    "ecr-image": _delete_image_tag,
}


def _in_order(targets: Iterable[Target]) -> list[Target]:
    """``targets`` without repeats, ordered by kind (DELETERS' order), each kind in the order found."""
    unique = list(dict.fromkeys(targets))
    rank = {kind: index for index, kind in enumerate(DELETERS)}
    return sorted(unique, key=lambda target: rank[target.kind])


# --- the command line -----------------------------------------------------------------------------------


def delete_command(
    arguments: tuple[str, ...], *, dry_run: bool, data: bool, images: bool, cloud: CloudOptions
) -> DeleteCommand:
    """``KIND NAME...``, ``project``, or the one-argument ``ENDPOINT`` of earlier versions, as a DeleteCommand;
    exit 2 naming what is wrong."""
    example = "e.g. `smbyo delete endpoint my-endpoint` or `smbyo delete project --dry-run`."
    if not arguments:
        raise UsageError(f"name what to delete: KIND ({', '.join(DELETE_KINDS)}) and NAME...", hint=example)
    kind, names = arguments[0], tuple(arguments[1:])
    legacy = kind not in DELETE_KINDS
    if legacy:
        if names:
            raise UsageError(
                f"{kind!r} is not a kind of resource smbyo deletes ({', '.join(DELETE_KINDS)})", hint=example
            )
        kind, names = "endpoint", (arguments[0],)
    if kind == "project" and names:
        raise UsageError(
            "`smbyo delete project` takes no NAME: the project is the manifest's (-f/--manifest)",
            hint="Drop the names, or delete them by kind: `smbyo delete model NAME`.",
        )
    if kind != "project" and not names:
        raise UsageError(
            f"`smbyo delete {kind}` needs the NAME or ARN of what to delete",
            hint=f"e.g. `smbyo delete {kind} NAME`; an endpoint named {kind!r}: `smbyo delete endpoint {kind}`.",
        )
    extra = [flag for flag, given in (("--data", data), ("--images", images)) if given]
    if kind != "project" and extra:
        raise UsageError(
            f"{extra[0]} applies to `smbyo delete project` only",
            hint=f"Drop {extra[0]}, or run `smbyo delete project {' '.join(extra)}`.",
        )
    for name in names:
        if problem := _name_or_arn_problem(kind, name):
            raise UsageError(f"smbyo delete {kind}: {problem}", hint="Give the name (or ARN) AWS lists for it.")
    return DeleteCommand(kind, names, dry_run=dry_run, data=data, images=images, legacy=legacy, cloud=cloud)


def _name_or_arn_problem(kind: str, value: str) -> str | None:
    """Why ``value`` names no ``kind`` SageMaker could have (checked before any call: an empty or multi-line
    name is the command line's mistake, not a resource AWS failed to find)."""
    if not value.startswith("arn:"):
        return name_problem(value)
    if kind in ("algorithm", "model-package"):
        return listing_arn_problem(value)
    return name_problem(value.rsplit("/", 1)[-1])  # an endpoint's or model's ARN ends in its name


# --- named resources --------------------------------------------------------------------------------


def _endpoint_targets(aws: AwsAdapter, name: str, result: DeleteResult) -> list[Target]:
    """The endpoint, its endpoint config and the config's models (those still there; the others are missing)."""
    description = aws.describe_endpoint(name)
    targets = [Target("endpoint", str(description.get("EndpointName", name)))]
    config = str(description.get("EndpointConfigName", name))
    try:
        variants = aws.describe_endpoint_config(config).get("ProductionVariants", [])
    except AwsNotFound:
        result.missing.append(Target("endpoint-config", config))
        return targets
    targets.append(Target("endpoint-config", config))
    for variant in variants:
        model = str(variant["ModelName"])
        try:
            aws.describe_model(model)
            targets.append(Target("model", model))
        except AwsNotFound:
            result.missing.append(Target("model", model))
    return targets


def _named_targets(aws: AwsAdapter, kind: str, name: str, result: DeleteResult) -> list[Target]:
    """What ``smbyo delete KIND NAME`` deletes; a NAME that does not exist raises AwsNotFound (exit 2, naming it)."""
    if kind in ("endpoint", "model") and name.startswith("arn:"):
        # DescribeEndpoint and DescribeModel take names only; the ARN's resource part is the name (SageMaker writes
        # it lower-cased in the ARN: a mixed-case name is not found that way, and its name has to be given).
        name = name.rsplit("/", 1)[-1]
    if kind == "endpoint":
        return _endpoint_targets(aws, name, result)
    if kind == "model":
        return [Target("model", str(aws.describe_model(name).get("ModelName", name)))]
    if kind == "algorithm":
        return [Target("algorithm", str(marketplace.describe_algorithm(aws, name).get("AlgorithmName", name)))]
    described = marketplace.describe_model_package(aws, name)
    # A versioned package (one of a group) is deleted by its ARN; smbyo's own are unversioned, named.
    versioned = described.get("ModelPackageVersion") is not None
    return [Target("model-package", str(described["ModelPackageArn"] if versioned else described["ModelPackageName"]))]


# --- a project's resources ----------------------------------------------------------------------------

# Each kind smbyo tags: the adapter's List call, and the summary's name and ARN fields.
LISTED: tuple[tuple[str, Callable[[AwsAdapter], list[dict[str, Any]]], str, str], ...] = (
    ("endpoint", AwsAdapter.list_endpoints, "EndpointName", "EndpointArn"),
    ("endpoint-config", AwsAdapter.list_endpoint_configs, "EndpointConfigName", "EndpointConfigArn"),
    ("model", AwsAdapter.list_models, "ModelName", "ModelArn"),
    ("model-package", AwsAdapter.list_model_packages, "ModelPackageName", "ModelPackageArn"),
    ("algorithm", AwsAdapter.list_algorithms, "AlgorithmName", "AlgorithmArn"),
)


def tagged_resources(aws: AwsAdapter, project: str) -> list[Target]:
    """Every resource of the kinds smbyo creates whose ``smbyo:project`` tag is ``project``: each kind listed
    (all pages) and each resource's tags read (ListTags), since SageMaker's List calls take no tag filter.
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTags.html"""
    found: list[Target] = []
    for kind, list_all, name_field, arn_field in LISTED:
        for summary in list_all(aws):
            if aws.resource_tags(str(summary[arn_field])).get(PROJECT_TAG) == project:
                found.append(Target(kind, str(summary[name_field])))
    return found


def _images_of(description: Mapping[str, Any]) -> list[str]:
    """The image URIs a model, algorithm or model package description names (training and serving)."""
    images = [description.get("TrainingSpecification", {}).get("TrainingImage")]
    containers = [description.get("PrimaryContainer") or {}, *description.get("Containers", [])]
    containers += description.get("InferenceSpecification", {}).get("Containers", [])
    images += [container.get("Image") for container in containers]
    return [str(image) for image in images if image]


def _describe(aws: AwsAdapter, target: Target) -> Mapping[str, Any]:
    if target.kind == "model":
        return aws.describe_model(target.name)
    if target.kind == "algorithm":
        return marketplace.describe_algorithm(aws, target.name)
    if target.kind == "model-package":
        return marketplace.describe_model_package(aws, target.name)
    return {}


def image_tags_in(images: Iterable[str], repository_uri: str, inference_pair: bool) -> set[str]:
    """The tags of ``images`` that are in ``repository_uri`` (``host/repository``; digests are not tags), and
    with ``inference_pair`` (a manifest with ``image.inference``) each one's partner: `smbyo push` pushes
    ``TAG`` and ``TAG-inference`` together (``sm_byo.specs.names.role_tag``)."""
    tags: set[str] = set()
    for image in images:
        if "@" in image:
            continue
        repository, tag = split_tag(image)
        if repository == repository_uri:
            tags.add(tag)
    if inference_pair:
        tags |= {tag.removesuffix(INFERENCE_SUFFIX) for tag in tags}
        tags |= {tag + INFERENCE_SUFFIX for tag in tags if not tag.endswith(INFERENCE_SUFFIX)}
    return tags


def _image_targets(aws: AwsAdapter, loaded: LoadedManifest, resources: list[Target]) -> list[Target]:
    """The tags the project's models, model packages and algorithms run that its ECR repository still holds."""
    repository = repository_name(loaded.manifest)
    described = aws.describe_repository(repository)
    if described is None:
        return []
    images = [image for target in resources for image in _images_of(_describe(aws, target))]
    wanted = image_tags_in(images, str(described["repositoryUri"]), loaded.manifest.image.inference is not None)
    present = aws.image_tags(repository)
    return [Target("ecr-image", f"{repository}:{tag}") for tag in sorted(wanted & present)]


def data_locations(loaded: LoadedManifest, aws: AwsAdapter) -> list[tuple[str, str]]:
    """(bucket, prefix) pairs smbyo uploads the project's local data under: train's and transform's
    ``smbyo/<name>/`` in smbyo's bucket, and publish's ``validation.output``."""
    locations = [(bucket_name(aws.region, aws.account_id), data_prefix(loaded.manifest))]
    validation = loaded.manifest.validation
    if validation is not None and validation.output and is_s3(validation.output):
        bucket, prefix = parse_s3_uri(validation.output, "validation.output")
        locations.append((bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""))
    return locations


def _reachable(aws: AwsAdapter, bucket: str, reporter: Reporter) -> bool:
    """Whether ``bucket`` exists and is the caller's to read: smbyo uploaded nothing to one that is not."""
    try:
        return aws.bucket_exists(bucket)
    except SmByoError as exc:
        reporter.warn(f"s3://{bucket} is not looked in: {exc.message}")
        return False


def _data_targets(aws: AwsAdapter, loaded: LoadedManifest, reporter: Reporter) -> list[Target]:
    """The objects under the project's upload locations whose ``smbyo-project`` metadata names this project
    (HeadObject each: ListObjectsV2 does not return user metadata). Job outputs, and anything smbyo did not
    upload, have no such metadata and stay."""
    found: list[Target] = []
    for bucket, prefix in data_locations(loaded, aws):
        if not _reachable(aws, bucket, reporter):
            continue
        for summary in aws.list_objects(bucket, prefix):
            key = str(summary["Key"])
            head = aws.head_object(bucket, key) or {}
            if head.get("Metadata", {}).get(PROJECT_METADATA) == loaded.manifest.name:
                found.append(Target("s3-object", f"s3://{bucket}/{key}"))
    return found


def project_targets(
    aws: AwsAdapter, loaded: LoadedManifest, options: DeleteCommand, reporter: Reporter
) -> list[Target]:
    """The project's tagged resources, and with ``--images``/``--data`` its image tags and uploaded objects."""
    resources = tagged_resources(aws, loaded.manifest.name)
    targets = list(resources)
    if options.images:
        targets += _image_targets(aws, loaded, resources)
    if options.data:
        targets += _data_targets(aws, loaded, reporter)
    return targets


# --- the command ----------------------------------------------------------------------------------------


def _run(aws: AwsAdapter, result: DeleteResult, reporter: Reporter) -> None:
    """Delete each target in order; one AWS refuses is recorded and the rest still go."""
    for target in result.targets:
        reporter.step(f"Deleting {target.kind} {target.name}")
        try:
            DELETERS[target.kind](aws, target.name)
        except AwsNotFound:
            result.missing.append(target)
        except SmByoError as exc:
            result.failed.append((target, exc.message))
            reporter.warn(f"could not delete {target}: {exc.message}")
        else:
            result.deleted.append(target)


def delete_resources(
    options: DeleteCommand,
    reporter: Reporter,
    loaded: LoadedManifest | None = None,
    aws: AwsAdapter | None = None,
) -> DeleteResult | LegacyEndpointResult:
    """List what ``options`` names (``loaded``: the project's manifest, for ``delete project``), then, unless
    ``dry_run``, delete it. Raises DeleteIncomplete (exit 1, the result in ``details``) when AWS refused some."""
    adapter = open_aws(options.cloud.profile, options.cloud.region, aws)
    result = DeleteResult(dry_run=options.dry_run)
    if options.kind == "project":
        assert loaded is not None
        found = project_targets(adapter, loaded, options, reporter)
    else:
        found = [target for name in options.names for target in _named_targets(adapter, options.kind, name, result)]
    result.targets = _in_order(found)
    if not options.dry_run:
        _run(adapter, result, reporter)
    if result.failed:
        failed = ", ".join(f"{target} ({error})" for target, error in result.failed)
        raise DeleteIncomplete(
            f"could not delete {len(result.failed)} of {len(result.targets)} ({len(result.deleted)} deleted): {failed}",
            hint="The rest was deleted (details.deleted). Fix what AWS says (e.g. wait until an endpoint is no "
            "longer Creating), then delete what failed: `smbyo delete KIND NAME`, or `smbyo delete project` again.",
            details=result.to_dict(),
        )
    if options.legacy and not options.dry_run:
        return LegacyEndpointResult(options.names[0], result)
    return result
