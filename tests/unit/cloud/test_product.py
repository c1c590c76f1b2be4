"""Reading an ML product's versions from DescribeEntity's DetailsDocument, resolving --update / --restrict values,
and the pre-listing checks that need those versions."""

from __future__ import annotations

from typing import Any

import pytest

from sm_byo.cloud.listing_checks import Product, new_version_checks, restrict_checks, update_checks
from sm_byo.cloud.product import ProductVersion, product_versions, resolve_version, version_of
from sm_byo.errors import UsageError

ALGO = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/decision-trees-1"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/decision-trees-2"


def version_document(title: str, option_id: str, arn: str, visibility: str = "Public") -> dict[str, Any]:
    """A DetailsDocument.Versions entry, as MachineLearningProductEntityDetail spells it."""
    algorithm = ":algorithm/" in arn
    source = {"Type": "SageMakerAlgorithm" if algorithm else "SageMakerModelPackage", "Id": f"src-{option_id}"}
    source["AlgorithmArn" if algorithm else "ModelPackageArn"] = arn
    return {
        "Id": f"ver-{option_id}",
        "VersionTitle": title,
        "ReleaseNotes": "notes",
        "Sources": [source],
        "DeliveryOptions": [{"Id": option_id, "SourceId": f"src-{option_id}", "Visibility": visibility}],
    }


def versions(*entries: tuple[str, str, str, str]) -> tuple[ProductVersion, ...]:
    return tuple(product_versions({"Versions": [version_document(*entry) for entry in entries]}))


def test_versions_are_read_with_their_delivery_option_arn_and_visibility() -> None:
    found = versions(("1.0", "do-1", ALGO, "Restricted"), ("2.0", "do-2", PACKAGE, "Public"))
    assert [v.to_dict() for v in found] == [
        {
            "version_id": "ver-do-1",
            "title": "1.0",
            "delivery_option_id": "do-1",
            "arn": ALGO,
            "visibility": "Restricted",
        },
        {
            "version_id": "ver-do-2",
            "title": "2.0",
            "delivery_option_id": "do-2",
            "arn": PACKAGE,
            "visibility": "Public",
        },
    ]


@pytest.mark.parametrize("details", [None, [], {"Versions": "x"}, {"Versions": [1, {"DeliveryOptions": [None]}]}])
def test_odd_shapes_give_no_versions(details: Any) -> None:
    assert product_versions(details) == []


def test_a_value_is_a_delivery_option_id_or_a_unique_title() -> None:
    found = versions(("1.0", "do-1", ALGO, "Public"), ("2.0", "do-2", PACKAGE, "Public"))
    assert resolve_version(found, "do-2", "--update").title == "2.0"
    assert resolve_version(found, "1.0", "--update").delivery_option_id == "do-1"


@pytest.mark.parametrize(("value", "said"), [("3.0", "neither a delivery option id"), ("1.0", "more than one")])
def test_an_unknown_or_ambiguous_value_exits_2_listing_the_versions(value: str, said: str) -> None:
    found = versions(("1.0", "do-1", ALGO, "Public"), ("1.0", "do-2", PACKAGE, "Restricted"))
    with pytest.raises(UsageError) as raised:
        resolve_version(found, value, "--restrict")
    message = str(raised.value)
    assert raised.value.exit_code == 2
    assert said in message and f"--restrict {value!r}" in message
    assert "do-1" in message and "do-2" in message and "Restricted" in message


def test_the_added_version_is_found_by_its_arn_and_title() -> None:
    found = versions(("1.0", "do-1", ALGO, "Public"), ("1.1", "do-2", PACKAGE, "Public"))
    assert version_of(found, PACKAGE, "1.1") == found[1]
    assert version_of(found, "arn:aws:sagemaker:us-east-1:123456789012:algorithm/other", "1.1") is None


def statuses(rows: list[dict[str, str]]) -> dict[str, str]:
    return {row["check"]: row["status"] for row in rows}


def test_a_new_version_fails_on_a_title_or_arn_the_product_has() -> None:
    product = Product("prod-1", versions(("1.0", "do-1", ALGO, "Public")))
    assert statuses(new_version_checks(product, "1.1", PACKAGE)) == {
        "version title unused": "passed",
        "ARN not listed yet": "passed",
    }
    title, arn = new_version_checks(product, "1.0", ALGO)
    assert title["status"] == "failed" and "listing.version.title" in title["detail"]
    assert arn["status"] == "failed" and "do-1" in arn["detail"]


def test_restricting_the_last_public_version_fails() -> None:
    found = versions(("1.0", "do-1", ALGO, "Public"), ("0.9", "do-0", PACKAGE, "Restricted"))
    product = Product("prod-1", found)
    last = restrict_checks(product, [found[0]], ("1.0",))
    assert statuses(last) == {"versions to restrict are public": "passed", "a public version remains": "failed"}
    assert "last public version" in last[1]["detail"]
    twice = restrict_checks(product, [found[1]], ("do-0",))
    assert statuses(twice) == {"versions to restrict are public": "failed", "a public version remains": "passed"}


def test_updating_a_restricted_version_fails() -> None:
    found = versions(("1.0", "do-1", ALGO, "Restricted"))
    (row,) = update_checks(Product("prod-1", found), found[0], "1.0")
    assert row["status"] == "failed" and "add a new version" in row["detail"]


def test_without_the_product_the_checks_say_skipped_or_failed_and_why() -> None:
    offline = Product("prod-1", None)
    rows = new_version_checks(offline, "1.0", ALGO) + restrict_checks(offline, [], ("1.0",))
    assert {row["status"] for row in rows} == {"skipped"}
    assert all("DescribeEntity of prod-1" in row["detail"] for row in rows)
    assert "--restrict 1.0 sent as delivery option ids" in rows[-1]["detail"]
    (update,) = update_checks(offline, None, "do-9")
    assert update["status"] == "skipped" and "'do-9' is sent as a delivery option id" in update["detail"]
    missing = Product("prod-1", None, "DescribeEntity found no product prod-1")
    assert statuses(new_version_checks(missing, "1.0", ALGO)) == {
        "version title unused": "failed",
        "ARN not listed yet": "failed",
    }
