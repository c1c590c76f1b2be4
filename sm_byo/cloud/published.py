"""A published product as a buyer's plan reads it: DescribeAlgorithm / DescribeModelPackage, usable or exit 2.

``train``, ``tune``, ``transform`` and ``deploy`` name a published algorithm or model package by name (one of
the account's) or ARN (a subscription); what it declares is checked by ``sm_byo.specs.published``. A product that
does not exist here, or is not ``Completed`` (still validating, or failed), cannot run anything: that is the
user's to fix, so it is a :class:`UsageError` naming the flag.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeAlgorithm.html
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeModelPackage.html
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.aws.errors import AwsNotFound
from sm_byo.errors import UsageError

USABLE = "Completed"


def _described(
    describe: Callable[[str], dict[str, Any]], name: str, flag: str, noun: str, status_key: str, region: str
) -> dict[str, Any]:
    try:
        described = describe(name)
    except AwsNotFound:
        raise UsageError(
            f"{flag} {name}: there is no {noun} of that name or ARN in {region}",
            hint=f"Give the name or ARN of a {noun} you published (`smbyo publish`) or subscribed to, in this "
            f"region (--region); `aws sagemaker list-{noun.replace(' ', '-')}s` lists yours.",
            details={noun.replace(" ", "_"): name},
        ) from None
    status = described.get(status_key)
    if status != USABLE:
        raise UsageError(
            f"{flag} {name}: the {noun} is {status}, not {USABLE}, so it cannot be used yet",
            hint=f"Wait for it (`smbyo wait {noun.replace(' ', '-')} {name}`), or use one that is {USABLE}.",
            details={noun.replace(" ", "_"): name, "status": status},
        )
    return dict(described)


def published_algorithm(aws: AwsAdapter, name: str) -> dict[str, Any]:
    """DescribeAlgorithm of ``--algorithm NAME|ARN``, once it is Completed (else exit 2)."""
    return _described(aws.describe_algorithm, name, "--algorithm", "algorithm", "AlgorithmStatus", aws.region)


def published_model_package(aws: AwsAdapter, name: str) -> dict[str, Any]:
    """DescribeModelPackage of ``--model-package NAME|ARN``, once it is Completed (else exit 2)."""
    describe = aws.describe_model_package
    return _described(describe, name, "--model-package", "model package", "ModelPackageStatus", aws.region)


def training_specification(aws: AwsAdapter, name: str) -> dict[str, Any]:
    """The TrainingSpecification of a usable ``--algorithm`` (empty when it has none: the builder says so)."""
    return dict(published_algorithm(aws, name).get("TrainingSpecification") or {})


def refuse_image_with(flag: str, product: str | None, image: str | None, what: str) -> None:
    """A published product brings its own image: ``--image`` beside it would be ignored, so it is refused."""
    if product and image:
        raise UsageError(
            f"{flag} {product} and --image {image}: {what} runs one or the other",
            hint=f"Drop --image to run the published product (its own image), or drop {flag}.",
            details={"flags": [flag, "--image"]},
        )
