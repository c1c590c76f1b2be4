"""An AWS Marketplace ML product's versions, as the Catalog API's DescribeEntity shows them.

DescribeEntity of a ``MachineLearningProduct@1.0`` answers a ``DetailsDocument`` whose ``Versions`` each carry an
``Id``, a ``VersionTitle``, their ``Sources`` (``Type`` SageMakerAlgorithm with ``AlgorithmArn``, or
SageMakerModelPackage with ``ModelPackageArn``) and their ``DeliveryOptions`` (one per version for ML products,
each with an ``Id`` and a ``Visibility``: Public, or Restricted once withdrawn).
https://docs.aws.amazon.com/marketplace/latest/APIReference/API_DescribeEntity.html (its DetailsDocument shapes:
https://github.com/awslabs/aws-marketplace-catalog-api-shapes-for-java, MachineLearningProductEntityDetail)
https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-add-version.html ("a version consists of a single
delivery option")

The delivery option id is what UpdateDeliveryOptions and RestrictDeliveryOptions take
(https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-update-version.html,
https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-restrict-version.html); a seller knows a version by
its title, so ``--update`` / ``--restrict`` take either, resolved here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sm_byo.aws import AwsAdapter, catalog
from sm_byo.errors import UsageError

SOURCE_ARN_KEYS = ("AlgorithmArn", "ModelPackageArn")
PUBLIC = "Public"


@dataclass(frozen=True)
class ProductVersion:
    """One version of the product: its delivery option (what change sets name) and the ARN it lists."""

    version_id: str
    title: str
    delivery_option_id: str
    arn: str
    visibility: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        return f"{self.title!r}: delivery option {self.delivery_option_id} ({self.visibility}) {self.arn}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _arn(version: Mapping[str, Any], source_id: str) -> str:
    """The ARN of the delivery option's source (the one it names, else the version's first)."""
    sources = _objects(version.get("Sources"))
    chosen = [s for s in sources if _text(s.get("Id")) == source_id] or sources
    for source in chosen:
        for key in SOURCE_ARN_KEYS:
            if _text(source.get(key)):
                return _text(source.get(key))
    return ""


def product_versions(details: Any) -> list[ProductVersion]:
    """Every (version, delivery option) of a DetailsDocument, in AWS's order; odd shapes are skipped."""
    found = []
    for version in _objects(details.get("Versions") if isinstance(details, dict) else None):
        for option in _objects(version.get("DeliveryOptions")):
            found.append(
                ProductVersion(
                    version_id=_text(version.get("Id")),
                    title=_text(version.get("VersionTitle")),
                    delivery_option_id=_text(option.get("Id")),
                    arn=_arn(version, _text(option.get("SourceId"))),
                    visibility=_text(option.get("Visibility")) or "Unknown",
                )
            )
    return found


def describe_product(aws: AwsAdapter, product_id: str) -> list[ProductVersion]:
    """The product's versions now (DescribeEntity)."""
    return product_versions(catalog.describe_entity(aws, product_id).get("DetailsDocument"))


def version_listing(versions: Sequence[ProductVersion]) -> str:
    return "\n".join(f"  - {version.line()}" for version in versions) or "  (the product has no versions)"


def resolve_version(versions: Sequence[ProductVersion], value: str, flag: str) -> ProductVersion:
    """The version ``value`` names: a delivery option id, else a version title that exactly one version has.
    Unknown or ambiguous: exit 2 listing the product's versions."""
    by_id = [version for version in versions if version.delivery_option_id == value]
    if by_id:
        return by_id[0]
    titled = [version for version in versions if version.title == value]
    if len(titled) == 1:
        return titled[0]
    what = "names more than one version" if titled else "is neither a delivery option id nor a version title"
    raise UsageError(
        f"{flag} {value!r} {what} of the product; its versions:\n{version_listing(versions)}",
        hint=f"Pass {flag} with one of the delivery option ids above (or a title only one version has).",
    )


def version_of(versions: Sequence[ProductVersion], arn: str, title: str) -> ProductVersion | None:
    """The version listing ``arn`` under ``title`` (the one a change set just added), if the product shows it."""
    return next((v for v in versions if v.arn == arn and v.title == title), None) or next(
        (v for v in versions if v.arn == arn), None
    )
