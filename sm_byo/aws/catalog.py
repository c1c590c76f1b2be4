"""AWS Marketplace Catalog API calls: StartChangeSet, DescribeChangeSet and DescribeEntity.

The Catalog API has one endpoint, in us-east-1, whatever region the rest of the session uses
(https://docs.aws.amazon.com/marketplace/latest/APIReference/catalog-regions.html), so its client is
made for that region. Every call goes through the adapter's client cache, retry policy and error translation.
"""

from __future__ import annotations

from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.aws.errors import translated

SERVICE = "marketplace-catalog"
CATALOG_REGION = "us-east-1"
CATALOG = "AWSMarketplace"


def _call(aws: AwsAdapter, operation: str, method: str, **kwargs: Any) -> dict[str, Any]:
    with translated(f"{SERVICE}:{operation}"):
        response = dict(getattr(aws.client(SERVICE, region=CATALOG_REGION), method)(**kwargs))
    response.pop("ResponseMetadata", None)
    return response


def start_change_set(aws: AwsAdapter, request: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/marketplace/latest/APIReference/API_StartChangeSet.html"""
    return _call(aws, "StartChangeSet", "start_change_set", **request)


def describe_change_set(aws: AwsAdapter, change_set_id: str) -> dict[str, Any]:
    """https://docs.aws.amazon.com/marketplace/latest/APIReference/API_DescribeChangeSet.html"""
    return _call(aws, "DescribeChangeSet", "describe_change_set", Catalog=CATALOG, ChangeSetId=change_set_id)


def describe_entity(aws: AwsAdapter, entity_id: str) -> dict[str, Any]:
    """The entity (e.g. an ML product with its ``Versions``) as its ``DetailsDocument`` describes it.
    https://docs.aws.amazon.com/marketplace/latest/APIReference/API_DescribeEntity.html"""
    return _call(aws, "DescribeEntity", "describe_entity", Catalog=CATALOG, EntityId=entity_id)
