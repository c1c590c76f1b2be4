"""Check a request against botocore's service model (SageMaker's, or another service's), offline: no client, no network.

botocore's own ``ParamValidator`` (run by every client before sending) checks required fields,
types, unknown keys and minimums. The service model also carries the constraints AWS enforces on
the server but botocore does not check: patterns, enums, maximum lengths, maximum list sizes and
maximum values. Both are checked here so that a request AWS would reject fails before it is sent,
with every violation at once. Each violation carries the path of the offending value in the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

RequestPath = tuple[str | int, ...]
SERVICE = "sagemaker"
# Patterns of a service model that contradict the value AWS documents for the field, so they are not enforced.
# marketplace-catalog's EntityType says ^[a-zA-Z]+$, but every change the Catalog API documents names a versioned
# entity type, "MachineLearningProduct@1.0" / "Offer@1.0"
# (https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-add-version.html); the listing rules check it.
UNENFORCED_PATTERNS = frozenset({("marketplace-catalog", "EntityType")})


@dataclass(frozen=True)
class Violation:
    """One value of a request that AWS (or botocore) would reject."""

    path: RequestPath
    message: str


@lru_cache(maxsize=4)
def _service_model(service: str = SERVICE) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def enum_values(shape_name: str) -> list[str]:
    """The allowed values of an enum shape, e.g. ``TrainingInstanceType``."""
    return list(_service_model().shape_for(shape_name).enum)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    """AWS patterns use Java regex syntax; about 18 SageMaker patterns need the ``regex`` package
    (``\\p{L}``, surrogate ranges). Those that neither engine understands are skipped (None)."""
    try:
        return re.compile(pattern)
    except re.error:
        pass
    try:
        import regex
    except ImportError:
        return None
    try:
        return regex.compile(pattern)
    except Exception:
        return None


def _parse_botocore_name(name: str) -> RequestPath:
    """``A.B[0].C`` (a name as botocore's validator reports it) -> ``("A", "B", 0, "C")``."""
    path: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", name):
        path.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(path)


def _botocore_violations(params: Mapping[str, Any], shape: Shape) -> list[Violation]:
    report = ParamValidator().validate(params, shape)
    found = []
    # botocore exposes only a joined report; its per-error list and formatter are the same ones it uses.
    for error in report._errors:
        kind, name, extra = error
        path = _parse_botocore_name(name) if name else ()
        if kind == "missing required field":
            path = (*path, extra["required_name"])
        elif kind == "unknown field":
            path = (*path, extra["unknown_param"])
        message = report._format_error(error)
        found.append(Violation(path, message))
    return found


def _scalar_violations(value: Any, shape: Shape, path: RequestPath, service: str) -> Iterator[Violation]:
    meta = shape.metadata
    if isinstance(value, str):
        if shape.enum and value not in shape.enum:
            allowed = ", ".join(shape.enum[:12]) + (", ..." if len(shape.enum) > 12 else "")
            yield Violation(path, f"{value!r} is not one of the values AWS accepts ({allowed})")
        if "max" in meta and len(value) > meta["max"]:
            yield Violation(path, f"is {len(value)} characters long; AWS accepts at most {meta['max']}")
        pattern = meta.get("pattern") if (service, shape.name) not in UNENFORCED_PATTERNS else None
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            yield Violation(path, f"{value!r} does not match the pattern AWS requires: {pattern}")
    elif isinstance(value, int | float) and not isinstance(value, bool) and "max" in meta and value > meta["max"]:
        yield Violation(path, f"{value} is above the maximum AWS accepts ({meta['max']})")


def _constraint_violations(value: Any, shape: Shape, path: RequestPath, service: str) -> Iterator[Violation]:
    """What botocore leaves to the server: patterns, enums, maximums (walks the whole request)."""
    if isinstance(shape, StructureShape) and isinstance(value, Mapping):
        for key, member in value.items():
            if key in shape.members:
                yield from _constraint_violations(member, shape.members[key], (*path, key), service)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        limit = shape.metadata.get("max")
        if limit is not None and len(value) > limit:
            yield Violation(path, f"has {len(value)} items; AWS accepts at most {limit}")
        for index, item in enumerate(value):
            yield from _constraint_violations(item, shape.member, (*path, index), service)
    elif isinstance(shape, MapShape) and isinstance(value, Mapping):
        limit = shape.metadata.get("max")
        if limit is not None and len(value) > limit:
            yield Violation(path, f"has {len(value)} entries; AWS accepts at most {limit}")
        for key, item in value.items():
            yield from _scalar_violations(key, shape.key, (*path, key), service)
            yield from _constraint_violations(item, shape.value, (*path, key), service)
    else:
        yield from _scalar_violations(value, shape, path, service)


def is_sagemaker_operation(operation: str) -> bool:
    """True for an operation of SageMaker's API (``CreateTrainingJob``), False for e.g. a plan's upload."""
    return is_operation(SERVICE, operation)


def is_operation(service: str, operation: str) -> bool:
    """True for an operation of ``service``'s API (``marketplace-catalog``'s ``StartChangeSet``)."""
    return operation in _service_model(service).operation_names


def check_request(operation: str, params: Mapping[str, Any], service: str = SERVICE) -> list[Violation]:
    """Every reason botocore or AWS would reject ``params`` for ``operation`` (e.g. ``CreateAlgorithm``)."""
    shape = _service_model(service).operation_model(operation).input_shape
    assert shape is not None
    return _botocore_violations(params, shape) + list(_constraint_violations(params, shape, (), service))
