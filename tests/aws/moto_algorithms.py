"""moto extension: Marketplace Algorithms and Model Packages with AWS's validation life cycle.

moto has no CreateAlgorithm/DescribeAlgorithm/ListAlgorithms/DeleteAlgorithm, and its model packages
are Completed at once. Here both go through the states AWS shows while it validates a listing, one
step per Describe call: ``Pending`` -> ``InProgress`` -> ``Completed``, with ``ValidationStatuses``
(one item per validation profile) and ``ImageScanStatuses`` (one per image) moving along.

A submission whose image URI contains ``broken`` ends ``Failed``, its validation item carrying a
``FailureReason`` the way AWS words it, so tests can drive the failure path through the real CLI.
Unversioned model packages (a ModelPackageName without a group) live here; grouped ones stay moto's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.aws.harness import MotoHarness

FAILING_IMAGE_MARK = "broken"
FAILURE_REASON = (
    "ClientError: Validation of profile 'validation' failed: the training job "
    "ended Failed: AlgorithmError: metric validation:accuracy was never emitted"
)
STORE_KEY = "marketplace_entities"


def _store(harness: MotoHarness) -> dict[tuple[str, str], dict[str, Any]]:
    store: dict[tuple[str, str], dict[str, Any]] = harness.state.setdefault(STORE_KEY, {})
    return store


def _images(request: dict[str, Any]) -> list[str]:
    images = [c.get("Image", "") for c in request.get("InferenceSpecification", {}).get("Containers", [])]
    training = request.get("TrainingSpecification", {}).get("TrainingImage")
    return ([training] if training else []) + [image for image in images if image != training]


def _stage(record: dict[str, Any]) -> tuple[str, str, str]:
    """(entity status, validation item status, image scan status) after this many Describe calls."""
    step = record["describes"]
    failing = any(FAILING_IMAGE_MARK in image for image in _images(record["request"]))
    if step <= 1:
        return "Pending", "NotStarted", "NotStarted"
    if step == 2:
        return "InProgress", "InProgress", "Completed"
    return ("Failed", "Failed", "Completed") if failing else ("Completed", "Completed", "Completed")


def _details(record: dict[str, Any]) -> dict[str, Any]:
    _, validation, scan = _stage(record)
    profiles = record["request"].get("ValidationSpecification", {}).get("ValidationProfiles", [])
    statuses = []
    for profile in profiles:
        item = {"Name": profile.get("ProfileName", "validation"), "Status": validation}
        if validation == "Failed":
            item["FailureReason"] = FAILURE_REASON
        statuses.append(item)
    return {
        "ValidationStatuses": statuses,
        "ImageScanStatuses": [{"Name": image, "Status": scan} for image in _images(record["request"])],
    }


def _describe(record: dict[str, Any]) -> dict[str, Any]:
    record["describes"] += 1
    status = _stage(record)[0]
    request = record["request"]
    if record["kind"] == "algorithm":
        response = {key: value for key, value in request.items() if key != "Tags"}
        response.update(
            AlgorithmArn=record["arn"],
            CreationTime=record["created"],
            AlgorithmStatus=status,
            AlgorithmStatusDetails=_details(record),
        )
        return response
    response = {key: value for key, value in request.items() if key not in ("Tags", "ClientToken")}
    response.update(
        ModelPackageArn=record["arn"],
        CreationTime=record["created"],
        ModelPackageStatus=status,
        ModelPackageStatusDetails=_details(record),
    )
    return response


def _request_body(response: Any) -> dict[str, Any]:
    """The JSON request as the client sent it (moto's parsed params may be normalised)."""
    params = getattr(response, "params", None)
    if response.body:
        try:
            return dict(json.loads(response.body))
        except ValueError:
            pass
    return dict(params or {})


NEW_ACTIONS = ("create_algorithm", "describe_algorithm", "list_algorithms", "delete_algorithm")


def install(harness: MotoHarness) -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    def create(self: Any, kind: str, name: str) -> dict[str, Any]:
        store = _store(harness)
        if (kind, name) in store:
            raise ValidationError(message=f"Cannot create already existing {kind} {name!r}.")
        resource = "algorithm" if kind == "algorithm" else "model-package"
        record = {
            "kind": kind,
            "request": _request_body(self),
            "describes": 0,
            "arn": f"arn:aws:sagemaker:{self.region}:{self.current_account}:{resource}/{name.lower()}",
            "created": datetime.now(UTC),
        }
        store[(kind, name)] = record
        return record

    def find(kind: str, name: str) -> dict[str, Any]:
        record = _store(harness).get((kind, name.rsplit("/", 1)[-1]))
        if record is None:
            raise ValidationError(message=f"{kind} {name} does not exist.")
        return record

    def create_algorithm(self: Any) -> Any:
        record = create(self, "algorithm", self._get_param("AlgorithmName"))
        return ActionResult({"AlgorithmArn": record["arn"]})

    def describe_algorithm(self: Any) -> Any:
        return ActionResult(_describe(find("algorithm", self._get_param("AlgorithmName"))))

    def list_algorithms(self: Any) -> Any:
        summaries = []
        for (kind, name), record in sorted(_store(harness).items()):
            if kind == "algorithm":
                summaries.append(
                    {
                        "AlgorithmName": name,
                        "AlgorithmArn": record["arn"],
                        "CreationTime": record["created"],
                        "AlgorithmStatus": _stage(record)[0],
                    }
                )
        return ActionResult({"AlgorithmSummaryList": summaries})

    def delete_algorithm(self: Any) -> Any:
        name = self._get_param("AlgorithmName")
        find("algorithm", name)
        del _store(harness)[("algorithm", name)]
        return ActionResult({})

    original_create_package = SageMakerResponse.create_model_package
    original_describe_package = SageMakerResponse.describe_model_package

    def create_model_package(self: Any) -> Any:
        if self._get_param("ModelPackageGroupName"):
            return original_create_package(self)
        record = create(self, "model-package", self._get_param("ModelPackageName"))
        return ActionResult({"ModelPackageArn": record["arn"]})

    def describe_model_package(self: Any) -> Any:
        name = self._get_param("ModelPackageName")
        if ("model-package", name.rsplit("/", 1)[-1]) not in _store(harness):
            return original_describe_package(self)
        return ActionResult(_describe(find("model-package", name)))

    # New actions: moto dispatches X-Amz-Target "SageMaker.CreateAlgorithm" to create_algorithm.
    for method in (create_algorithm, describe_algorithm, list_algorithms, delete_algorithm):
        setattr(SageMakerResponse, method.__name__, method)
    harness.patch(SageMakerResponse, "create_model_package", create_model_package)
    harness.patch(SageMakerResponse, "describe_model_package", describe_model_package)


def reset(harness: MotoHarness) -> None:
    _store(harness).clear()


def close(harness: MotoHarness) -> None:
    """The added actions did not exist before: remove them (the patched ones the harness restores)."""
    from moto.sagemaker.responses import SageMakerResponse

    for name in NEW_ACTIONS:
        if name in vars(SageMakerResponse):
            delattr(SageMakerResponse, name)
    harness.state.pop(STORE_KEY, None)
