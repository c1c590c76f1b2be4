"""moto extension: Marketplace Algorithms and Model Packages with AWS's validation life cycle.

moto has no CreateAlgorithm/DescribeAlgorithm/ListAlgorithms/DeleteAlgorithm, and its model packages
are Completed at once. Here both go through the states AWS shows while it validates a listing, one
step per Describe call: ``Pending`` -> ``InProgress`` -> ``Completed``, with ``ValidationStatuses``
(one item per validation profile) and ``ImageScanStatuses`` (one per image) moving along.

A submission whose image URI contains ``broken`` ends ``Failed``, its validation item carrying a
``FailureReason`` the way AWS words it, so tests can drive the failure path through the real CLI.
Unversioned model packages (a ModelPackageName without a group) live here; grouped ones stay moto's.

A buyer's model package made of an algorithm and its trained model (``SourceAlgorithmSpecification``) is described
with the algorithm's InferenceSpecification, as AWS describes it; DeleteModelPackage removes one. ListModelPackages
(unversioned) and ListTags answer for both kinds, so `smbyo delete project` finds them by their tags.
:func:`container_of` tells the job and endpoint runners (tests/aws/moto_ext.py) what image and model data a
model package stands for, and :func:`algorithm_of` what a training job naming an algorithm runs.
"""

from __future__ import annotations

import copy
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


def _describe(harness: MotoHarness, record: dict[str, Any]) -> dict[str, Any]:
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
    if "SourceAlgorithmSpecification" in request:
        response["InferenceSpecification"] = _inference(harness, request)
    response.update(
        ModelPackageArn=record["arn"],
        CreationTime=record["created"],
        ModelPackageStatus=status,
        ModelPackageStatusDetails=_details(record),
    )
    return response


def stored(harness: MotoHarness, kind: str, name: str) -> dict[str, Any] | None:
    """The request an algorithm or model package was created with, by name or ARN (None if there is none)."""
    record = _store(harness).get((kind, name.rsplit("/", 1)[-1]))
    return None if record is None else dict(record["request"])


def _existing(harness: MotoHarness, kind: str, name: str) -> dict[str, Any]:
    """What a job or model names must exist when the instance starts (the job fails otherwise)."""
    request = stored(harness, kind, name)
    if request is None:
        raise ValueError(f"{kind} {name} does not exist")
    return request


def _inference(harness: MotoHarness, request: dict[str, Any]) -> dict[str, Any]:
    """A package's InferenceSpecification: its own, or its source algorithm's (containers given its model data)."""
    if "InferenceSpecification" in request:
        return dict(request["InferenceSpecification"])
    sources = request.get("SourceAlgorithmSpecification", {}).get("SourceAlgorithms", [])
    algorithm = stored(harness, "algorithm", sources[0]["AlgorithmName"]) if sources else None
    if algorithm is None:
        return {}
    inference = copy.deepcopy(algorithm.get("InferenceSpecification", {}))
    for container in inference.get("Containers", []):
        container["ModelDataUrl"] = sources[0].get("ModelDataUrl")
    return dict(inference)


def container_of(harness: MotoHarness, container: dict[str, Any]) -> dict[str, Any]:
    """A model's container as an instance runs it: a ``ModelPackageName`` becomes the package's image and model."""
    name = container.get("ModelPackageName")
    if not name:
        return container
    inner = _inference(harness, _existing(harness, "model-package", str(name))).get("Containers", [{}])[0]
    return {**{k: v for k, v in container.items() if k != "ModelPackageName"},
            "Image": inner["Image"], "ModelDataUrl": inner["ModelDataUrl"]}  # fmt: skip


def algorithm_of(harness: MotoHarness, specification: dict[str, Any]) -> dict[str, Any]:
    """A training job's AlgorithmSpecification as an instance runs it: an ``AlgorithmName`` becomes the algorithm's
    TrainingImage and MetricDefinitions (the algorithm brings them)."""
    name = specification.get("AlgorithmName")
    if not name:
        return specification
    training = _existing(harness, "algorithm", str(name))["TrainingSpecification"]
    return {"TrainingImage": training["TrainingImage"], "TrainingInputMode": specification["TrainingInputMode"],
            "MetricDefinitions": training.get("MetricDefinitions", [])}  # fmt: skip


def _request_body(response: Any) -> dict[str, Any]:
    """The JSON request as the client sent it (moto's parsed params may be normalised)."""
    params = getattr(response, "params", None)
    if response.body:
        try:
            return dict(json.loads(response.body))
        except ValueError:
            pass
    return dict(params or {})


NEW_ACTIONS = ("create_algorithm", "describe_algorithm", "list_algorithms", "delete_algorithm", "delete_model_package")


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
        return ActionResult(_describe(harness, find("algorithm", self._get_param("AlgorithmName"))))

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
    original_list_packages = SageMakerResponse.list_model_packages
    original_list_tags = SageMakerResponse.list_tags

    def create_model_package(self: Any) -> Any:
        if self._get_param("ModelPackageGroupName"):
            return original_create_package(self)
        record = create(self, "model-package", self._get_param("ModelPackageName"))
        return ActionResult({"ModelPackageArn": record["arn"]})

    def describe_model_package(self: Any) -> Any:
        name = self._get_param("ModelPackageName")
        if ("model-package", name.rsplit("/", 1)[-1]) not in _store(harness):
            return original_describe_package(self)
        return ActionResult(_describe(harness, find("model-package", name)))

    def delete_model_package(self: Any) -> Any:
        name = self._get_param("ModelPackageName")
        find("model-package", name)
        del _store(harness)[("model-package", name.rsplit("/", 1)[-1])]
        return ActionResult({})

    def list_model_packages(self: Any) -> Any:
        """Unversioned packages (ListModelPackages' default type) are this module's; versioned ones moto's."""
        if self._get_param("ModelPackageGroupName") or self._get_param("ModelPackageType") not in (None, "Unversioned"):
            return original_list_packages(self)
        summaries = [
            {"ModelPackageName": name, "ModelPackageArn": record["arn"], "CreationTime": record["created"],
             "ModelPackageStatus": _stage(record)[0]}
            for (kind, name), record in sorted(_store(harness).items()) if kind == "model-package"
        ]  # fmt: skip
        return ActionResult({"ModelPackageSummaryList": summaries})

    def list_tags(self: Any) -> Any:
        """The Tags an algorithm or unversioned model package was created with (ListTags by its ARN)."""
        arn = self._get_param("ResourceArn")
        for record in _store(harness).values():
            if record["arn"] == arn:
                return ActionResult({"Tags": record["request"].get("Tags", [])})
        return original_list_tags(self)

    # New actions: moto dispatches X-Amz-Target "SageMaker.CreateAlgorithm" to create_algorithm.
    for method in (create_algorithm, describe_algorithm, list_algorithms, delete_algorithm, delete_model_package):
        setattr(SageMakerResponse, method.__name__, method)
    harness.patch(SageMakerResponse, "create_model_package", create_model_package)
    harness.patch(SageMakerResponse, "describe_model_package", describe_model_package)
    harness.patch(SageMakerResponse, "list_model_packages", list_model_packages)
    harness.patch(SageMakerResponse, "list_tags", list_tags)


def reset(harness: MotoHarness) -> None:
    _store(harness).clear()


def close(harness: MotoHarness) -> None:
    """The added actions did not exist before: remove them (the patched ones the harness restores)."""
    from moto.sagemaker.responses import SageMakerResponse

    for name in NEW_ACTIONS:
        if name in vars(SageMakerResponse):
            delattr(SageMakerResponse, name)
    harness.state.pop(STORE_KEY, None)
