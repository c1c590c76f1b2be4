"""publish listing end to end: the CLI in a subprocess against moto's server and its Catalog API stand-in.

tests/aws/moto_catalog.py answers StartChangeSet / DescribeChangeSet over HTTP (PREPARING -> APPLYING ->
SUCCEEDED, or FAILED with the ErrorDetailList AWS documents) and DescribeEntity (the product's versions); the
algorithms listed are moto_algorithms' ones, created with `smbyo publish algorithm` as a seller would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.aws.fixtures import aws_env, moto, moto_session  # noqa: F401
from tests.aws.harness import ACCOUNT_ID, REGION, MotoHarness
from tests.aws.moto_catalog import add_product, add_version, product
from tests.conftest import run_cli
from tests.unit.plans import assert_plan_accepted

PRODUCT, OFFER = "prod-abcdef123456", "offer-abcdef123456"
ALGORITHM = "decision-trees-listed"
REPOSITORY = "decision-trees-sample"
IMAGE = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:v1"
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:algorithm/{ALGORITHM}"
PRICES = """\
  prices:
    training: {ml.m5.large: 0.5, ml.m5.xlarge: 1.0, ml.c5.xlarge: 1.0}
    batch_transform: {ml.m5.large: 0.2, ml.c5.xlarge: 0.4}
    realtime_inference: {ml.m5.large: 0.2, ml.c5.xlarge: 0.4}
"""
LISTING = f"""\
listing:
  product_id: {PRODUCT}
  offer_id: {OFFER}
  access_role: arn:aws:iam::{ACCOUNT_ID}:role/AwsMarketplaceSageMakerIngestion
  version:
    title: "1.1"
    release_notes: Smaller trees by default.
  usage_instructions: Train with a CSV channel named training, the label in column 0.
  sample_notebook_url: https://github.com/example/decision-trees/blob/main/sample.ipynb
  repository_url: https://github.com/example/decision-trees
  input:
    description: CSV rows of four numeric features.
    sample: {{realtime_text: "5.1,3.5,1.4,0.2", batch_url: "https://example.com/sample.csv"}}
  output:
    description: One class label per row.
    sample: {{realtime_text: "0"}}
"""
OFFLINE = {
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "",
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}


def with_listing(project: Path, prices: str = PRICES, extra: str = "") -> Path:
    manifest = project / "smbyo.yaml"
    text = manifest.read_text().replace(
        "marketplace:\n  certify: true\n", f"marketplace:\n  certify: true\n  algorithm_name: {ALGORITHM}\n"
    )
    manifest.write_text(text + LISTING + prices + extra)
    return project


def smbyo(project: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli("--json", *args, cwd=project, env=env)
    return result.returncode, json.loads(result.stdout), result.stderr


def published(project: Path, env: dict[str, str], *flags: str) -> dict[str, Any]:
    """`smbyo publish algorithm` (validation followed to Completed unless --no-wait), as the seller does first."""
    code, result, stderr = smbyo(project, env, "publish", "algorithm", "--image", IMAGE, *flags)
    assert code == 0, stderr
    return result


@pytest.fixture
def seller(project: Path, moto: MotoHarness, aws_env: dict[str, str]) -> Path:  # noqa: F811
    """A project with a listing: section whose algorithm is Completed, and the product it lists into."""
    with_listing(project)
    published(project, aws_env)
    add_product(moto, PRODUCT, OFFER)
    return project


def checks_by_name(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["check"]: row for row in rows}


def test_dry_run_prints_a_change_set_botocore_accepts_without_credentials(project: Path) -> None:
    with_listing(project)
    code, plan, stderr = smbyo(project, OFFLINE, "publish", "listing", "--dry-run", "--arn", ARN)
    assert code == 0, stderr
    (step,) = plan["plan"]
    assert (step["operation"], step["service"]) == ("StartChangeSet", "marketplace-catalog")
    assert assert_plan_accepted(plan) == ["StartChangeSet"]  # botocore's validator and the model's constraints
    add, pricing = step["kwargs"]["ChangeSet"]
    assert add["Entity"] == {"Type": "MachineLearningProduct@1.0", "Identifier": PRODUCT}
    details = add["DetailsDocument"]["DeliveryOptions"][0]["Details"]["SageMakerAlgorithmDeliveryOptionDetails"]
    assert details["SageMakerAlgorithmArn"] == ARN
    assert details["RecommendedInstanceTypes"] == {
        "Training": "ml.m5.large",
        "BatchTransform": "ml.m5.large",
        "RealtimeInference": "ml.m5.large",
    }
    assert pricing["Entity"] == {"Type": "Offer@1.0", "Identifier": OFFER}
    assert step["kwargs"]["Intent"] == "APPLY"
    notes = "\n".join(plan["notes"])
    assert "skipped: account: not run: needs AWS credentials" in notes
    assert "passed: region" in notes and "passed: every instance type priced" in notes
    why = f"not run: needs AWS credentials (aws-marketplace:DescribeEntity of {PRODUCT})"
    for check in ("version title unused", "ARN not listed yet"):
        assert f"skipped: {check}: {why}" in notes


def test_an_unpriced_instance_type_exits_2_in_a_dry_run(project: Path) -> None:
    with_listing(project, PRICES.replace(", ml.c5.xlarge: 0.4}\n    realtime", "}\n    realtime"))
    code, error, _ = smbyo(project, OFFLINE, "publish", "listing", "--dry-run", "--arn", ARN)
    assert code == 2
    assert error["error"] == "ListingChecksFailed"
    assert "ml.c5.xlarge.m.i.b" in error["message"]


def test_a_bad_listing_value_exits_2_naming_the_field_and_line(project: Path) -> None:
    with_listing(project, extra="  recommended_instance_types: {training: ml.p3.2xlarge}\n")
    notes = "x" * 30000
    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace("Smaller trees by default.", notes))
    code, error, _ = smbyo(project, OFFLINE, "publish", "listing", "--dry-run", "--arn", ARN)
    assert code == 2
    assert "listing.version.release_notes" in error["message"] and "under 30,000" in error["message"]
    line = manifest.read_text().splitlines().index(f"    release_notes: {notes}") + 1
    assert f"smbyo.yaml:{line}" in error["message"]


def test_apply_ends_succeeded_and_lists_the_version(
    seller: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    code, result, stderr = smbyo(seller, aws_env, "publish", "listing")
    assert code == 0, stderr
    assert (result["status"], result["intent"], result["listed_arn"]) == ("SUCCEEDED", "APPLY", ARN)
    assert "PREPARING" in stderr and "APPLYING" in stderr
    checks = checks_by_name(result["checks"])
    assert {name: row["status"] for name, row in checks.items() if not name.startswith("no known")} == {
        "account": "passed",
        "region": "passed",
        "every instance type priced": "passed",
        "recommended instance types supported": "passed",
        "Completed and validated": "passed",
        "version title unused": "passed",
        "ARN not listed yet": "passed",
    }
    scan = checks[f"no known-vulnerable packages: {IMAGE}"]
    assert scan["status"] == "skipped" and "not checked" in scan["detail"]
    (version,) = product(moto, PRODUCT)["versions"]
    assert (version["arn"], version["title"], version["visibility"]) == (ARN, "1.1", "Public")
    assert result["version"] == {  # read back with DescribeEntity: what --update / --restrict take
        "version_id": version["version_id"],
        "title": "1.1",
        "delivery_option_id": version["id"],
        "arn": ARN,
        "visibility": "Public",
    }


def test_validate_checks_without_applying(
    seller: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    code, result, stderr = smbyo(seller, aws_env, "publish", "listing", "--validate")
    assert code == 0, stderr
    assert (result["status"], result["intent"]) == ("SUCCEEDED", "VALIDATE")
    assert product(moto, PRODUCT)["versions"] == []
    assert "version" not in result  # nothing was applied, so there is no version to read back


def test_a_version_whose_title_or_arn_the_product_has_is_refused_before_sending(
    seller: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    """The same version listed twice: AWS would fail DUPLICATE_VERSION_TITLE and DUPLICATE_ASSET; DescribeEntity
    shows both beforehand."""
    code, first, stderr = smbyo(seller, aws_env, "publish", "listing")
    assert code == 0, stderr
    code, error, stderr = smbyo(seller, aws_env, "publish", "listing")
    assert code == 2 and error["error"] == "ListingChecksFailed", stderr
    failed = {row["check"]: row["detail"] for row in error["details"]["checks"] if row["status"] == "failed"}
    assert list(failed) == ["version title unused", "ARN not listed yet"]
    option = first["version"]["delivery_option_id"]
    assert "'1.1'" in failed["version title unused"] and "listing.version.title" in failed["version title unused"]
    assert option in failed["ARN not listed yet"]
    assert len(product(moto, PRODUCT)["versions"]) == 1  # nothing was sent


def test_pricing_an_offer_that_is_not_the_products_fails_on_both_changes(
    project: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    with_listing(project)
    published(project, aws_env)
    add_product(moto, PRODUCT, "offer-someone-else")
    code, error, stderr = smbyo(project, aws_env, "publish", "listing")
    assert code == 1, stderr
    assert error["error"] == "JobFailed" and "ended FAILED" in error["message"]
    codes = [(e["change"], e["code"]) for e in error["details"]["errors"]]
    assert codes == [
        ("AddDeliveryOptions", "UPDATE_PRICING_REQUIRED"),
        ("UpdatePricingTerms", "INCOMPATIBLE_PRODUCT_STATUS"),
    ]
    for detail in error["details"]["errors"]:
        assert f"{detail['code']}: {detail['message']}" in error["message"]


def test_not_completed_wrong_account_and_wrong_region_fail_the_checks(
    project: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    with_listing(project)
    published(project, aws_env, "--no-wait")  # still Pending when the listing describes it
    add_product(moto, PRODUCT, OFFER)
    code, error, _ = smbyo(project, aws_env, "publish", "listing", "--dry-run")
    assert code == 2 and error["error"] == "ListingChecksFailed"
    failed = {row["check"]: row["detail"] for row in error["details"]["checks"] if row["status"] == "failed"}
    assert list(failed) == ["Completed and validated"] and "is Pending" in failed["Completed and validated"]

    elsewhere = ARN.replace(ACCOUNT_ID, "999999999999").replace(REGION, "eu-west-1")
    code, error, _ = smbyo(project, aws_env, "publish", "listing", "--arn", elsewhere)
    assert code == 2
    failed = {row["check"]: row["detail"] for row in error["details"]["checks"] if row["status"] == "failed"}
    assert "account 999999999999" in failed["account"] and ACCOUNT_ID in failed["account"]
    assert "eu-west-1" in failed["region"] and REGION in failed["region"]
    assert product(moto, PRODUCT)["versions"] == []  # nothing was sent


def test_critical_findings_of_ecr_scan_fail_the_checks(
    project: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    ecr = moto.client("ecr")
    ecr.create_repository(repositoryName=REPOSITORY, imageScanningConfiguration={"scanOnPush": True})
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "digest": "sha256:" + "a" * 64,
            "size": 1,
            "mediaType": "application/vnd.docker.container.image.v1+json",
        },
        "layers": [],
    }
    ecr.put_image(repositoryName=REPOSITORY, imageManifest=json.dumps(manifest), imageTag="v1")
    ecr.start_image_scan(repositoryName=REPOSITORY, imageId={"imageTag": "v1"})
    finding = {
        "name": "CVE-2026-0001",
        "severity": "CRITICAL",
        "attributes": [{"key": "package_name", "value": "openssl"}, {"key": "package_version", "value": "3.0.1"}],
    }
    findings = {
        "repositoryName": REPOSITORY,
        "imageId": {"imageTag": "v1"},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {"findings": [finding], "findingSeverityCounts": {"CRITICAL": 1}},
    }
    requests.post(
        f"{moto.url}/moto-api/static/ecr/scan-finding-results",
        json={"results": [findings], "region": REGION},
        timeout=30,
    ).raise_for_status()
    with_listing(project)
    published(project, aws_env)
    code, error, _ = smbyo(project, aws_env, "publish", "listing", "--dry-run")
    assert code == 2
    scan = checks_by_name(error["details"]["checks"])[f"no known-vulnerable packages: {IMAGE}"]
    assert scan["status"] == "failed" and "openssl 3.0.1 (CRITICAL CVE-2026-0001)" in scan["detail"]


def test_update_and_restrict_by_title_and_no_wait_then_wait(
    seller: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    code, result, stderr = smbyo(seller, aws_env, "publish", "listing", "--no-wait")
    assert code == 0 and result["status"] == "Submitted", stderr
    assert result["resume"] == f"smbyo wait change-set {result['change_set_id']}"
    code, waited, stderr = smbyo(seller, aws_env, "wait", "change-set", result["change_set_id"])
    assert code == 0 and waited["status"] == "SUCCEEDED", stderr
    (version,) = product(moto, PRODUCT)["versions"]

    manifest = seller / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace("Train with a CSV", "Train with one CSV"))
    code, result, stderr = smbyo(seller, aws_env, "publish", "listing", "--update", "1.1")  # the title
    assert code == 0 and result["action"] == "update-version", stderr
    assert result["checks"] == [
        {"check": "version to update is public", "status": "passed", "detail": "version '1.1' is Public"}
    ]
    assert result["version"]["delivery_option_id"] == version["id"]
    assert product(moto, PRODUCT)["versions"][0]["details"]["UsageInstructions"].startswith("Train with one CSV")

    code, error, _ = smbyo(seller, aws_env, "publish", "listing", "--restrict", version["id"])
    assert code == 2 and error["error"] == "ListingChecksFailed"  # the last public version: AWS would refuse it
    failed = [row for row in error["details"]["checks"] if row["status"] == "failed"]
    assert [row["check"] for row in failed] == ["a public version remains"]
    assert product(moto, PRODUCT)["versions"][0]["visibility"] == "Public"

    newer = add_version(moto, PRODUCT, "1.2", ARN.replace(ALGORITHM, "decision-trees-newer"))
    code, result, stderr = smbyo(seller, aws_env, "publish", "listing", "--restrict", "1.1")
    assert code == 0 and result["status"] == "SUCCEEDED", stderr
    assert {v["id"]: v["visibility"] for v in product(moto, PRODUCT)["versions"]} == {
        version["id"]: "Restricted",
        newer: "Public",
    }
    assert checks_by_name(result["checks"])["a public version remains"]["detail"] == "public after this: '1.2'"


@pytest.mark.parametrize("flag", ["--update", "--restrict"])
def test_an_unknown_or_ambiguous_version_exits_2_listing_the_products_versions(
    seller: Path,
    moto: MotoHarness,  # noqa: F811
    flag: str,
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    first = add_version(moto, PRODUCT, "1.0", ARN.replace(ALGORITHM, "decision-trees-a"))
    second = add_version(moto, PRODUCT, "1.0", ARN.replace(ALGORITHM, "decision-trees-b"), visibility="Restricted")
    for value, said in (("2.0", "is neither a delivery option id nor a version title"), ("1.0", "more than one")):
        code, error, _ = smbyo(seller, aws_env, "publish", "listing", flag, value, "--dry-run")
        assert code == 2 and error["error"] == "UsageError"
        assert f"{flag} {value!r} " in error["message"] and said in error["message"]
        assert first in error["message"] and second in error["message"] and "Restricted" in error["message"]


def test_an_arn_in_another_region_is_described_there_and_the_region_check_names_both(
    project: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    """Published in eu-west-1, listed from a us-east-1 session: found (Completed) where its ARN says, and refused
    for the region, not reported missing."""
    with_listing(project)
    elsewhere = {**aws_env, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}
    arn = published(project, elsewhere)["arn"]
    assert ":eu-west-1:" in arn
    add_product(moto, PRODUCT, OFFER)
    code, error, _ = smbyo(project, aws_env, "publish", "listing", "--arn", arn, "--dry-run")
    assert code == 2 and error["error"] == "ListingChecksFailed"
    checks = checks_by_name(error["details"]["checks"])
    assert checks["Completed and validated"]["status"] == "passed"
    assert [name for name, row in checks.items() if row["status"] == "failed"] == ["region"]
    assert "eu-west-1" in checks["region"]["detail"] and f"listing's region is {REGION}" in checks["region"]["detail"]


def test_a_product_describe_entity_does_not_find_fails_the_product_checks(
    project: Path,
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    with_listing(project)
    published(project, aws_env)  # no add_product: prod-abcdef123456 is no product of this seller
    code, error, _ = smbyo(project, aws_env, "publish", "listing")
    assert code == 2 and error["error"] == "ListingChecksFailed"
    failed = {row["check"]: row["detail"] for row in error["details"]["checks"] if row["status"] == "failed"}
    assert list(failed) == ["version title unused", "ARN not listed yet"]
    assert all(f"no product {PRODUCT}" in detail and "listing.product_id" in detail for detail in failed.values())
