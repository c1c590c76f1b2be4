"""Sending a plan's SageMaker requests, and undoing a half-made plan.

A plan that creates several resources (deploy: a model, an endpoint config, an endpoint; transform:
a model, then the job) can fail half-way. :class:`Created` records what this run created, and only
that, as each create call returns; when a later step fails, :meth:`Created.sweep` deletes those
resources in reverse order and the error says what was deleted and what could not be. Something that
existed before the run (the endpoint config a failed CreateEndpointConfig collided with) is never
recorded, so it is never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sm_byo.aws import AwsAdapter, marketplace
from sm_byo.errors import SmByoError
from sm_byo.reporting import Reporter
from sm_byo.specs.request import Request


@dataclass(frozen=True)
class _Kind:
    """How to send one create operation and how to delete what it made."""

    noun: str  # as `smbyo delete` lists it: model/NAME, endpoint-config/NAME, endpoint/NAME
    name_key: str
    create: Callable[[AwsAdapter, dict[str, Any]], dict[str, Any]]
    delete: Callable[[AwsAdapter, str], None] | None


OPERATIONS: Mapping[str, _Kind] = {
    # A buyer's model package of an algorithm and its trained model (transform/deploy --algorithm).
    "CreateModelPackage": _Kind(
        "model-package", "ModelPackageName", marketplace.create_model_package, marketplace.delete_model_package
    ),
    "CreateModel": _Kind("model", "ModelName", AwsAdapter.create_model, AwsAdapter.delete_model),
    "CreateEndpointConfig": _Kind(
        "endpoint-config",
        "EndpointConfigName",
        AwsAdapter.create_endpoint_config,
        AwsAdapter.delete_endpoint_config,
    ),
    "CreateEndpoint": _Kind("endpoint", "EndpointName", AwsAdapter.create_endpoint, AwsAdapter.delete_endpoint),
    # A job is not deleted (SageMaker keeps every job's record); it is the last step of its plan.
    "CreateTransformJob": _Kind("transform-job", "TransformJobName", AwsAdapter.create_transform_job, None),
}


@dataclass
class Created:
    """What this run created, in order; :meth:`send` records, :meth:`sweep` deletes in reverse."""

    aws: AwsAdapter
    made: list[tuple[str, str]] = field(default_factory=list)  # (operation, resource name)

    def send(self, request: Request) -> dict[str, Any]:
        """Make ``request``'s create call; the resource is recorded only once AWS has created it."""
        kind = OPERATIONS[request.operation]
        response = kind.create(self.aws, dict(request.kwargs))
        self.made.append((request.operation, str(request.kwargs[kind.name_key])))
        return response

    def sweep(self, reporter: Reporter) -> tuple[list[str], list[str]]:
        """Delete what this run created, newest first: (deleted, could not be deleted, with why)."""
        deleted: list[str] = []
        left: list[str] = []
        for operation, name in reversed(self.made):
            kind = OPERATIONS[operation]
            label = f"{kind.noun}/{name}"
            if kind.delete is None:
                continue
            reporter.step(f"Deleting {label} (created by this run)")
            try:
                kind.delete(self.aws, name)
            except SmByoError as exc:
                left.append(f"{label}: {exc.message}")
                continue
            deleted.append(label)
        self.made.clear()
        return deleted, left

    @contextmanager
    def undone_on_failure(self, reporter: Reporter) -> Iterator[Created]:
        """Run the create steps; if one fails, sweep, tell the user in the error, and re-raise it."""
        try:
            yield self
        except BaseException as exc:
            if not self.made:
                raise
            deleted, left = self.sweep(reporter)
            if isinstance(exc, SmByoError):
                _tell(exc, deleted, left)
            raise


def _tell(error: SmByoError, deleted: list[str], left: list[str]) -> None:
    """Add the clean-up to the error's hint and details (the JSON document carries both)."""
    said = []
    if deleted:
        said.append(f"Deleted what this run had created: {', '.join(deleted)}.")
    if left:
        said.append(f"Could not delete: {'; '.join(left)} (delete it by hand).")
    error.hint = " ".join([*said, error.hint or ""]).strip()
    error.details = {**error.details, "cleanup": {"deleted": deleted, "not_deleted": left}}
