"""StartChangeSet for an AWS Marketplace ML product, from the manifest's ``listing:`` section.

Pure: no I/O. The caller decides what is listed (the algorithm or model package ARN and its kind),
the change set's name and its intent (``APPLY``, or ``VALIDATE`` to have AWS check it without applying).
Each change follows the Catalog API's pages for ``MachineLearningProduct@1.0``:

- a new version: ``AddDeliveryOptions`` (one delivery option per version), plus ``UpdatePricingTerms`` on
  the product's offer (``Offer@1.0``) pricing every instance type the version supports
  https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-add-version.html
  https://docs.aws.amazon.com/marketplace/latest/APIReference/update-pricing-terms.html
- a version's details changed: ``UpdateDeliveryOptions`` (the ARN cannot change, so it is not sent)
  https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-update-version.html
- versions withdrawn: ``RestrictDeliveryOptions``
  https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-restrict-version.html
"""

from __future__ import annotations

from typing import Any

from sm_byo.manifest import ListingDataSpec, ListingSampleSpec, ListingSpec, Manifest
from sm_byo.rules import (
    ADD_VERSION,
    DELIVERY_ARN,
    DELIVERY_DETAILS,
    DIMENSION_SUFFIX,
    ML_PRODUCT,
    OFFER,
    PER_INFERENCE_DIMENSION,
    RESTRICT_VERSION,
    UPDATE_PRICING,
    UPDATE_VERSION,
    dimension_key,
)
from sm_byo.specs.request import Origin, Request, RequestPath, at

CATALOG = "AWSMarketplace"
SERVICE = "marketplace-catalog"
OPERATION = "StartChangeSet"
LISTING: Origin = ("listing",)
SAMPLE_FIELDS = {
    "RealtimeInferenceUrl": "realtime_url",
    "RealtimeInferenceText": "realtime_text",
    "BatchTransformUrl": "batch_url",
    "BatchTransformText": "batch_text",
}
# RecommendedInstanceTypes key -> (listing field, the manifest's supported types it defaults to the first of)
RECOMMENDED = {
    "Training": ("training", ("training", "instance_types")),
    "BatchTransform": ("batch_transform", ("inference", "transform_instance_types")),
    "RealtimeInference": ("realtime_inference", ("inference", "realtime_instance_types")),
}


def supported_instance_types(manifest: Manifest, kind: str) -> dict[str, list[str]]:
    """The instance types the manifest declares, per pricing use (a model package does not train)."""
    types = {
        "batch_transform": list(manifest.inference.transform_instance_types),
        "realtime_inference": list(manifest.inference.realtime_instance_types),
    }
    if kind == "algorithm" and manifest.training is not None:
        types = {"training": list(manifest.training.instance_types), **types}
    return types


def _sample(sample: ListingSampleSpec, base: RequestPath, loc: Origin, origins: dict[RequestPath, Origin]) -> dict:
    origins[base] = (*loc, "sample")
    chosen = {}
    for key, field in SAMPLE_FIELDS.items():
        value = getattr(sample, field)
        if value is not None:
            chosen[key] = value
            origins[at(base, key)] = (*loc, "sample", field)
    return chosen


def _properties(data: ListingDataSpec, side: str, base: RequestPath, origins: dict[RequestPath, Origin]) -> dict:
    loc: Origin = ("listing", "input" if side == "InputProperties" else "output")
    origins[base] = loc
    origins[at(base, "Description")] = (*loc, "description")
    properties: dict[str, Any] = {"Description": data.description}
    if data.limitations is not None and side == "InputProperties":
        properties["Limitations"] = data.limitations
        origins[at(base, "Limitations")] = (*loc, "limitations")
    sample = "SampleInput" if side == "InputProperties" else "SampleOutput"
    # The field list calls SampleOutput an array, the request syntax an object like SampleInput: the syntax is followed.
    properties[sample] = _sample(data.sample, at(base, sample), loc, origins)
    return properties


def _recommended(manifest: Manifest, kind: str, base: RequestPath, origins: dict[RequestPath, Origin]) -> dict:
    listing = _listing(manifest)
    origins[base] = ("listing", "recommended_instance_types")
    chosen = {}
    supported = supported_instance_types(manifest, kind)
    for key, (field, default_loc) in RECOMMENDED.items():
        if key == "Training" and kind != "algorithm":
            continue  # "Required for SageMaker Algorithms only"
        value = getattr(listing.recommended_instance_types, field)
        if value is not None:
            origins[at(base, key)] = ("listing", "recommended_instance_types", field)
        elif supported.get(field):
            value = supported[field][0]
            origins[at(base, key)] = (*default_loc, 0)
        if value is not None:
            chosen[key] = value
    return chosen


def _listing(manifest: Manifest) -> ListingSpec:
    assert manifest.listing is not None, "the caller checks that the manifest has a listing: section"
    return manifest.listing


def _version(listing: ListingSpec, base: RequestPath, origins: dict[RequestPath, Origin]) -> dict[str, str]:
    origins[base] = ("listing", "version")
    origins[at(base, "VersionTitle")] = ("listing", "version", "title")
    origins[at(base, "ReleaseNotes")] = ("listing", "version", "release_notes")
    return {"VersionTitle": listing.version.title, "ReleaseNotes": listing.version.release_notes}


def _delivery_details(
    manifest: Manifest, kind: str, arn: str | None, base: RequestPath, origins: dict[RequestPath, Origin]
) -> dict[str, Any]:
    """The delivery option's details; the ARN and access role only for a new version (they cannot change)."""
    listing = _listing(manifest)
    base = at(base, DELIVERY_DETAILS[kind])
    origins[base] = LISTING
    details: dict[str, Any] = {}
    if arn is not None:
        details[DELIVERY_ARN[kind]] = arn
        origins[at(base, DELIVERY_ARN[kind])] = ("--arn",)
        details["AccessRoleArn"] = listing.access_role
        origins[at(base, "AccessRoleArn")] = ("listing", "access_role")
    for key, field in (
        ("UsageInstructions", "usage_instructions"),
        ("SampleNotebookUrl", "sample_notebook_url"),
        ("RepositoryUrl", "repository_url"),
    ):
        details[key] = getattr(listing, field)
        origins[at(base, key)] = ("listing", field)
    details["InputProperties"] = _properties(listing.input, "InputProperties", at(base, "InputProperties"), origins)
    details["OutputProperties"] = _properties(listing.output, "OutputProperties", at(base, "OutputProperties"), origins)
    recommended = at(base, "RecommendedInstanceTypes")
    details["RecommendedInstanceTypes"] = _recommended(manifest, kind, recommended, origins)
    return {DELIVERY_DETAILS[kind]: details}


def _product_change(listing: ListingSpec, change_type: str, index: int, origins: dict[RequestPath, Origin]) -> dict:
    origins[("ChangeSet", index, "Entity", "Identifier")] = ("listing", "product_id")
    return {"ChangeType": change_type, "Entity": {"Type": ML_PRODUCT, "Identifier": listing.product_id}}


def rate_card(listing: ListingSpec, base: RequestPath, origins: dict[RequestPath, Origin]) -> list[dict[str, Any]]:
    """One rate per priced dimension, in the manifest's order (training, batch transform, real-time, per inference)."""
    rates: list[dict[str, Any]] = []
    for use in DIMENSION_SUFFIX:
        for instance_type, price in getattr(listing.prices, use).items():
            origins[at(base, len(rates))] = ("listing", "prices", use, instance_type)
            rates.append({"DimensionKey": dimension_key(instance_type, use), "Price": price})
    if listing.prices.per_inference is not None:
        origins[at(base, len(rates))] = ("listing", "prices", "per_inference")
        rates.append({"DimensionKey": PER_INFERENCE_DIMENSION, "Price": listing.prices.per_inference})
    return rates


def _pricing_change(listing: ListingSpec, index: int, origins: dict[RequestPath, Origin]) -> dict[str, Any]:
    base: RequestPath = ("ChangeSet", index)
    origins[base] = ("listing", "prices")
    origins[at(base, "Entity", "Identifier")] = ("listing", "offer_id")
    term = {
        "Type": "UsageBasedPricingTerm",
        "CurrencyCode": "USD",
        "RateCards": [
            {
                "RateCard": rate_card(
                    listing, at(base, "DetailsDocument", "Terms", 0, "RateCards", 0, "RateCard"), origins
                )
            }
        ],
    }
    return {
        "ChangeType": UPDATE_PRICING,
        "Entity": {"Type": OFFER, "Identifier": listing.offer_id or ""},
        "DetailsDocument": {"PricingModel": "Usage", "Terms": [term]},
    }


def _change_set(changes: list[dict[str, Any]], *, name: str, intent: str, origins: dict) -> dict[str, Any]:
    origins[("ChangeSetName",)] = ("name",)
    origins[("Intent",)] = ("--validate",)
    return {"Catalog": CATALOG, "ChangeSet": changes, "ChangeSetName": name, "Intent": intent}


def _has_prices(listing: ListingSpec) -> bool:
    prices = listing.prices
    return bool(prices.training or prices.batch_transform or prices.realtime_inference) or (
        prices.per_inference is not None
    )


def add_version_request(manifest: Manifest, *, kind: str, arn: str, name: str, intent: str) -> Request:
    """A new version listing ``arn`` (an algorithm or model package), with its prices when the manifest has any."""
    listing = _listing(manifest)
    origins: dict[RequestPath, Origin] = {("ChangeSet", 0): LISTING}
    change = _product_change(listing, ADD_VERSION, 0, origins)
    details: RequestPath = ("ChangeSet", 0, "DetailsDocument")
    option = at(details, "DeliveryOptions", 0, "Details")
    change["DetailsDocument"] = {
        "Version": _version(listing, at(details, "Version"), origins),
        "DeliveryOptions": [{"Details": _delivery_details(manifest, kind, arn, option, origins)}],
    }
    changes = [change]
    if _has_prices(listing) or listing.offer_id:
        changes.append(_pricing_change(listing, 1, origins))
    return Request(OPERATION, _change_set(changes, name=name, intent=intent, origins=origins), origins, SERVICE)


def update_version_request(
    manifest: Manifest, *, kind: str, delivery_option_id: str, name: str, intent: str
) -> Request:
    """New details for an existing version (its delivery option ``delivery_option_id``)."""
    listing = _listing(manifest)
    origins: dict[RequestPath, Origin] = {("ChangeSet", 0): LISTING}
    change = _product_change(listing, UPDATE_VERSION, 0, origins)
    details: RequestPath = ("ChangeSet", 0, "DetailsDocument")
    origins[at(details, "DeliveryOptions", 0, "Id")] = ("--update",)
    option = at(details, "DeliveryOptions", 0, "Details")
    change["DetailsDocument"] = {
        "Version": _version(listing, at(details, "Version"), origins),
        "DeliveryOptions": [
            {"Id": delivery_option_id, "Details": _delivery_details(manifest, kind, None, option, origins)}
        ],
    }
    return Request(OPERATION, _change_set([change], name=name, intent=intent, origins=origins), origins, SERVICE)


def restrict_versions_request(manifest: Manifest, *, delivery_option_ids: list[str], name: str, intent: str) -> Request:
    """Withdraw versions from new buyers (existing subscribers keep them)."""
    listing = _listing(manifest)
    origins: dict[RequestPath, Origin] = {("ChangeSet", 0): LISTING}
    change = _product_change(listing, RESTRICT_VERSION, 0, origins)
    origins[("ChangeSet", 0, "DetailsDocument", "DeliveryOptionIds")] = ("--restrict",)
    change["DetailsDocument"] = {"DeliveryOptionIds": list(delivery_option_ids)}
    return Request(OPERATION, _change_set([change], name=name, intent=intent, origins=origins), origins, SERVICE)
