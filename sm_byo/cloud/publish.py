"""``smbyo publish algorithm|model-package``: build the request, check it, send it, follow validation.

The pipeline is the same for both kinds: decide the image and a unique name, build the request
(``sm_byo.specs``), run every pre-flight check (``sm_byo.preflight``: exit 2 naming the manifest
fields), then either return the request untouched (``--dry-run``: the result *is* the boto3 kwargs)
or upload local validation data, submit, and poll Describe* with the shared poller until Completed
or Failed, reporting each ValidationStatuses / ImageScanStatuses item as it changes. Failed ends in
:class:`JobFailed` (exit 1) carrying every FailureReason AWS gave.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sm_byo.aws import AwsAdapter, connect
from sm_byo.aws import marketplace as sagemaker
from sm_byo.cloud.s3 import PlannedUpload, plan_upload_at, send_uploads
from sm_byo.cloud.session import plan_account, plan_image, plan_ownership, resume_flags
from sm_byo.errors import JobFailed
from sm_byo.manifest import LoadedManifest, Manifest
from sm_byo.options import PublishCommand
from sm_byo.plan import Plan, upload_step
from sm_byo.polling import Backoff, PollOutcome, Watch, poll
from sm_byo.reporting import Reporter
from sm_byo.specs.algorithm import create_algorithm_request
from sm_byo.specs.model_package import create_model_package_request
from sm_byo.specs.names import unique_name
from sm_byo.specs.request import Request
from sm_byo.specs.validation import ValidationLocations, is_s3, validation_locations

SUCCEEDED = frozenset({"Completed"})
FAILED = frozenset({"Failed", "Deleting"})
DETAIL_GROUPS = (("ValidationStatuses", "validation"), ("ImageScanStatuses", "image scan"))


class Describe(Protocol):
    """Describe* of a name or ARN; ``region`` None is the session's (an ARN is described in its own region)."""

    def __call__(self, aws: AwsAdapter, name: str, region: str | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Kind:
    """How one publishable entity is named and described by SageMaker."""

    word: str
    status_key: str
    details_key: str
    arn_key: str
    describe: Describe
    create: Callable[[AwsAdapter, dict[str, Any]], dict[str, Any]]

    @property
    def entity(self) -> str:
        """SageMaker's word for it: ``Algorithm`` or ``ModelPackage``."""
        return self.status_key.removesuffix("Status")

    @property
    def name_key(self) -> str:
        return f"{self.entity}Name"

    @property
    def operation(self) -> str:
        return f"Create{self.entity}"


ALGORITHM = Kind(
    "algorithm",
    "AlgorithmStatus",
    "AlgorithmStatusDetails",
    "AlgorithmArn",
    sagemaker.describe_algorithm,
    sagemaker.create_algorithm,
)
MODEL_PACKAGE = Kind(
    "model-package",
    "ModelPackageStatus",
    "ModelPackageStatusDetails",
    "ModelPackageArn",
    sagemaker.describe_model_package,
    sagemaker.create_model_package,
)


@dataclass
class PublishResult:
    """What was created, and how its validation ended."""

    kind: str
    name: str
    request: dict[str, Any]
    arn: str | None = None
    status: str | None = None
    details: list[dict[str, Any]] = field(default_factory=list)
    elapsed_seconds: float | None = None

    @property
    def failure_reasons(self) -> list[str]:
        return [f"{item['check']} {item['name']}: {item['reason']}" for item in self.details if item.get("reason")]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "name": self.name, "arn": self.arn, "status": self.status}
        if self.details:
            data["checks"] = self.details
        if self.failure_reasons:
            data["failure_reasons"] = self.failure_reasons
        if self.elapsed_seconds is not None:
            data["elapsed_seconds"] = round(self.elapsed_seconds, 1)
        return data


# --- status details -------------------------------------------------------------------------------


def status_items(kind: Kind, description: Mapping[str, Any]) -> list[dict[str, Any]]:
    """ValidationStatuses and ImageScanStatuses as flat rows: check, name, status, reason."""
    details = description.get(kind.details_key) or {}
    rows = []
    for key, label in DETAIL_GROUPS:
        for item in details.get(key) or []:
            row = {"check": label, "name": str(item.get("Name", "")), "status": str(item.get("Status", ""))}
            if item.get("FailureReason"):
                row["reason"] = str(item["FailureReason"])
            rows.append(row)
    return rows


class DetailReporter:
    """Reports each status-detail item when it first appears and whenever its status changes."""

    def __init__(self, kind: Kind, name: str, reporter: Reporter):
        self.kind, self.name, self.reporter = kind, name, reporter
        self.seen: dict[tuple[str, str], str] = {}

    def __call__(self, description: Mapping[str, Any]) -> None:
        for row in status_items(self.kind, description):
            key = (row["check"], row["name"])
            shown = f"{row['status']}: {row['reason']}" if row.get("reason") else row["status"]
            if self.seen.get(key) != shown:
                self.seen[key] = shown
                self.reporter.status(f"{self.kind.word} {self.name} {row['check']} {row['name']}", shown)


def _watch(kind: Kind, name: str, aws: AwsAdapter, flags: str) -> Watch:
    return Watch(
        kind=kind.word,
        name=name,
        describe=lambda: kind.describe(aws, name),
        status_key=kind.status_key,
        succeeded=SUCCEEDED,
        failed=FAILED,
        resume_flags=flags,
    )


def follow(
    kind: Kind,
    name: str,
    aws: AwsAdapter,
    reporter: Reporter,
    *,
    timeout: float | None,
    request: dict[str, Any] | None = None,
    flags: str = "",
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] | None = None,
) -> PublishResult:
    """Poll until Completed or Failed; Failed raises JobFailed (exit 1) with every FailureReason."""
    extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    outcome: PollOutcome = poll(
        _watch(kind, name, aws, flags),
        reporter,
        timeout=timeout,
        backoff=backoff,
        on_tick=DetailReporter(kind, name, reporter),
        **extra,
    )
    result = PublishResult(
        kind=kind.word,
        name=name,
        request=request or {},
        arn=outcome.description.get(kind.arn_key),
        status=outcome.status,
        details=status_items(kind, outcome.description),
        elapsed_seconds=outcome.elapsed_seconds,
    )
    if not outcome.succeeded:
        raise publish_failed(result)
    return result


def publish_failed(result: PublishResult) -> JobFailed:
    """Exit 1 with every FailureReason. A terminal shows the status rows as a ✓/✗ table (reasons in a
    column) instead of the message's text list of the same reasons; --json keeps that message."""
    reasons = result.failure_reasons or ["AWS gave no FailureReason"]
    listing = "\n".join(f"  - {reason}" for reason in reasons)
    return JobFailed(
        f"{result.kind} {result.name} ended {result.status}:\n{listing}",
        hint="Reproduce AWS's validation locally with `smbyo validate --local`, fix the cause, "
        f"and publish again (a new {result.kind} name is used each time).",
        details=result.to_dict(),
        human_view={"checks": result.details} if result.details else None,
    )


# --- the image and the validation data --------------------------------------------------------------


@dataclass(frozen=True)
class RoleImages:
    """The image each role registers: the same one twice unless the manifest builds image.inference."""

    training: str
    inference: str


def default_images(loaded: LoadedManifest, aws: AwsAdapter, reporter: Reporter, *, dry_run: bool) -> RoleImages:
    """The ECR URIs ``smbyo push`` pushes to: ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:latest``
    (and ``:latest-inference`` with image.inference).

    A real submission asks ECR (the repository must exist); ``--dry-run`` only needs the account,
    and without credentials takes it from the validation role's ARN so CI can check a manifest offline.
    """
    if not dry_run:
        account = ""  # a real run asks ECR for the repository: no account needed
    else:
        role = loaded.manifest.validation.role if loaded.manifest.validation else None
        account = plan_account(aws, reporter, dry_run=True, role=role)
    return RoleImages(
        training=plan_image(aws, loaded, account, dry_run=dry_run),
        inference=plan_image(aws, loaded, account, dry_run=dry_run, role="inference"),
    )


def validation_uploads(
    loaded: LoadedManifest, where: ValidationLocations, *, with_training: bool
) -> list[PlannedUpload]:
    """Local ``validation.training_data``/``transform_data``, planned for where the request says they are."""
    validation = loaded.manifest.validation
    if validation is None:
        return []
    pairs = [(validation.transform_data, where.transform_data, "validation.transform_data")]
    if with_training:
        pairs.insert(0, (validation.training_data, where.training_data, "validation.training_data"))
    return [
        plan_upload_at(loaded.resolve(local), uri, field, project=loaded.manifest.name)
        for local, uri, field in pairs
        if local and not is_s3(local) and is_s3(uri)
    ]


# --- the commands ---------------------------------------------------------------------------------


def _submit(
    kind: Kind,
    request: Request,
    uploads: list[PlannedUpload],
    aws: AwsAdapter,
    reporter: Reporter,
    *,
    wait: bool,
    timeout: float | None,
    flags: str,
) -> PublishResult:
    name = str(request.kwargs[kind.name_key])
    send_uploads(aws, uploads, reporter)
    reporter.step(f"Creating {kind.word} {name}")
    created = kind.create(aws, request.kwargs)
    if not wait:
        return PublishResult(kind.word, name, request.kwargs, arn=created.get(kind.arn_key), status="Submitted")
    return follow(kind, name, aws, reporter, timeout=timeout, request=request.kwargs, flags=flags)


def _check_then_submit(
    kind: Kind,
    request: Request,
    loaded: LoadedManifest,
    where: ValidationLocations,
    aws: AwsAdapter,
    reporter: Reporter,
    *,
    dry_run: bool,
    wait: bool,
    timeout: float | None,
    flags: str,
) -> PublishResult | Plan:
    """Every check first (all problems at once); then the plan (--dry-run), or the submission."""
    name = str(request.kwargs[kind.name_key])
    reporter.step(f"Checking {kind.operation} {name}")
    uploads = validation_uploads(loaded, where, with_training=kind is ALGORITHM)
    steps = [upload_step(str(item.source), item.uri, "validation") for item in uploads]
    output = loaded.manifest.validation.output if loaded.manifest.validation else None
    ownership = plan_ownership(aws, dry_run=dry_run, output=output)
    plan = Plan("sagemaker", (*steps, request)).check(loaded, ownership=ownership)
    if dry_run:
        return plan
    return _submit(kind, request, uploads, aws, reporter, wait=wait, timeout=timeout, flags=flags)


def publish_algorithm(
    loaded: LoadedManifest, reporter: Reporter, options: PublishCommand, *, aws: AwsAdapter | None = None
) -> PublishResult | Plan:
    """CreateAlgorithm from the manifest (checked first), then follow its validation to the end."""
    manifest = loaded.manifest

    def request(images: RoleImages, name: str, where: ValidationLocations) -> Request:
        return create_algorithm_request(
            manifest, image=images.training, inference_image=images.inference, name=name, locations=where
        )

    return _publish(ALGORITHM, loaded, reporter, options, aws, manifest.marketplace.algorithm_name, request)


def publish_model_package(
    loaded: LoadedManifest, reporter: Reporter, options: PublishCommand, *, aws: AwsAdapter | None = None
) -> PublishResult | Plan:
    """CreateModelPackage serving ``options.model_data`` (checked first), then follow its validation to the end."""
    manifest = loaded.manifest
    model_data = str(options.model_data)

    def request(images: RoleImages, name: str, where: ValidationLocations) -> Request:
        return create_model_package_request(
            manifest, image=images.inference, model_data=model_data, name=name, locations=where
        )

    return _publish(MODEL_PACKAGE, loaded, reporter, options, aws, manifest.marketplace.model_package_name, request)


def _publish(
    kind: Kind,
    loaded: LoadedManifest,
    reporter: Reporter,
    options: PublishCommand,
    aws: AwsAdapter | None,
    fixed_name: str | None,
    build: Callable[[RoleImages, str, ValidationLocations], Request],
) -> PublishResult | Plan:
    """The same steps for both kinds: images, name, validation locations, request, then check and submit.
    --image stands for the image of every role."""
    cloud = options.cloud
    adapter = aws or connect(cloud.profile, cloud.region)
    if options.image:
        images = RoleImages(training=options.image, inference=options.image)
    else:
        images = default_images(loaded, adapter, reporter, dry_run=options.dry_run)
    name = fixed_name or unique_name(loaded.manifest.name)
    where = _locations(loaded.manifest, name)
    return _check_then_submit(
        kind, build(images, name, where), loaded, where, adapter, reporter, dry_run=options.dry_run,
        wait=cloud.wait, timeout=cloud.timeout, flags=cloud.resume_flags,
    )  # fmt: skip


def _locations(manifest: Manifest, name: str) -> ValidationLocations:
    if manifest.validation is None:
        return ValidationLocations("", "", "")
    return validation_locations(manifest.validation, name)


def wait_for_algorithm(
    name: str,
    reporter: Reporter,
    *,
    timeout: float | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
) -> PublishResult:
    """``smbyo wait algorithm NAME``: resume following an algorithm's validation."""
    flags = resume_flags(profile, region)
    return follow(ALGORITHM, name, aws or connect(profile, region), reporter, timeout=timeout, flags=flags)


def wait_for_model_package(
    name: str,
    reporter: Reporter,
    *,
    timeout: float | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
) -> PublishResult:
    """``smbyo wait model-package NAME``: resume following a model package's validation."""
    flags = resume_flags(profile, region)
    return follow(MODEL_PACKAGE, name, aws or connect(profile, region), reporter, timeout=timeout, flags=flags)
