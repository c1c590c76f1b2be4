"""A published product as a buyer's plan reads it: DescribeAlgorithm / DescribeModelPackage, usable or exit 2.

``train``, ``tune``, ``transform`` and ``deploy`` name a published algorithm or model package by name (one of
the account's) or ARN (a subscription); what it declares is checked by ``sm_byo.specs.published``. A product that
does not exist here, or is not ``Completed`` (still validating, or failed), cannot run anything: that is the
user's to fix, so it is a :class:`UsageError` naming the flag.
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeAlgorithm.html
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeModelPackage.html
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.aws.errors import AwsNotFound
from sm_byo.cloud.executor import Created
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.errors import UsageError
from sm_byo.manifest import Manifest
from sm_byo.plan import Plan
from sm_byo.reporting import Reporter
from sm_byo.specs.model_package import algorithm_package_request
from sm_byo.specs.published import Use, check_inference_choices, package_model_request
from sm_byo.specs.request import Request

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


# --- transform and deploy: the model a published product serves --------------------------------------------


@dataclass(frozen=True)
class Product:
    """The published product a transform or deploy plan serves, and what it declares about serving.

    ``flag`` is how the user named it (``--model-package`` or ``--algorithm``); ``model_data`` is the artifact an
    algorithm serves (``--model``), None for a model package (it has its own)."""

    flag: str
    name: str
    inference: Mapping[str, Any]
    model_data: str | None = None

    @property
    def label(self) -> str:
        return f"{self.flag} {self.name}"


def serving_product(
    aws: AwsAdapter, *, model_package: str | None, algorithm: str | None, model: str, image: str | None, what: str
) -> Product | None:
    """The product ``--model-package`` or ``--algorithm`` names (described, usable), or None for the image's own
    model. An algorithm serves the model it trained, which must be on S3 (CreateModelPackage reads it there)."""
    flag, product = ("--model-package", model_package) if model_package else ("--algorithm", algorithm)
    refuse_image_with(flag, product, image, what)
    if model_package:
        return Product(flag, model_package, _inference(published_model_package(aws, model_package)))
    if not algorithm:
        return None
    if not model.startswith("s3://"):
        raise UsageError(
            f"--algorithm {algorithm} --model {model}: the algorithm's trained model must be on S3 "
            "(s3://.../model.tar.gz), where SageMaker reads it to make the model package",
            hint="Pass the model_artifacts URI `smbyo train --algorithm` printed.",
        )
    return Product(flag, algorithm, _inference(published_algorithm(aws, algorithm)), model_data=model)


def _inference(described: Mapping[str, Any]) -> dict[str, Any]:
    inference = described.get("InferenceSpecification")
    return dict(inference) if isinstance(inference, Mapping) else {}


def product_model_requests(
    manifest: Manifest, product: Product, use: Use, *, name: str, role: str, role_flag: str | None,
    choices: Mapping[str, str | None],
) -> list[Request]:  # fmt: skip
    """CreateModel running the product (after CreateModelPackage of the algorithm and its model, for an
    algorithm), named ``name``; ``choices`` (content_type, accept, instance_type as given) are checked first
    against the product's InferenceSpecification."""
    check_inference_choices(product.inference, product.label, use, **choices)
    flags = {"package": product.flag, **({"role": role_flag} if role_flag else {})}
    if product.model_data is None:
        return [package_model_request(manifest, model_name=name, package=product.name, role=role, flags=flags)]
    package = algorithm_package_request(manifest, name=name, algorithm=product.name, model_data=product.model_data)
    model = package_model_request(manifest, model_name=name, package=name, role=role, flags=flags)
    model.origins[("PrimaryContainer", "ModelPackageName")] = ("name",)
    return [package, model]


def create_product_model(
    created: Created, plan: Plan, reporter: Reporter, *, timeout: float | None, settings: PollSettings | None
) -> None:
    """Send the plan's CreateModelPackage (if any) and wait until it is Completed, then its CreateModel: what
    ``created`` records is swept if a later step fails (a package that ends Failed included)."""
    packages = [request for request in plan.requests if request.operation == "CreateModelPackage"]
    for request in packages:
        name = str(request.kwargs["ModelPackageName"])
        reporter.step(f"Creating model package {name} (the algorithm and its trained model)")
        created.send(request)
        followed = follow(created.aws, "model-package", name, reporter, logs=False, timeout=timeout, settings=settings)
        followed.outcome.raise_if_failed()
    model = plan.request("CreateModel")
    reporter.step(f"Creating model {model.kwargs['ModelName']} ({describe_container(model.kwargs)})")
    created.send(model)


def describe_container(model: Mapping[str, Any]) -> str:
    """A CreateModel request's container in a few words: the model package, or the image and its model data."""
    container = model.get("PrimaryContainer") or {}
    if container.get("ModelPackageName"):
        return f"model package {container['ModelPackageName']}"
    return f"{container.get('Image')}, {container.get('ModelDataUrl')}"
