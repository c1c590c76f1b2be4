"""A request as data: the boto3 operation, its exact kwargs, and where each value came from.

Builders record, for request paths, the manifest field (or command-line flag) that produced the
value, so a check that rejects ``TrainingSpecification.SupportedHyperParameters[3].DefaultValue``
can tell the user to fix ``training.hyperparameters[3].default`` at line 31 of smbyo.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RequestPath = tuple[str | int, ...]
# A manifest location such as ("training", "hyperparameters", 0, "default"), or a flag: ("--image",).
Origin = tuple[str | int, ...]


def at(base: RequestPath, *parts: str | int) -> RequestPath:
    """``at(("A", 0), "B")`` -> ``("A", 0, "B")``: a request path below ``base``."""
    return (*base, *parts)


def is_flag(origin: Origin) -> bool:
    """True when the value came from a command-line flag rather than the manifest."""
    return bool(origin) and isinstance(origin[0], str) and origin[0].startswith("--")


@dataclass
class Request:
    """One AWS call to make: ``client.<method>(**kwargs)``, with provenance for every value."""

    operation: str
    kwargs: dict[str, Any]
    origins: dict[RequestPath, Origin] = field(default_factory=dict)
    service: str = "sagemaker"  # the botocore service the operation belongs to (e.g. marketplace-catalog)

    def origin_of(self, path: RequestPath) -> Origin:
        """The manifest field or flag behind ``path``: the deepest recorded prefix of it.

        Lists are copied item by item, so trailing list indices carry over to the manifest field
        (``SupportedTrainingInstanceTypes[1]`` -> ``training.instance_types[1]``).
        """
        for end in range(len(path), -1, -1):
            if path[:end] in self.origins:
                origin = self.origins[path[:end]]
                rest = path[end:]
                if rest and not is_flag(origin) and all(isinstance(part, int) for part in rest):
                    return (*origin, *rest)
                return origin
        return ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"operation": self.operation, "kwargs": self.kwargs}
        if self.service != "sagemaker":
            data["service"] = self.service
        return data
