"""Pre-listing checks: what AWS Marketplace rejects a version for that can be seen before submitting it.

Each check is one row (``check``, ``status``: passed / failed / skipped, ``detail``). A skipped row says
plainly why it could not run (no credentials in a ``--dry-run``, no scanner for the image), never passes
silently. The rows come from documented rules of the Catalog API for ML products:

- the ARN is the seller's and in the listing's region: the version lists "a valid SageMaker AI ARN of the
  model package or algorithm resource" of the seller (https://docs.aws.amazon.com/marketplace/latest/APIReference/cat-ml-prereqs.html;
  AddDeliveryOptions fails ASSET_NOT_FOUND / INVALID_ASSET_ARN otherwise:
  https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-add-version.html);
- every supported instance type is priced ("You must price all supported instance types",
  https://docs.aws.amazon.com/marketplace/latest/APIReference/update-pricing-terms.html), and the recommended
  ones are supported (INVALID_RECOMMENDED_INSTANCE_TYPE);
- the algorithm or model package is Completed with its validation passed (ASSET_VALIDATION_EXCEPTION);
- the image has no known-vulnerable packages, where ECR scanned it (scan on push): CRITICAL or HIGH findings.

With the product's versions (DescribeEntity, ``sm_byo.cloud.product``), the checks a change set of the product
fails on: a new version's title already in use (DUPLICATE_VERSION_TITLE) or its ARN already listed
(DUPLICATE_ASSET) (ml-add-version.html); a restricted version updated (INCOMPATIBLE_DELIVERY_OPTION_STATUS,
https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-update-version.html); the last public version
restricted ("At least one unrestricted version must remain available. You cannot restrict the last publicly
available version of a product": ALL_DELIVERY_OPTIONS_RESTRICTED), or a version restricted twice
(INVALID_DELIVERY_OPTION_STATUS) (https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-restrict-version.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.product import PUBLIC, ProductVersion
from sm_byo.cloud.publish import ALGORITHM, MODEL_PACKAGE, Kind, status_items
from sm_byo.errors import EnvironmentProblem, ListingChecksFailed
from sm_byo.manifest import Manifest
from sm_byo.rules import ECR_IMAGE, account_mismatch, unpriced_dimensions
from sm_byo.specs.listing import RECOMMENDED, supported_instance_types

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
BLOCKING_SEVERITIES = ("CRITICAL", "HIGH")
KINDS: Mapping[str, Kind] = {"algorithm": ALGORITHM, "model-package": MODEL_PACKAGE}
NO_CREDENTIALS = "not run: needs AWS credentials"


@dataclass(frozen=True)
class Listed:
    """What a version lists: its kind, ARN, where that ARN says it lives, and (with credentials) its description."""

    kind: str
    arn: str
    account: str
    region: str
    description: Mapping[str, Any] | None  # DescribeAlgorithm / DescribeModelPackage; None offline or missing
    missing: str | None = None  # why it could not be described though credentials work (it does not exist there)


@dataclass(frozen=True)
class Product:
    """The product's versions as DescribeEntity showed them; None when it was not described: ``missing`` says why
    when credentials work (no such product: the checks fail), else there were none (a dry run: they skip)."""

    product_id: str
    versions: tuple[ProductVersion, ...] | None
    missing: str | None = None


def row(check: str, status: str, detail: str) -> dict[str, str]:
    return {"check": check, "status": status, "detail": detail}


def account_check(listed: Listed, caller_account: str | None) -> dict[str, str]:
    if caller_account is None:
        return row("account", SKIPPED, f"{NO_CREDENTIALS} (sts:GetCallerIdentity)")
    mismatch = account_mismatch(listed.account, caller_account)
    if mismatch is not None:
        return row(
            "account",
            FAILED,
            f"the ARN is {mismatch}, the seller's: list a version from the account that publishes the product",
        )
    return row("account", PASSED, f"the ARN is in the seller's account {caller_account}")


def region_check(listed: Listed, listing_region: str) -> dict[str, str]:
    if listed.region != listing_region:
        return row(
            "region",
            FAILED,
            f"the ARN is in {listed.region}, the listing's region is {listing_region} "
            f"(listing.region, else --region): publish it in {listing_region}, or set listing.region: "
            f"{listed.region} to list it from there",
        )
    return row("region", PASSED, f"the ARN is in the listing's region {listing_region}")


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def described_instance_types(kind: str, description: Mapping[str, Any]) -> dict[str, list[str]]:
    """The instance types the algorithm or model package supports, per pricing use, as AWS described them."""
    inference = description.get("InferenceSpecification")
    inference = inference if isinstance(inference, dict) else {}
    types = {
        "batch_transform": _strings(inference.get("SupportedTransformInstanceTypes")),
        "realtime_inference": _strings(inference.get("SupportedRealtimeInferenceInstanceTypes")),
    }
    training = description.get("TrainingSpecification")
    if kind == "algorithm" and isinstance(training, dict):
        types = {"training": _strings(training.get("SupportedTrainingInstanceTypes")), **types}
    return types


def _supported(listed: Listed, manifest: Manifest) -> tuple[dict[str, list[str]], str]:
    """The supported instance types per use, and where they were read: AWS's description, else the manifest."""
    if listed.description is not None:
        return described_instance_types(listed.kind, listed.description), f"{listed.kind} {listed.arn}"
    return supported_instance_types(manifest, listed.kind), "the manifest (training.instance_types, inference.*)"


def pricing_checks(listed: Listed, manifest: Manifest, priced: set[str]) -> list[dict[str, str]]:
    """Every supported type priced, and the recommended types among the supported ones."""
    assert manifest.listing is not None
    supported, source = _supported(listed, manifest)
    missing = unpriced_dimensions(supported, priced)
    if missing:
        rows = [
            row(
                "every instance type priced",
                FAILED,
                f"unpriced in listing.prices (supported per {source}): {', '.join(missing)}",
            )
        ]
    else:
        uses = sum(len(kinds) for kinds in supported.values())
        rows = [row("every instance type priced", PASSED, f"{uses} instance type uses priced (per {source})")]
    wrong = []
    for key, (field, _) in RECOMMENDED.items():
        chosen = getattr(manifest.listing.recommended_instance_types, field)
        if chosen is not None and field in supported and chosen not in supported[field]:
            wrong.append(f"{key} {chosen} (supported: {', '.join(supported[field]) or 'none'})")
    if wrong:
        rows.append(row("recommended instance types supported", FAILED, "; ".join(wrong)))
    else:
        rows.append(row("recommended instance types supported", PASSED, "each is one the version supports"))
    return rows


def status_check(listed: Listed) -> dict[str, str]:
    """Completed, and every validation item Completed (AWS's validation of the listing passed)."""
    if listed.description is None and listed.missing:
        return row("Completed and validated", FAILED, listed.missing)
    if listed.description is None:
        return row("Completed and validated", SKIPPED, f"{NO_CREDENTIALS} (sagemaker:Describe*)")
    kind = KINDS[listed.kind]
    status = str(listed.description.get(kind.status_key, "Unknown"))
    items = [item for item in status_items(kind, listed.description) if item["check"] == "validation"]
    unfinished = [f"{item['name']} {item['status']}" for item in items if item["status"] != "Completed"]
    if status != "Completed" or unfinished:
        said = f"{listed.kind} is {status}" + (f"; validation: {', '.join(unfinished)}" if unfinished else "")
        return row(
            "Completed and validated",
            FAILED,
            f"{said}: wait for `smbyo wait {listed.kind} NAME`, or publish again if it failed",
        )
    if not items:
        return row(
            "Completed and validated",
            FAILED,
            f"{listed.kind} is Completed but has no validation profile: "
            "AWS Marketplace lists only validated ones (CertifyForMarketplace with a validation: section)",
        )
    return row(
        "Completed and validated",
        PASSED,
        f"{listed.kind} Completed, validation {', '.join(i['name'] for i in items)} Completed",
    )


def images_of(description: Mapping[str, Any]) -> list[str]:
    """The images an algorithm or model package runs (training first), each once."""
    images: list[str] = []
    training = description.get("TrainingSpecification")
    if isinstance(training, dict) and isinstance(training.get("TrainingImage"), str):
        images.append(training["TrainingImage"])
    inference = description.get("InferenceSpecification")
    containers = inference.get("Containers") if isinstance(inference, dict) else None
    for container in containers if isinstance(containers, list) else []:
        if isinstance(container, dict) and isinstance(container.get("Image"), str):
            images.append(container["Image"])
    return list(dict.fromkeys(images))


def _image_id(image: str) -> tuple[str, dict[str, str]] | None:
    """(repository, imageId) of an ECR image URI; None when it is not one."""
    match = ECR_IMAGE.fullmatch(image)
    if match is None:
        return None
    if "@" in image:
        return match.group("repository"), {"imageDigest": image.rsplit("@", 1)[1]}
    return match.group("repository"), {"imageTag": match.group("tag") or "latest"}


def vulnerable_packages(findings: list[Any]) -> list[str]:
    """ "PACKAGE VERSION (SEVERITY CVE)" of each CRITICAL or HIGH finding of an ECR basic scan, each once."""
    found = []
    for finding in findings:
        if not isinstance(finding, dict) or str(finding.get("severity")) not in BLOCKING_SEVERITIES:
            continue
        attributes = {
            str(a.get("key")): str(a.get("value")) for a in finding.get("attributes") or [] if isinstance(a, dict)
        }
        package = attributes.get("package_name", "?")
        version = attributes.get("package_version", "")
        found.append(
            f"{package}{' ' + version if version else ''} ({finding.get('severity')} {finding.get('name', '')})"
        )
    return list(dict.fromkeys(found))


def scan_check(aws: AwsAdapter, image: str) -> dict[str, str]:
    """ECR's scan findings for ``image`` when its repository scans on push; otherwise say no scanner ran."""
    name = f"no known-vulnerable packages: {image}"
    where = _image_id(image)
    if where is None:
        return row(name, SKIPPED, "not an ECR image: no scanner is available, the packages were not checked")
    repository, image_id = where
    described = aws.describe_repository(repository)
    scanning = (described or {}).get("imageScanningConfiguration") or {}
    if not scanning.get("scanOnPush"):
        return row(
            name,
            SKIPPED,
            f"ECR repository {repository} does not scan on push (ecr.scan_on_push): no scanner "
            "ran, the packages were not checked",
        )
    result = aws.image_scan_findings(repository, image_id)
    status = str(((result or {}).get("status") or {}).get("status", ""))
    if result is None or status not in ("COMPLETE", "ACTIVE"):
        return row(
            name,
            SKIPPED,
            f"ECR has no finished scan of this image ({status or 'no scan found'}): the packages were not checked",
        )
    vulnerable = vulnerable_packages(result.get("findings") or [])
    if vulnerable:
        return row(
            name,
            FAILED,
            f"ECR's scan found CRITICAL/HIGH vulnerabilities in: {'; '.join(vulnerable)}: "
            "upgrade them (or the base image), rebuild and push",
        )
    counts = result.get("severity_counts") or {}
    return row(name, PASSED, f"ECR's scan found no CRITICAL or HIGH findings ({dict(counts) or 'none at all'})")


def scan_checks(aws: AwsAdapter, listed: Listed) -> list[dict[str, str]]:
    if listed.description is None:
        why = listed.missing or f"{NO_CREDENTIALS} (sagemaker:Describe*, ecr)"
        return [row("no known-vulnerable packages", SKIPPED, f"not run: {why}")]
    images = images_of(listed.description)
    return [scan_check(aws, image) for image in images] or [
        row("no known-vulnerable packages", SKIPPED, "the description names no image")
    ]


# --- checks that need the product's versions --------------------------------------------------------

TITLE_UNIQUE, ARN_UNLISTED = "version title unused", "ARN not listed yet"
UPDATED_PUBLIC, RESTRICTED_PUBLIC, ONE_PUBLIC_LEFT = (
    "version to update is public",
    "versions to restrict are public",
    "a public version remains",
)


def verdict(check: str, problem: str | None, fine: str) -> dict[str, str]:
    """Failed saying ``problem``, or passed saying ``fine`` when there is none: every row says what was seen."""
    return row(check, FAILED, problem) if problem else row(check, PASSED, fine)


def _unavailable(product: Product, names: tuple[str, ...], sent: str = "") -> list[dict[str, str]] | None:
    """Rows for checks that cannot run without the product's versions (failed: no such product; skipped:
    no credentials), None when the versions are known."""
    if product.versions is not None:
        return None
    if product.missing:
        return [row(name, FAILED, product.missing) for name in names]
    why = f"{NO_CREDENTIALS} (aws-marketplace:DescribeEntity of {product.product_id}){sent}"
    return [row(name, SKIPPED, why) for name in names]


def new_version_checks(product: Product, title: str, arn: str) -> list[dict[str, str]]:
    """A new version's title and ARN are not the product's already (DUPLICATE_VERSION_TITLE, DUPLICATE_ASSET)."""
    if (rows := _unavailable(product, (TITLE_UNIQUE, ARN_UNLISTED))) is not None:
        return rows
    versions = product.versions or ()
    titled = [v for v in versions if v.title == title]
    listed = [v for v in versions if v.arn == arn]
    return [
        verdict(
            TITLE_UNIQUE,
            f"version {titled[0].line()} already has this title: change listing.version.title" if titled else None,
            f"no version of {product.product_id} is titled {title!r}",
        ),
        verdict(
            ARN_UNLISTED,
            f"version {listed[0].line()} lists it already: publish a new algorithm or model package for a new "
            "version, or change that one with --update"
            if listed
            else None,
            f"no version of {product.product_id} lists {arn}",
        ),
    ]


def update_checks(product: Product, version: ProductVersion | None, value: str) -> list[dict[str, str]]:
    """The version updated is not restricted (INCOMPATIBLE_DELIVERY_OPTION_STATUS)."""
    sent = f"; --update {value!r} is sent as a delivery option id"
    if (rows := _unavailable(product, (UPDATED_PUBLIC,), sent)) is not None or version is None:
        return rows or []
    if version.visibility != PUBLIC:
        return [row(UPDATED_PUBLIC, FAILED, f"version {version.line()}: add a new version instead")]
    return [row(UPDATED_PUBLIC, PASSED, f"version {version.title!r} is {PUBLIC}")]


def restrict_checks(product: Product, chosen: list[ProductVersion], values: tuple[str, ...]) -> list[dict[str, str]]:
    """Each version restricted is public (INVALID_DELIVERY_OPTION_STATUS) and one public version is left
    (ALL_DELIVERY_OPTIONS_RESTRICTED)."""
    sent = f"; --restrict {', '.join(values)} sent as delivery option ids"
    if (rows := _unavailable(product, (RESTRICTED_PUBLIC, ONE_PUBLIC_LEFT), sent)) is not None:
        return rows
    ids = {version.delivery_option_id for version in chosen}
    already = [version.line() for version in chosen if version.visibility != PUBLIC]
    left = [v for v in product.versions or () if v.visibility == PUBLIC and v.delivery_option_id not in ids]
    return [
        verdict(
            RESTRICTED_PUBLIC,
            f"not public (restricted already?): {'; '.join(already)}" if already else None,
            f"{len(chosen)} public version(s) to restrict",
        ),
        verdict(
            ONE_PUBLIC_LEFT,
            None
            if left
            else "this would restrict the product's last public version; AWS keeps at least one available: "
            "add a new version first (`smbyo publish listing`), then restrict this one",
            f"public after this: {', '.join(repr(v.title) for v in left)}",
        ),
    ]


def caller_account(aws: AwsAdapter) -> str | None:
    """The credentials' account; None when there are none (a --dry-run without credentials)."""
    try:
        return aws.account_id
    except EnvironmentProblem:
        return None


def pre_listing_checks(
    aws: AwsAdapter, listed: Listed, manifest: Manifest, *, listing_region: str, priced: set[str], online: bool
) -> list[dict[str, str]]:
    """Every check, in order; ``online``: credentials are usable (the calls are all reads)."""
    rows = [account_check(listed, caller_account(aws) if online else None), region_check(listed, listing_region)]
    rows += pricing_checks(listed, manifest, priced)
    rows.append(status_check(listed))
    rows += scan_checks(aws, listed) if online else [row("no known-vulnerable packages", SKIPPED, NO_CREDENTIALS)]
    return rows


def ensure_ready(rows: list[dict[str, str]]) -> None:
    """Exit 2 naming every failed check (what to fix before AWS Marketplace would take the version)."""
    failed = [item for item in rows if item["status"] == FAILED]
    if failed:
        listing = "\n".join(f"  - {item['check']}: {item['detail']}" for item in failed)
        raise ListingChecksFailed(
            f"{len(failed)} pre-listing check(s) failed:\n{listing}",
            hint="Fix each one (the listing: section, the prices, or the algorithm/model package), then run "
            "`smbyo publish listing --dry-run` again; nothing was sent.",
            details={"checks": rows},
            human_view={"checks": rows},
        )
