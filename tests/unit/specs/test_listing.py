"""The StartChangeSet requests of `smbyo publish listing`, the Catalog API's rules for them, and the manifest's
`listing:` section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sm_byo.aws.service_model import check_request
from sm_byo.errors import ManifestError
from sm_byo.manifest import load_manifest
from sm_byo.preflight import preflight_problems, request_violations
from sm_byo.rules import change_set_problems, listing_url_problem, unpriced_dimensions
from sm_byo.specs.listing import add_version_request, restrict_versions_request, update_version_request
from sm_byo.specs.request import Request
from tests.unit.plans import example_copy

ARN = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/decision-trees-1"
PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/decision-trees-1"
LISTING = """\
listing:
  product_id: prod-abcdef123456
  offer_id: offer-abcdef123456
  access_role: arn:aws:iam::123456789012:role/AwsMarketplaceSageMakerIngestion
  version: {title: "1.1", release_notes: Smaller trees by default.}
  usage_instructions: Train with a CSV channel named training.
  sample_notebook_url: https://github.com/example/decision-trees/blob/main/sample.ipynb
  repository_url: https://github.com/example/decision-trees
  input:
    description: CSV rows of four numeric features.
    limitations: Four features, no header.
    sample: {realtime_text: "5.1,3.5,1.4,0.2"}
  output: {description: One class label per row., sample: {batch_url: "https://example.com/out.csv"}}
  recommended_instance_types: {batch_transform: ml.c5.xlarge}
"""
PRICES = """\
  prices:
    training: {ml.m5.large: 0.5}
    realtime_inference: {ml.m5.large: 0.25}
    per_inference: 0.001
"""


def listing_manifest(tmp_path: Path, text: str = LISTING + PRICES) -> Any:
    manifest = example_copy(tmp_path)
    manifest.write_text(manifest.read_text() + text)
    return load_manifest(manifest)


def add(tmp_path: Path, kind: str = "algorithm", arn: str = ARN, text: str = LISTING + PRICES) -> Request:
    manifest = listing_manifest(tmp_path, text).manifest
    return add_version_request(manifest, kind=kind, arn=arn, name="decision-trees-sample-add-version-1", intent="APPLY")


def test_a_new_version_of_an_algorithm_with_its_prices(tmp_path: Path) -> None:
    request = add(tmp_path)
    assert (request.service, request.operation) == ("marketplace-catalog", "StartChangeSet")
    version, pricing = request.kwargs["ChangeSet"]
    assert version["ChangeType"] == "AddDeliveryOptions"
    assert version["DetailsDocument"]["Version"] == {"VersionTitle": "1.1", "ReleaseNotes": "Smaller trees by default."}
    (option,) = version["DetailsDocument"]["DeliveryOptions"]
    details = option["Details"]["SageMakerAlgorithmDeliveryOptionDetails"]
    assert details["SageMakerAlgorithmArn"] == ARN
    assert details["InputProperties"] == {
        "Description": "CSV rows of four numeric features.",
        "Limitations": "Four features, no header.",
        "SampleInput": {"RealtimeInferenceText": "5.1,3.5,1.4,0.2"},
    }
    assert details["OutputProperties"]["SampleOutput"] == {"BatchTransformUrl": "https://example.com/out.csv"}
    # given: batch transform; the others default to the first supported type of the manifest
    assert details["RecommendedInstanceTypes"] == {
        "Training": "ml.m5.large",
        "BatchTransform": "ml.c5.xlarge",
        "RealtimeInference": "ml.m5.large",
    }
    (term,) = pricing["DetailsDocument"]["Terms"]
    assert term["RateCards"][0]["RateCard"] == [
        {"DimensionKey": "ml.m5.large.a.t", "Price": 0.5},
        {"DimensionKey": "ml.m5.large.m.i.r", "Price": 0.25},
        {"DimensionKey": "m.i.c", "Price": 0.001},
    ]
    assert (pricing["Entity"], term["CurrencyCode"]) == (
        {"Type": "Offer@1.0", "Identifier": "offer-abcdef123456"},
        "USD",
    )
    assert check_request("StartChangeSet", request.kwargs, "marketplace-catalog") == []
    assert request_violations(request) == []


def test_each_value_remembers_its_manifest_field(tmp_path: Path) -> None:
    request = add(tmp_path)
    details = (
        "ChangeSet",
        0,
        "DetailsDocument",
        "DeliveryOptions",
        0,
        "Details",
        "SageMakerAlgorithmDeliveryOptionDetails",
    )
    assert request.origin_of(("ChangeSet", 0, "DetailsDocument", "Version", "ReleaseNotes")) == (
        "listing",
        "version",
        "release_notes",
    )
    assert request.origin_of((*details, "RecommendedInstanceTypes", "Training")) == ("training", "instance_types", 0)
    assert request.origin_of((*details, "SageMakerAlgorithmArn")) == ("--arn",)
    rate = ("ChangeSet", 1, "DetailsDocument", "Terms", 0, "RateCards", 0, "RateCard", 1, "Price")
    assert request.origin_of(rate) == ("listing", "prices", "realtime_inference", "ml.m5.large")


def test_a_model_package_version_has_no_training_and_no_pricing_without_prices(tmp_path: Path) -> None:
    request = add(tmp_path, "model-package", PACKAGE_ARN, LISTING.replace("  offer_id: offer-abcdef123456\n", ""))
    (version,) = request.kwargs["ChangeSet"]
    details = version["DetailsDocument"]["DeliveryOptions"][0]["Details"]["SagemakerModelPackageDeliveryOptionDetails"]
    assert details["SageMakerModelPackageArn"] == PACKAGE_ARN
    assert "Training" not in details["RecommendedInstanceTypes"]


def test_update_sends_no_arn_and_restrict_only_the_ids(tmp_path: Path) -> None:
    manifest = listing_manifest(tmp_path).manifest
    update = update_version_request(manifest, kind="algorithm", delivery_option_id="do-1", name="n", intent="VALIDATE")
    (change,) = update.kwargs["ChangeSet"]
    option = change["DetailsDocument"]["DeliveryOptions"][0]
    assert change["ChangeType"] == "UpdateDeliveryOptions" and option["Id"] == "do-1"
    assert not {"SageMakerAlgorithmArn", "AccessRoleArn"} & set(
        option["Details"]["SageMakerAlgorithmDeliveryOptionDetails"]
    )
    assert update.kwargs["Intent"] == "VALIDATE" and request_violations(update) == []
    restrict = restrict_versions_request(manifest, delivery_option_ids=["do-1", "do-2"], name="n", intent="APPLY")
    assert restrict.kwargs["ChangeSet"][0]["DetailsDocument"] == {"DeliveryOptionIds": ["do-1", "do-2"]}
    assert request_violations(restrict) == []


def test_the_documented_entity_types_pass_though_the_model_pattern_does_not_allow_them(tmp_path: Path) -> None:
    """marketplace-catalog's EntityType pattern is ^[a-zA-Z]+$; AWS documents MachineLearningProduct@1.0."""
    request = add(tmp_path)
    assert check_request("StartChangeSet", request.kwargs, "marketplace-catalog") == []
    request.kwargs["ChangeSetName"] = "bad/name"  # other patterns are still enforced
    assert [v.path for v in check_request("StartChangeSet", request.kwargs, "marketplace-catalog")] == [
        ("ChangeSetName",)
    ]


def test_the_catalog_rules_name_every_problem_of_a_tampered_change_set(tmp_path: Path) -> None:
    kwargs = add(tmp_path).kwargs
    version, pricing = kwargs["ChangeSet"]
    version["Entity"]["Type"] = "Offer@1.0"
    version["DetailsDocument"]["Version"]["ReleaseNotes"] = "x" * 30000
    details = version["DetailsDocument"]["DeliveryOptions"][0]["Details"]["SageMakerAlgorithmDeliveryOptionDetails"]
    details["RepositoryUrl"] = "git@github.com:example/repo.git"
    details["AccessRoleArn"] = "AwsMarketplaceSageMakerIngestion"
    details["OutputProperties"]["SampleOutput"] = {}
    del details["RecommendedInstanceTypes"]["Training"]
    rates = pricing["DetailsDocument"]["Terms"][0]["RateCards"][0]["RateCard"]
    rates[0]["Price"], rates[1]["DimensionKey"] = -1, "ml.m5.large.x"
    found = {path[-1]: message for path, message in change_set_problems(kwargs)}
    assert set(found) == {
        "Type",
        "ReleaseNotes",
        "RepositoryUrl",
        "AccessRoleArn",
        "SampleOutput",
        "Training",
        "Price",
        "DimensionKey",
    }
    assert "AddDeliveryOptions is a change of a MachineLearningProduct@1.0 entity" in found["Type"]
    assert "is a role name" in found["AccessRoleArn"]


def test_hostile_shapes_are_problems_not_crashes() -> None:
    kwargs = {
        "ChangeSet": [
            None,
            {
                "ChangeType": "AddDeliveryOptions",
                "Entity": [],
                "DetailsDocument": {
                    "Version": "1",
                    "DeliveryOptions": [{"Details": {"SageMakerAlgorithmDeliveryOptionDetails": 3}}, {}],
                },
            },
            {"ChangeType": "UpdatePricingTerms", "Entity": {}, "DetailsDocument": {"Terms": "x"}},
        ]
    }
    found = [(path, message) for path, message in change_set_problems(kwargs)]
    assert (("ChangeSet", 1, "DetailsDocument", "DeliveryOptions"), "exactly one delivery option per version") in found
    assert any(path[-1] == "Terms" for path, _ in found) and any(path[-1] == "Version" for path, _ in found)


def test_unpriced_dimensions_and_urls() -> None:
    supported = {"training": ["ml.m5.large"], "batch_transform": ["ml.m5.large", "ml.c5.xlarge"]}
    assert unpriced_dimensions(supported, {"ml.m5.large.a.t", "ml.m5.large.m.i.b"}) == ["ml.c5.xlarge.m.i.b"]
    assert listing_url_problem("https://example.com/a b") is not None
    assert listing_url_problem("ftp://example.com/a") is not None
    assert listing_url_problem("https://example.com/notebook.ipynb") is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ("  offer_id: offer-abcdef123456\n", "listing.offer_id", "required with prices"),
        ("training: {ml.m5.large: 0.5}", "listing.prices.training.ml.m5.large", "greater than or equal to 0"),
        ("sample_notebook_url: https://github.com", "listing.sample_notebook_url", "not an absolute http(s) URL"),
        ("batch_transform: ml.c5.xlarge", "listing.recommended_instance_types.batch_transform", "not a SageMaker"),
    ],
)
def test_the_listing_section_is_checked_with_its_line(tmp_path: Path, change: str, field: str, message: str) -> None:
    broken = {
        "  offer_id: offer-abcdef123456\n": "",
        "training: {ml.m5.large: 0.5}": "training: {ml.m5.large: -0.5}",
        "sample_notebook_url: https://github.com": "sample_notebook_url: github.com",
        "batch_transform: ml.c5.xlarge": "batch_transform: c5.xlarge",
    }[change]
    with pytest.raises(ManifestError) as raised:
        listing_manifest(tmp_path, (LISTING + PRICES).replace(change, broken))
    (problem,) = raised.value.problems
    assert problem.field == field and message in problem.message and problem.line is not None


def test_pre_flight_names_the_manifest_field_and_line_of_a_value_aws_would_reject(tmp_path: Path) -> None:
    text = (
        (LISTING + PRICES)
        .replace("product_id: prod-abcdef123456", "product_id: prod abc/1")
        .replace(
            "access_role: arn:aws:iam::123456789012:role/AwsMarketplaceSageMakerIngestion", "access_role: Ingestion"
        )
    )
    loaded = listing_manifest(tmp_path, text)
    request = add_version_request(loaded.manifest, kind="algorithm", arn=ARN, name="n", intent="APPLY")
    problems = {problem.field: problem for problem in preflight_problems(loaded, request)}
    assert set(problems) == {"listing.product_id", "listing.access_role"}
    lines = loaded.path.read_text().splitlines()
    assert problems["listing.product_id"].line == lines.index("  product_id: prod abc/1") + 1
    assert "is a role name" in problems["listing.access_role"].message
