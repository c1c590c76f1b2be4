"""SageMaker calls for publishing: Create/Describe Algorithm and Model Package.

Kept apart from the general adapter (``sm_byo.aws.AwsAdapter``) so publishing can grow without
touching it; every call goes through the same client cache, retry policy and error translation.
"""

from __future__ import annotations

from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.aws.errors import translated


def _call(aws: AwsAdapter, operation: str, method: str, region: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """``region``: None is the session's; an ARN is described in its own region (a client there)."""
    with translated(f"sagemaker:{operation}"):
        response = dict(getattr(aws.client("sagemaker", region=region), method)(**kwargs))
    response.pop("ResponseMetadata", None)
    return response


def create_algorithm(aws: AwsAdapter, request: dict[str, Any]) -> dict[str, Any]:
    return _call(aws, "CreateAlgorithm", "create_algorithm", **request)


def describe_algorithm(aws: AwsAdapter, name: str, region: str | None = None) -> dict[str, Any]:
    return _call(aws, "DescribeAlgorithm", "describe_algorithm", region, AlgorithmName=name)


def create_model_package(aws: AwsAdapter, request: dict[str, Any]) -> dict[str, Any]:
    return _call(aws, "CreateModelPackage", "create_model_package", **request)


def describe_model_package(aws: AwsAdapter, name: str, region: str | None = None) -> dict[str, Any]:
    return _call(aws, "DescribeModelPackage", "describe_model_package", region, ModelPackageName=name)


def delete_model_package(aws: AwsAdapter, name: str) -> None:
    _call(aws, "DeleteModelPackage", "delete_model_package", None, ModelPackageName=name)


def delete_algorithm(aws: AwsAdapter, name: str) -> None:
    _call(aws, "DeleteAlgorithm", "delete_algorithm", None, AlgorithmName=name)
