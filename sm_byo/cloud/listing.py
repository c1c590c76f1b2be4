"""``smbyo publish listing``: a version of an AWS Marketplace ML product, through the Catalog API.

The pipeline: decide what is listed (``--arn``, else the manifest's fixed algorithm or model package
name), build the change set (``sm_byo.specs.listing``), pre-flight it against botocore's
``marketplace-catalog`` model and the rules the Catalog API documents (exit 2 naming the manifest field),
run the pre-listing checks (``sm_byo.cloud.listing_checks``, with the product's versions read by DescribeEntity;
exit 2 naming each failure), then either
return the plan (``--dry-run``) or StartChangeSet (``Intent`` APPLY, or VALIDATE with ``--validate``) and
poll DescribeChangeSet with the shared poller until SUCCEEDED, FAILED or CANCELLED. A change set that does
not succeed exits 1 showing every entry of every change's ``ErrorDetailList``; one that adds or updates a version
and succeeds is followed by DescribeEntity, so the result names the version's delivery option id (what
``--update`` / ``--restrict`` take).
https://docs.aws.amazon.com/marketplace/latest/APIReference/API_StartChangeSet.html
https://docs.aws.amazon.com/marketplace/latest/APIReference/API_DescribeChangeSet.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo.aws import AwsAdapter, catalog, connect
from sm_byo.aws.errors import AwsNotFound
from sm_byo.cloud.listing_checks import (
    KINDS,
    Listed,
    Product,
    ensure_ready,
    new_version_checks,
    pre_listing_checks,
    restrict_checks,
    update_checks,
)
from sm_byo.cloud.product import ProductVersion, describe_product, resolve_version, version_of
from sm_byo.cloud.session import plan_account, resume_flags
from sm_byo.errors import EnvironmentProblem, JobFailed, UsageError
from sm_byo.manifest import ListingSpec, LoadedManifest
from sm_byo.options import ListingCommand
from sm_byo.plan import Plan
from sm_byo.polling import Watch, poll
from sm_byo.reporting import Reporter
from sm_byo.rules import listable_arn
from sm_byo.specs.listing import add_version_request, rate_card, restrict_versions_request, update_version_request
from sm_byo.specs.names import unique_name
from sm_byo.specs.request import Request

KIND = "change-set"  # `smbyo wait change-set ID`
SUCCEEDED = frozenset({"SUCCEEDED"})
FAILED = frozenset({"FAILED", "CANCELLED"})


@dataclass
class ListingResult:
    """The change set and how it ended (``status``: DescribeChangeSet's, or Submitted with --no-wait)."""

    action: str
    change_set_id: str
    status: str
    intent: str = "APPLY"
    product_id: str | None = None
    change_set_arn: str | None = None
    listed_arn: str | None = None
    checks: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    failure: str | None = None
    elapsed_seconds: float | None = None
    resume: str | None = None  # with --no-wait: the `smbyo wait change-set ID` that follows it
    version: ProductVersion | None = None  # the version added or updated, as DescribeEntity shows it once applied

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.action,
            "product_id": self.product_id,
            "change_set_id": self.change_set_id,
            "change_set_arn": self.change_set_arn,
            "intent": self.intent,
            "status": self.status,
            "listed_arn": self.listed_arn,
            "checks": self.checks,
            "errors": self.errors,
        }
        if self.failure:
            data["failure"] = self.failure
        if self.resume:
            data["resume"] = self.resume
        if self.version is not None:
            data["version"] = self.version.to_dict()
        if self.elapsed_seconds is not None:
            data["elapsed_seconds"] = round(self.elapsed_seconds, 1)
        return data


# --- following a change set -------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def error_details(description: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every ErrorDetailList entry of every change, with the change it belongs to (a hostile answer's
    odd shapes are skipped, never raised on)."""
    rows: list[dict[str, str]] = []
    changes = description.get("ChangeSet")
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, dict):
            continue
        entity: dict[str, Any] = change["Entity"] if isinstance(change.get("Entity"), dict) else {}
        errors = change.get("ErrorDetailList")
        for error in errors if isinstance(errors, list) else []:
            if isinstance(error, dict):
                rows.append(
                    {
                        "change": _text(change.get("ChangeType")),
                        "entity": _text(entity.get("Identifier")),
                        "code": _text(error.get("ErrorCode")),
                        "message": _text(error.get("ErrorMessage")),
                        "status": "failed",
                    }
                )
    return rows


def _failure(description: Mapping[str, Any]) -> str | None:
    code, text = _text(description.get("FailureCode")), _text(description.get("FailureDescription"))
    return ": ".join(part for part in (code, text) if part) or None


def change_set_watch(aws: AwsAdapter, change_set_id: str, flags: str = "") -> Watch:
    return Watch(
        KIND,
        change_set_id,
        lambda: catalog.describe_change_set(aws, change_set_id),
        "Status",
        SUCCEEDED,
        FAILED,
        reason_key="FailureDescription",
        resume_flags=flags,
    )


def follow_change_set(
    aws: AwsAdapter,
    change_set_id: str,
    reporter: Reporter,
    *,
    timeout: float | None,
    flags: str = "",
    result: ListingResult | None = None,
) -> ListingResult:
    """Poll DescribeChangeSet to SUCCEEDED / FAILED / CANCELLED; anything but SUCCEEDED raises JobFailed (exit 1)
    listing every ErrorDetailList entry."""
    outcome = poll(change_set_watch(aws, change_set_id, flags), reporter, timeout=timeout)
    description = outcome.description
    ended = result or ListingResult(action="change-set", change_set_id=change_set_id, status="")
    ended.status = outcome.status
    ended.change_set_arn = _text(description.get("ChangeSetArn")) or ended.change_set_arn
    ended.intent = _text(description.get("Intent")) or ended.intent
    ended.errors = error_details(description)
    ended.failure = _failure(description)
    ended.elapsed_seconds = outcome.elapsed_seconds
    if not outcome.succeeded:
        raise change_set_failed(ended)
    return ended


def change_set_failed(result: ListingResult) -> JobFailed:
    lines = [f"  - {e['change']} {e['entity']}: {e['code']}: {e['message']}" for e in result.errors]
    if not lines:
        lines = [f"  - {result.failure or 'AWS gave no error detail'}"]
    return JobFailed(
        f"change set {result.change_set_id} ended {result.status}"
        + (f" ({result.failure})" if result.failure and result.errors else "")
        + ":\n"
        + "\n".join(lines),
        hint="Fix what each error names (the listing: section, the prices, or the algorithm/model package) and "
        "run `smbyo publish listing` again; `--validate` checks a change set without applying it.",
        details=result.to_dict(),
        human_view={"errors": result.errors} if result.errors else None,
    )


def wait_for_change_set(
    change_set_id: str,
    reporter: Reporter,
    *,
    timeout: float | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
) -> ListingResult:
    """``smbyo wait change-set ID``: resume following a change set."""
    adapter = aws or connect(profile, region)
    reporter.step(f"Waiting for change set {change_set_id}")
    return follow_change_set(adapter, change_set_id, reporter, timeout=timeout, flags=resume_flags(profile, region))


# --- what is listed ---------------------------------------------------------------------------------


def _listing(loaded: LoadedManifest) -> ListingSpec:
    if loaded.manifest.listing is None:
        raise UsageError(
            f"{loaded.path.name} has no listing: section",
            hint="Add listing: (product_id, offer_id, access_role, version, usage_instructions, URLs, input, "
            "output, prices): see docs/publishing.md#listing-a-version.",
        )
    return loaded.manifest.listing


def _named(loaded: LoadedManifest, options: ListingCommand) -> tuple[str, str]:
    """(kind, name or ARN) of what is listed: --arn, else the manifest's one fixed name."""
    if options.arn:
        parts = listable_arn(options.arn)
        if parts is None:
            raise UsageError(
                f"--arn {options.arn[:120]!r} is not the ARN of a SageMaker algorithm or model package",
                hint="Pass arn:aws:sagemaker:REGION:ACCOUNT:algorithm/NAME (or model-package/NAME); "
                "`smbyo publish algorithm` prints it as `arn`.",
            )
        return parts["resource"], options.arn
    marketplace = loaded.manifest.marketplace
    names = [
        (kind, name)
        for kind, name in (("algorithm", marketplace.algorithm_name), ("model-package", marketplace.model_package_name))
        if name
    ]
    if len(names) != 1:
        raise UsageError(
            "which algorithm or model package does this version list?",
            hint="Pass --arn ARN (what `smbyo publish` printed), or set exactly one of marketplace.algorithm_name "
            "and marketplace.model_package_name.",
        )
    return names[0]


def _describe(
    aws: AwsAdapter, kind: str, name: str, region: str, *, dry_run: bool
) -> tuple[dict[str, Any] | None, str | None]:
    """(Describe* of what is listed, in ``region``, None) or (None, why it could not be described: not found is
    a reason the checks fail on; no credentials, in a dry run, one they skip on)."""
    try:
        return KINDS[kind].describe(aws, name, None if region == aws.region else region), None  # one client a region
    except AwsNotFound:
        return None, f"{kind} {name} does not exist in {region} for these credentials"
    except EnvironmentProblem:
        if not dry_run:
            raise
        return None, None


def resolve_listed(
    loaded: LoadedManifest, options: ListingCommand, aws: AwsAdapter, reporter: Reporter, region: str
) -> Listed:
    """Kind, ARN and description of what the version lists; offline (a dry run without credentials) the ARN
    is --arn's, or made from the name, the region and the account of listing.access_role. An ARN is described
    in its own region (a SageMaker ARN names it), so one from another region is found and the region check
    says so, rather than "does not exist"."""
    kind, name = _named(loaded, options)
    parts = listable_arn(options.arn) if options.arn else None
    where = parts["region"] if parts else _session_region(aws, region)
    description, missing = _describe(aws, kind, name, where, dry_run=options.dry_run)
    described = str(description.get(KINDS[kind].arn_key, "")) if description else ""
    if options.arn and description is not None and described != options.arn:  # the name, found elsewhere
        description, missing = None, f"{options.arn} is not an {kind} these credentials describe in {where}"
    arn = options.arn or described
    if not arn:
        account = plan_account(aws, reporter, dry_run=True, role=_listing(loaded).access_role)
        arn = f"arn:aws:sagemaker:{region}:{account}:{kind}/{name.lower()}"
    parts = listable_arn(arn)
    if parts is None:
        raise UsageError(f"AWS described {name} with an ARN smbyo cannot read: {arn[:120]!r}")
    return Listed(kind, arn, parts["account"], parts["region"], description, missing)


def _session_region(aws: AwsAdapter, fallback: str) -> str:
    """The session's region; offline without one, the listing's (nothing is described then anyway)."""
    try:
        return aws.region
    except EnvironmentProblem:
        return fallback


# --- the product's versions -------------------------------------------------------------------------


def read_product(aws: AwsAdapter, product_id: str, *, dry_run: bool) -> Product:
    """The product's versions (DescribeEntity); a product AWS does not find fails the checks, no credentials in a
    dry run skips them."""
    try:
        return Product(product_id, tuple(describe_product(aws, product_id)))
    except AwsNotFound:
        return Product(
            product_id,
            None,
            f"DescribeEntity found no product {product_id} for these credentials: check listing.product_id",
        )
    except EnvironmentProblem:
        if not dry_run:
            raise
        return Product(product_id, None)


def _chosen(product: Product, options: ListingCommand) -> tuple[ProductVersion | None, list[ProductVersion]]:
    """The versions --update / --restrict name (by delivery option id or title); unknown when not described."""
    if product.versions is None:
        return None, []
    versions = product.versions
    update = resolve_version(versions, options.update, "--update") if options.update else None
    return update, [resolve_version(versions, value, "--restrict") for value in options.restrict]


def _product_checks(
    product: Product, options: ListingCommand, action: str, request: Request, listed: Listed | None
) -> list[dict[str, str]]:
    update, restrict = _chosen(product, options)
    if action == "restrict-versions":
        return restrict_checks(product, restrict, options.restrict)
    if action == "update-version":
        return update_checks(product, update, str(options.update))
    assert listed is not None
    version = request.kwargs["ChangeSet"][0]["DetailsDocument"]["Version"]
    return new_version_checks(product, str(version["VersionTitle"]), listed.arn)


# --- the command --------------------------------------------------------------------------------------


def _action(options: ListingCommand) -> str:
    if options.update and options.restrict:
        raise UsageError("--update and --restrict are two change sets", hint="Give one of them per command.")
    return "restrict-versions" if options.restrict else "update-version" if options.update else "add-version"


def _request(
    loaded: LoadedManifest, options: ListingCommand, action: str, listed: Listed | None, product: Product
) -> Request:
    """The change set; --update / --restrict name their versions by delivery option id (a title resolved through
    the product's versions; offline, the value is sent as given)."""
    manifest = loaded.manifest
    intent = "VALIDATE" if options.validate else "APPLY"
    name = unique_name(f"{manifest.name}-{action}", max_length=100)
    update, restrict = _chosen(product, options)
    if action == "restrict-versions":
        ids = [v.delivery_option_id for v in restrict] if product.versions is not None else list(options.restrict)
        return restrict_versions_request(manifest, delivery_option_ids=ids, name=name, intent=intent)
    assert listed is not None
    if action == "update-version":
        option_id = update.delivery_option_id if update else str(options.update)
        return update_version_request(
            manifest, kind=listed.kind, delivery_option_id=option_id, name=name, intent=intent
        )
    return add_version_request(manifest, kind=listed.kind, arn=listed.arn, name=name, intent=intent)


def _checks(loaded: LoadedManifest, aws: AwsAdapter, listed: Listed, region: str) -> list[dict[str, str]]:
    listing = _listing(loaded)
    priced = {str(rate["DimensionKey"]) for rate in rate_card(listing, (), {})}
    online = listed.description is not None or listed.missing is not None
    return pre_listing_checks(aws, listed, loaded.manifest, listing_region=region, priced=priced, online=online)


def publish_listing(
    loaded: LoadedManifest, reporter: Reporter, options: ListingCommand, *, aws: AwsAdapter | None = None
) -> ListingResult | Plan:
    """Check the change set and the version (exit 2 on a problem), then print it (--dry-run) or start it and
    follow it to the end (exit 1 unless it SUCCEEDED)."""
    listing = _listing(loaded)
    action = _action(options)
    adapter = aws or connect(options.cloud.profile, options.cloud.region)
    region = listing.region or adapter.region
    product = read_product(adapter, listing.product_id, dry_run=options.dry_run)
    listed = None if action == "restrict-versions" else resolve_listed(loaded, options, adapter, reporter, region)
    request = _request(loaded, options, action, listed, product)
    reporter.step(f"Checking StartChangeSet {request.kwargs['ChangeSetName']} ({action})")
    checks = _checks(loaded, adapter, listed, region) if listed is not None and action == "add-version" else []
    checks += _product_checks(product, options, action, request, listed)
    notes = tuple(f"pre-listing check {c['status']}: {c['check']}: {c['detail']}" for c in checks)
    plan = Plan("marketplace-catalog", (request,), notes).check(loaded)
    ensure_ready(checks)
    if options.dry_run:
        return plan
    return _submit(
        request,
        adapter,
        reporter,
        options,
        ListingResult(
            action,
            "",
            "Submitted",
            str(request.kwargs["Intent"]),
            listing.product_id,
            listed_arn=listed.arn if listed else None,
            checks=checks,
        ),
    )


def _submit(
    request: Request, aws: AwsAdapter, reporter: Reporter, options: ListingCommand, result: ListingResult
) -> ListingResult:
    reporter.step(f"Starting change set {request.kwargs['ChangeSetName']} (Intent {result.intent})")
    started = catalog.start_change_set(aws, request.kwargs)
    result.change_set_id = str(started.get("ChangeSetId", ""))
    result.change_set_arn = str(started.get("ChangeSetArn", "")) or None
    if not result.change_set_id:
        raise JobFailed("StartChangeSet answered without a ChangeSetId", hint="Run the command again.")
    cloud = options.cloud
    if not cloud.wait:
        result.resume = change_set_watch(aws, result.change_set_id, cloud.resume_flags).resume_command
        return result
    ended = follow_change_set(
        aws, result.change_set_id, reporter, timeout=cloud.timeout, flags=cloud.resume_flags, result=result
    )
    if ended.intent == "APPLY" and ended.action != "restrict-versions":
        ended.version = _version_now(aws, request, ended, reporter)
    return ended


def _version_now(aws: AwsAdapter, request: Request, result: ListingResult, reporter: Reporter) -> ProductVersion | None:
    """The version the applied change set added or updated, read back with DescribeEntity (AWS gives its delivery
    option id nowhere else). The change set succeeded already: a failed read is a warning, not a failure."""
    change = request.kwargs["ChangeSet"][0]
    title = str(change["DetailsDocument"]["Version"]["VersionTitle"])
    product_id = str(change["Entity"]["Identifier"])
    reporter.step(f"Reading the versions of {product_id} (DescribeEntity)")
    try:
        versions = describe_product(aws, product_id)
    except (EnvironmentProblem, UsageError) as exc:
        reporter.warn(f"the change set SUCCEEDED, but its version could not be read back: {exc}")
        return None
    if result.action == "update-version":
        option_id = str(change["DetailsDocument"]["DeliveryOptions"][0]["Id"])
        version = next((v for v in versions if v.delivery_option_id == option_id), None)
    else:
        version = version_of(versions, str(result.listed_arn), title)
    if version is None:
        reporter.warn(f"the change set SUCCEEDED, but DescribeEntity of {product_id} does not show its version yet")
    return version
