"""A plan: the requests a command will make, in order, checked before any of them is made.

``smbyo train``, ``transform``, ``deploy`` and ``publish`` each build one plan from the manifest and
the options (``sm_byo.specs``). Whether it runs on SageMaker or in local Docker, the plan is the
same kind of data: SageMaker requests (the boto3 keyword arguments) and, for the cloud, the uploads
of local data that come first. ``publish listing``'s plan is one AWS Marketplace Catalog API request
(target ``marketplace-catalog``). ``--dry-run`` prints it; every plan passes pre-flight first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sm_byo.manifest import LoadedManifest
from sm_byo.preflight import Ownership, ensure_plan_acceptable
from sm_byo.specs.request import Request

Target = Literal["sagemaker", "local", "marketplace-catalog"]
UPLOAD = "Upload"  # not a SageMaker operation: local data copied under an S3 prefix before the requests


def upload_step(source: str, destination: str, flag: str) -> Request:
    """The upload of a local file or directory that a cloud plan's requests then read from S3."""
    return Request(UPLOAD, {"Source": source, "Destination": destination}, {("Source",): (flag,)})


@dataclass(frozen=True)
class Plan:
    """Ordered requests for one executor (SageMaker, or local Docker)."""

    target: Target
    requests: tuple[Request, ...]
    notes: tuple[str, ...] = field(default=())

    def check(
        self, loaded: LoadedManifest, *, registries: frozenset[str] = frozenset(), ownership: Ownership | None = None
    ) -> Plan:
        """Pre-flight every request (exit 2 listing every problem); returns the plan to chain.

        ``registries``: the account's ECR registry hosts as ECR reported them (see ``rules.ecr_image_problem``);
        ``ownership``: the caller's account and the buckets it may not write to (``sm_byo.cloud.session``).
        """
        local = self.target == "local"
        ensure_plan_acceptable(loaded, list(self.requests), local=local, registries=registries, ownership=ownership)
        return self

    def request(self, operation: str) -> Request:
        """The plan's (first) request for ``operation``."""
        for request in self.requests:
            if request.operation == operation:
                return request
        raise KeyError(operation)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"dry_run": True, "target": self.target, "plan": [r.to_dict() for r in self.requests]}
        if self.notes:
            data["notes"] = list(self.notes)
        return data
