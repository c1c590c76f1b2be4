"""The pre-listing checks that need no AWS: account, region, prices, recommended types, a described status, and
reading ECR findings (hostile shapes included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sm_byo.cloud.listing_checks import (
    Listed,
    account_check,
    images_of,
    pricing_checks,
    region_check,
    status_check,
    vulnerable_packages,
)
from tests.unit.specs.test_listing import LISTING, PRICES, listing_manifest

ARN = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/decision-trees-1"


def listed(description: dict[str, Any] | None = None, kind: str = "algorithm", missing: str | None = None) -> Listed:
    return Listed(kind, ARN, "123456789012", "us-east-1", description, missing)


def test_account_and_region_name_both_sides() -> None:
    assert account_check(listed(), "123456789012")["status"] == "passed"
    other = account_check(listed(), "210987654321")
    assert other["status"] == "failed" and "123456789012" in other["detail"] and "210987654321" in other["detail"]
    assert account_check(listed(), None)["status"] == "skipped"
    wrong = region_check(listed(), "eu-west-1")
    assert wrong["status"] == "failed" and "us-east-1" in wrong["detail"] and "eu-west-1" in wrong["detail"]


def test_prices_are_checked_against_what_aws_described(tmp_path: Path) -> None:
    manifest = listing_manifest(tmp_path, LISTING + PRICES).manifest
    description = {
        "TrainingSpecification": {"SupportedTrainingInstanceTypes": ["ml.m5.large"]},
        "InferenceSpecification": {
            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
            "SupportedTransformInstanceTypes": ["ml.c5.xlarge"],
        },
    }
    rows = pricing_checks(listed(description), manifest, {"ml.m5.large.a.t", "ml.m5.large.m.i.r"})
    assert [(r["check"], r["status"]) for r in rows] == [
        ("every instance type priced", "failed"),
        ("recommended instance types supported", "passed"),
    ]
    assert "ml.c5.xlarge.m.i.b" in rows[0]["detail"] and ARN in rows[0]["detail"]


def test_a_model_package_is_not_judged_on_training(tmp_path: Path) -> None:
    text = LISTING.replace("{batch_transform: ml.c5.xlarge}", "{training: ml.p3.2xlarge}")
    manifest = listing_manifest(tmp_path, text).manifest
    rows = pricing_checks(
        listed(kind="model-package"),
        manifest,
        {"ml.m5.large.m.i.b", "ml.c5.xlarge.m.i.b", "ml.m5.large.m.i.r", "ml.c5.xlarge.m.i.r"},
    )
    assert [r["status"] for r in rows] == ["passed", "passed"]


def test_status_needs_completed_and_every_validation_item() -> None:
    details = {"ValidationStatuses": [{"Name": "validation", "Status": "InProgress"}]}
    failing = status_check(listed({"AlgorithmStatus": "Completed", "AlgorithmStatusDetails": details}))
    assert failing["status"] == "failed" and "validation InProgress" in failing["detail"]
    assert status_check(listed(missing="algorithm x does not exist"))["status"] == "failed"
    assert status_check(listed())["status"] == "skipped"
    unvalidated = status_check(listed({"AlgorithmStatus": "Completed"}))
    assert unvalidated["status"] == "failed" and "no validation profile" in unvalidated["detail"]


def test_findings_and_images_read_hostile_shapes() -> None:
    findings = [
        None,
        {"severity": "LOW", "attributes": [{"key": "package_name", "value": "zlib"}]},
        {"severity": "HIGH", "name": "CVE-1", "attributes": [None, {"key": "package_name", "value": "openssl"}]},
        {"severity": "CRITICAL", "name": "CVE-2", "attributes": "x"},
    ]
    assert vulnerable_packages(findings) == ["openssl (HIGH CVE-1)", "? (CRITICAL CVE-2)"]
    description = {
        "TrainingSpecification": {"TrainingImage": "a"},
        "InferenceSpecification": {"Containers": [{"Image": "a"}, {"Image": 3}, "b", {"Image": "c"}]},
    }
    assert images_of(description) == ["a", "c"]
    assert images_of({"InferenceSpecification": "x"}) == []
