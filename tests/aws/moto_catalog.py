"""moto extension: the AWS Marketplace Catalog API for machine learning products, over the same HTTP server.

moto has no marketplace-catalog service: a request signed for ``aws-marketplace`` to ``/StartChangeSet``,
``/DescribeChangeSet`` or ``/DescribeEntity`` is answered here (the dispatcher is patched to hand it over).
Change sets go ``PREPARING`` -> ``APPLYING`` -> ``SUCCEEDED``, one step per DescribeChangeSet, or end
``FAILED`` with the ``ErrorDetailList`` the Catalog API documents for what is wrong, found the way AWS finds it
(asynchronously):

- AddDeliveryOptions (https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-add-version.html):
  INCOMPATIBLE_PRODUCT_STATUS (no such product), INVALID_ASSET_ARN, ASSET_NOT_FOUND (no such algorithm or model
  package in the seller's account), ASSET_VALIDATION_EXCEPTION (not Completed), DUPLICATE_ASSET,
  DUPLICATE_VERSION_TITLE, INVALID_RECOMMENDED_INSTANCE_TYPE, UPDATE_PRICING_REQUIRED (a supported instance type
  the offer does not price);
- UpdateDeliveryOptions (ml-update-version.html): INVALID_DELIVERY_OPTION_ID, INCOMPATIBLE_DELIVERY_OPTION_STATUS;
- RestrictDeliveryOptions (ml-restrict-version.html): INVALID_DELIVERY_OPTION_IDS, INVALID_DELIVERY_OPTION_STATUS,
  ALL_DELIVERY_OPTIONS_RESTRICTED;
- UpdatePricingTerms (update-pricing-terms.html): INCOMPATIBLE_PRODUCT_STATUS for an unknown offer.

DescribeEntity (https://docs.aws.amazon.com/marketplace/latest/APIReference/API_DescribeEntity.html) of a product
answers its ``DetailsDocument`` (and ``Details``, the same as a string) in the shape of the Catalog API's
MachineLearningProductEntityDetail (https://github.com/awslabs/aws-marketplace-catalog-api-shapes-for-java):
``Versions`` with ``Id``, ``VersionTitle``, ``ReleaseNotes``, ``CreationDate``, ``Sources`` (``AlgorithmArn`` /
``ModelPackageArn``) and one ``DeliveryOptions`` entry (``Id``, ``Type``, ``SourceId``, ``Visibility``,
``Instructions``, ``RecommendedInstanceTypes``), as the applied change sets left them; an unknown id is
ResourceNotFoundException.

``Intent: VALIDATE`` runs the same checks and applies nothing. Products are seeded by tests with
:func:`add_product`; the algorithms and model packages are those of ``moto_algorithms``.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from tests.aws.harness import ACCOUNT_ID, MotoHarness

STORE_KEY = "marketplace_catalog"
PATHS = ("/StartChangeSet", "/DescribeChangeSet", "/DescribeEntity")
ARN = re.compile(r"arn:aws:sagemaker:[a-z0-9-]+:(\d{12}):(algorithm|model-package)/([A-Za-z0-9-]+)")
DETAILS = {
    "SageMakerAlgorithmDeliveryOptionDetails": "SageMakerAlgorithmArn",
    "SagemakerModelPackageDeliveryOptionDetails": "SageMakerModelPackageArn",
}
ML_PRODUCT_PATH = "MachineLearningProduct"
SUFFIXES = {"training": "a.t", "batch_transform": "m.i.b", "realtime_inference": "m.i.r"}


def _store(harness: MotoHarness) -> dict[str, Any]:
    store: dict[str, Any] = harness.state.setdefault(STORE_KEY, {"products": {}, "offers": {}, "change_sets": {}})
    return store


def add_product(harness: MotoHarness, product_id: str, offer_id: str, status: str = "Limited") -> None:
    """A product (and its public offer) that versions can be added to; ``status`` Draft refuses them."""
    store = _store(harness)
    store["products"][product_id] = {"status": status, "offer": offer_id, "versions": []}
    store["offers"][offer_id] = {"product": product_id, "prices": {}}


def add_version(
    harness: MotoHarness, product_id: str, title: str, arn: str, *, visibility: str = "Public", details: Any = None
) -> str:
    """A version the product had before the test (as if listed earlier); returns its delivery option id."""
    option_id = secrets.token_hex(8)
    _store(harness)["products"][product_id]["versions"].append(
        {
            "id": option_id,
            "version_id": secrets.token_hex(8),
            "source_id": secrets.token_hex(8),
            "created": "2026-01-01T00:00:00.000Z",
            "title": title,
            "release_notes": f"Version {title}.",
            "arn": arn,
            "kind": "SageMakerAlgorithm" if ":algorithm/" in arn else "SageMakerModelPackage",
            "visibility": visibility,
            "details": dict(details or {}),
        }
    )
    return option_id


def product(harness: MotoHarness, product_id: str) -> dict[str, Any]:
    """The product as the applied change sets left it (versions with their delivery option ids)."""
    return dict(_store(harness)["products"][product_id])


def _error(code: str, message: str) -> dict[str, str]:
    return {"ErrorCode": code, "ErrorMessage": message}


def _listed_entity(harness: MotoHarness, arn: str) -> dict[str, Any] | None:
    """The moto_algorithms record behind ``arn`` and its status as the last Describe showed it."""
    from tests.aws.moto_algorithms import STORE_KEY as ENTITIES
    from tests.aws.moto_algorithms import _stage

    for record in harness.state.get(ENTITIES, {}).values():
        if record["arn"] == arn:
            return {"record": record, "status": _stage(record)[0] if record["describes"] else "Pending"}
    return None


def _supported(record: dict[str, Any]) -> dict[str, list[str]]:
    request = record["request"]
    inference = request.get("InferenceSpecification", {})
    types = {
        "batch_transform": inference.get("SupportedTransformInstanceTypes", []),
        "realtime_inference": inference.get("SupportedRealtimeInferenceInstanceTypes", []),
    }
    if record["kind"] == "algorithm":
        types["training"] = request.get("TrainingSpecification", {}).get("SupportedTrainingInstanceTypes", [])
    return types


def _priced(store: dict[str, Any], offer_id: str, changes: list[dict[str, Any]]) -> set[str]:
    """What the offer prices once this change set's UpdatePricingTerms (which replaces the terms) is applied."""
    for change in changes:
        if change.get("ChangeType") == "UpdatePricingTerms" and change["Entity"].get("Identifier") == offer_id:
            return set(_rates(change))
    return set(store["offers"].get(offer_id, {}).get("prices", {}))


def _rates(change: dict[str, Any]) -> dict[str, float]:
    rates = {}
    for term in change.get("DetailsDocument", {}).get("Terms", []):
        for card in term.get("RateCards", []):
            for rate in card.get("RateCard", []):
                rates[rate["DimensionKey"]] = rate["Price"]
    return rates


def _option(change: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    option = (change.get("DetailsDocument", {}).get("DeliveryOptions") or [{}])[0]
    details = option.get("Details", {})
    key = next((key for key in DETAILS if key in details), "")
    return key, details.get(key, {})


def _add_errors(harness: MotoHarness, change: dict[str, Any], changes: list[dict[str, Any]]) -> list[dict[str, str]]:
    store = _store(harness)
    listed = store["products"].get(change["Entity"].get("Identifier"))
    if listed is None or listed["status"] == "Draft":
        return [
            _error("INCOMPATIBLE_PRODUCT_STATUS", "We couldn't locate the provided product. Provide a valid product.")
        ]
    key, details = _option(change)
    arn = str(details.get(DETAILS.get(key, ""), ""))
    errors = []
    title = change["DetailsDocument"].get("Version", {}).get("VersionTitle")
    if any(version["title"] == title for version in listed["versions"]):
        errors.append(
            _error(
                "DUPLICATE_VERSION_TITLE",
                "The provided version title is already in use. Create a unique version title.",
            )
        )
    match = ARN.fullmatch(arn)
    if match is None:
        return [
            *errors,
            _error("INVALID_ASSET_ARN", f"You didn't provide a valid ARN for {key}. Enter a valid ARN and try again."),
        ]
    entity = _listed_entity(harness, arn) if match.group(1) == ACCOUNT_ID else None
    if entity is None:
        return [
            *errors,
            _error(
                "ASSET_NOT_FOUND",
                "We couldn't locate the ARN you provided. Verify that the ARN is "
                "correct and has the required permissions.",
            ),
        ]
    if any(version["arn"] == arn for p in store["products"].values() for version in p["versions"]):
        errors.append(
            _error(
                "DUPLICATE_ASSET", "You didn't provide a unique ARN for this product. Enter a unique ARN and try again."
            )
        )
    if entity["status"] != "Completed":
        errors.append(
            _error("ASSET_VALIDATION_EXCEPTION", f"Unable to ingest {DETAILS[key]} {arn} into AWS Sagemaker account")
        )
    supported = _supported(entity["record"])
    recommended = details.get("RecommendedInstanceTypes", {})
    for field, name in (
        ("training", "Training"),
        ("batch_transform", "BatchTransform"),
        ("realtime_inference", "RealtimeInference"),
    ):
        if name in recommended and recommended[name] not in supported.get(field, []):
            errors.append(
                _error(
                    "INVALID_RECOMMENDED_INSTANCE_TYPE",
                    f"You didn't provide a valid instance type for "
                    f"{name}. Enter a valid instance type and try again. Valid types are: "
                    f"{supported.get(field, [])}",
                )
            )
    priced = _priced(store, listed["offer"], changes)
    wanted = {f"{kind}.{SUFFIXES[use]}" for use, kinds in supported.items() for kind in kinds}
    if wanted - priced:
        errors.append(_error("UPDATE_PRICING_REQUIRED", "UpdatePricingTerms is required."))
    return errors


def _update_errors(harness: MotoHarness, change: dict[str, Any]) -> list[dict[str, str]]:
    listed = _store(harness)["products"].get(change["Entity"].get("Identifier"))
    if listed is None:
        return [_error("INCOMPATIBLE_PRODUCT_STATUS", "Use an existing limited or public product.")]
    option_id = (change["DetailsDocument"].get("DeliveryOptions") or [{}])[0].get("Id")
    version = next((v for v in listed["versions"] if v["id"] == option_id), None)
    if version is None:
        return [
            _error(
                "INVALID_DELIVERY_OPTION_ID",
                f"Provide delivery option IDs that can be found in the product. IDs not found: [{option_id}]",
            )
        ]
    if version["visibility"] == "Restricted":
        return [
            _error(
                "INCOMPATIBLE_DELIVERY_OPTION_STATUS",
                "The delivery option cannot be updated because it's in "
                "restricted status. Try adding a new version instead.",
            )
        ]
    return []


def _restrict_errors(harness: MotoHarness, change: dict[str, Any]) -> list[dict[str, str]]:
    listed = _store(harness)["products"].get(change["Entity"].get("Identifier"))
    if listed is None:
        return [_error("INCOMPATIBLE_PRODUCT_STATUS", "Use an existing public or limited product")]
    ids = change["DetailsDocument"].get("DeliveryOptionIds") or []
    known = {v["id"]: v for v in listed["versions"]}
    missing = [i for i in ids if i not in known]
    if missing:
        return [
            _error(
                "INVALID_DELIVERY_OPTION_IDS",
                f"Provide delivery option IDs that can be found in the product. IDs not found: {missing}",
            )
        ]
    restricted = [i for i in ids if known[i]["visibility"] != "Public"]
    if restricted:
        return [
            _error(
                "INVALID_DELIVERY_OPTION_STATUS",
                f"The delivery option IDs {restricted} are invalid. Provide delivery options in the public state.",
            )
        ]
    if not [v for v in listed["versions"] if v["visibility"] == "Public" and v["id"] not in ids]:
        return [
            _error(
                "ALL_DELIVERY_OPTIONS_RESTRICTED",
                "Provide fewer delivery options to restrict as at least one must remain in public state.",
            )
        ]
    return []


def _errors(harness: MotoHarness, changes: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    found = []
    for change in changes:
        kind = change.get("ChangeType")
        if kind == "AddDeliveryOptions":
            found.append(_add_errors(harness, change, changes))
        elif kind == "UpdateDeliveryOptions":
            found.append(_update_errors(harness, change))
        elif kind == "RestrictDeliveryOptions":
            found.append(_restrict_errors(harness, change))
        elif kind == "UpdatePricingTerms" and change["Entity"].get("Identifier") not in _store(harness)["offers"]:
            found.append([_error("INCOMPATIBLE_PRODUCT_STATUS", "Use an existing limited or public product.")])
        else:
            found.append([])
    return found


def _apply(harness: MotoHarness, changes: list[dict[str, Any]]) -> None:
    store = _store(harness)
    for change in changes:
        entity_id = change["Entity"].get("Identifier")
        kind = change.get("ChangeType")
        if kind == "AddDeliveryOptions":
            key, details = _option(change)
            store["products"][entity_id]["versions"].append(
                {
                    "id": secrets.token_hex(8),
                    "version_id": secrets.token_hex(8),
                    "source_id": secrets.token_hex(8),
                    "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "title": change["DetailsDocument"]["Version"]["VersionTitle"],
                    "release_notes": change["DetailsDocument"]["Version"].get("ReleaseNotes", ""),
                    "arn": details[DETAILS[key]],
                    "kind": "SageMakerAlgorithm" if "Algorithm" in key else "SageMakerModelPackage",
                    "visibility": "Public",
                    "details": details,
                }
            )
        elif kind == "UpdateDeliveryOptions":
            option = change["DetailsDocument"]["DeliveryOptions"][0]
            for version in store["products"][entity_id]["versions"]:
                if version["id"] == option["Id"]:
                    version["details"].update(_option(change)[1])
                    version["title"] = (
                        change["DetailsDocument"].get("Version", {}).get("VersionTitle", version["title"])
                    )
        elif kind == "RestrictDeliveryOptions":
            for version in store["products"][entity_id]["versions"]:
                if version["id"] in change["DetailsDocument"]["DeliveryOptionIds"]:
                    version["visibility"] = "Restricted"
        elif kind == "UpdatePricingTerms":
            store["offers"][entity_id]["prices"] = _rates(change)


def _client_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], dict[str, str]]:
    return status, {"x-amzn-ErrorType": code}, {"message": message}


def _start(harness: MotoHarness, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Synchronous validation is the request's shape (as AWS's ValidationException); the rest comes later."""
    changes = body.get("ChangeSet")
    if body.get("Catalog") != "AWSMarketplace" or not isinstance(changes, list) or not changes:
        return _client_error(400, "ValidationException", "Catalog must be AWSMarketplace, with at least one change")
    for change in changes:
        if not isinstance(change, dict) or not isinstance(change.get("Entity"), dict) or not change.get("ChangeType"):
            return _client_error(400, "ValidationException", "each change needs a ChangeType and an Entity")
        if not isinstance(change.get("DetailsDocument"), dict):
            return _client_error(400, "ValidationException", "each change needs a DetailsDocument")
    change_set_id = secrets.token_hex(12)
    _store(harness)["change_sets"][change_set_id] = {
        "request": body,
        "describes": 0,
        "errors": _errors(harness, changes),
        "started": datetime.now(UTC),
        "arn": f"arn:aws:aws-marketplace:us-east-1:{ACCOUNT_ID}:AWSMarketplace/ChangeSet/{change_set_id}",
    }
    record = _store(harness)["change_sets"][change_set_id]
    return 200, {}, {"ChangeSetId": change_set_id, "ChangeSetArn": record["arn"]}


def _describe(harness: MotoHarness, change_set_id: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    record = _store(harness)["change_sets"].get(change_set_id)
    if record is None:
        return _client_error(404, "ResourceNotFoundException", f"Change set {change_set_id} not found.")
    record["describes"] += 1
    request = record["request"]
    failed = any(record["errors"])
    status = (
        ["PREPARING", "APPLYING"][record["describes"] - 1]
        if record["describes"] <= 2
        else ("FAILED" if failed else "SUCCEEDED")
    )
    if status == "SUCCEEDED" and request.get("Intent", "APPLY") == "APPLY" and not record.get("applied"):
        _apply(harness, request["ChangeSet"])
        record["applied"] = True
    changes = []
    for change, errors in zip(request["ChangeSet"], record["errors"], strict=True):
        summary = {key: change[key] for key in ("ChangeType", "Entity", "DetailsDocument") if key in change}
        if status == "FAILED":
            summary["ErrorDetailList"] = errors
        changes.append(summary)
    response: dict[str, Any] = {
        "ChangeSetId": change_set_id,
        "ChangeSetArn": record["arn"],
        "ChangeSetName": request.get("ChangeSetName", ""),
        "Intent": request.get("Intent", "APPLY"),
        "StartTime": record["started"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Status": status,
        "ChangeSet": changes,
    }
    if status in ("FAILED", "SUCCEEDED"):
        response["EndTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if status == "FAILED":
        response.update(
            FailureCode="CLIENT_ERROR", FailureDescription="The change set has errors; see ErrorDetailList."
        )
    return 200, {}, response


def _version_document(version: dict[str, Any]) -> dict[str, Any]:
    """One entry of DetailsDocument.Versions, as MachineLearningProductEntityDetail spells it."""
    details = version["details"]
    kind = version["kind"]
    source = {"Type": kind, "Id": version["source_id"]}
    source["AlgorithmArn" if kind == "SageMakerAlgorithm" else "ModelPackageArn"] = version["arn"]
    instructions = {
        "Usage": details.get("UsageInstructions"),
        "SampleNotebookUrl": details.get("SampleNotebookUrl"),
        "RepositoryUrl": details.get("RepositoryUrl"),
        "InputProperties": details.get("InputProperties"),
        "OutputProperties": details.get("OutputProperties"),
    }
    return {
        "Id": version["version_id"],
        "ReleaseNotes": version["release_notes"],
        "VersionTitle": version["title"],
        "CreationDate": version["created"],
        "Sources": [source],
        "DeliveryOptions": [
            {
                "Id": version["id"],
                "Type": kind,
                "SourceId": version["source_id"],
                "ShortDescription": f"{kind} delivery option",
                "Instructions": instructions,
                "RecommendedInstanceTypes": details.get("RecommendedInstanceTypes"),
                "Visibility": version["visibility"],
                "Title": version["title"],
            }
        ],
    }


def _describe_entity(harness: MotoHarness, entity_id: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    listed = _store(harness)["products"].get(entity_id)
    if listed is None:
        return _client_error(404, "ResourceNotFoundException", f"Entity {entity_id} not found.")
    document = {
        "Versions": [_version_document(version) for version in listed["versions"]],
        "Description": {"Visibility": listed["status"], "ProductState": "Active"},
    }
    return (
        200,
        {},
        {
            "EntityType": "MachineLearningProduct@1.0",
            "EntityIdentifier": f"{entity_id}@{len(listed['versions']) + 1}",
            "EntityArn": f"arn:aws:aws-marketplace:us-east-1:{ACCOUNT_ID}:AWSMarketplace/{ML_PRODUCT_PATH}/{entity_id}",
            "LastModifiedDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Details": json.dumps(document),
            "DetailsDocument": document,
        },
    )


def _catalog_app(harness: MotoHarness) -> Any:
    from werkzeug.wrappers import Request, Response

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/StartChangeSet":
            try:
                body = json.loads(request.get_data() or b"{}")
            except ValueError:
                body = {}
            status, headers, payload = _start(harness, body if isinstance(body, dict) else {})
        elif request.path == "/DescribeEntity":
            status, headers, payload = _describe_entity(harness, request.args.get("entityId", ""))
        else:
            status, headers, payload = _describe(harness, request.args.get("changeSetId", ""))
        response = Response(json.dumps(payload), status=status, headers=headers, content_type="application/json")
        return response(environ, start_response)

    return app


def _is_catalog(environ: dict[str, Any]) -> bool:
    """Signed for aws-marketplace (SigV4 credential scope) and one of the Catalog API's paths."""
    scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return len(scope) >= 4 and scope[3] == "aws-marketplace" and environ.get("PATH_INFO") in PATHS


def install(harness: MotoHarness) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    app = _catalog_app(harness)
    original = DomainDispatcherApplication.get_application

    def get_application(self: Any, environ: dict[str, Any]) -> Any:
        return app if _is_catalog(environ) else original(self, environ)

    harness.patch(DomainDispatcherApplication, "get_application", get_application)


def reset(harness: MotoHarness) -> None:
    harness.state.pop(STORE_KEY, None)
