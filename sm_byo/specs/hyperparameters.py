"""SupportedHyperParameters (HyperParameterSpecification) from ``training.hyperparameters``, and the
hyperparameters an algorithm declares (:class:`Declared`: the manifest's, or a published algorithm's, see
``sm_byo.specs.published``) with the one judgement of -H values against them that ``train`` and ``tune`` share."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import HyperparameterSpec, TrainingSpec
from sm_byo.runtime.hyperparameters import HyperparameterError, resolve
from sm_byo.specs.request import Origin, RequestPath, at


def bound(value: float, integer: bool) -> str:
    """SageMaker takes range bounds as strings; Integer bounds must not carry a '.0'."""
    return str(int(value)) if integer else repr(float(value))


def parameter_range(spec: HyperparameterSpec) -> dict[str, Any] | None:
    """The Range member, or None when the manifest gives no range (FreeText, or an open numeric range)."""
    if spec.type == "Categorical" and spec.values:
        return {"CategoricalParameterRangeSpecification": {"Values": list(spec.values)}}
    if spec.type in ("Integer", "Continuous") and spec.min is not None and spec.max is not None:
        integer = spec.type == "Integer"
        key = "IntegerParameterRangeSpecification" if integer else "ContinuousParameterRangeSpecification"
        return {key: {"MinValue": bound(spec.min, integer), "MaxValue": bound(spec.max, integer)}}
    return None


def hyperparameter_specification(spec: HyperparameterSpec) -> dict[str, Any]:
    """One SupportedHyperParameters item."""
    item: dict[str, Any] = {"Name": spec.name, "Type": spec.type}
    if spec.description:
        item["Description"] = spec.description
    value_range = parameter_range(spec)
    if value_range is not None:
        item["Range"] = value_range
    item["IsTunable"] = spec.tunable
    item["IsRequired"] = spec.required
    if spec.default is not None:
        item["DefaultValue"] = spec.default
    return item


_MEMBER_FIELDS = {
    "Name": "name",
    "Type": "type",
    "Description": "description",
    "IsTunable": "tunable",
    "IsRequired": "required",
    "DefaultValue": "default",
}


def supported_hyperparameters(
    training: TrainingSpec, base: RequestPath, origins: dict[RequestPath, Origin]
) -> list[dict[str, Any]]:
    """Every SupportedHyperParameters item; records each item's and member's manifest field in ``origins``."""
    items = []
    for index, spec in enumerate(training.hyperparameters):
        loc: Origin = ("training", "hyperparameters", index)
        origins[at(base, index)] = loc
        for member, field_name in _MEMBER_FIELDS.items():
            origins[at(base, index, member)] = (*loc, field_name)
        origins[at(base, index, "Range")] = (*loc, "values" if spec.type == "Categorical" else "min")
        items.append(hyperparameter_specification(spec))
    return items


# --- what an algorithm declares, and -H judged against it -----------------------------------------


@dataclass(frozen=True)
class Declared:
    """A hyperparameter as the algorithm declares it (the manifest, or a published TrainingSpecification)."""

    name: str
    type: str
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    tunable: bool = False
    required: bool = False
    default: str | None = None
    scaling: str | None = None
    origin: Origin = ()  # the manifest field, or the flag naming the published algorithm
    where: str = ""  # how a message names the declaration

    def runtime_spec(self) -> dict[str, Any]:
        """The shape ``sm_byo.runtime.hyperparameters`` judges values with (one verdict everywhere)."""
        return {"name": self.name, "type": self.type, "min": self.min, "max": self.max,
                "values": list(self.values) if self.values is not None else None,
                "default": self.default, "required": self.required}  # fmt: skip

    def allowed(self) -> str:
        if self.type == "Categorical":
            return f"one of {', '.join(self.values or ())}"
        low = "-inf" if self.min is None else bound(self.min, self.type == "Integer")
        high = "inf" if self.max is None else bound(self.max, self.type == "Integer")
        return f"{low} to {high}"


def declared_in_manifest(spec: TrainingSpec) -> dict[str, Declared]:
    found = {}
    for index, item in enumerate(spec.hyperparameters):
        origin: Origin = ("training", "hyperparameters", index)
        found[item.name] = Declared(
            name=item.name, type=item.type, min=item.min, max=item.max,
            values=tuple(item.values) if item.values is not None else None, tunable=item.tunable,
            required=item.required, default=item.default, scaling=item.scaling, origin=origin,
            where=f"the manifest's training.hyperparameters[{index}] ({item.name})",
        )  # fmt: skip
    return found


def hyperparameter_values(
    declared: Mapping[str, Declared],
    given: Mapping[str, str],
    *,
    tuned: Collection[str] = (),
    kind: str = "",
    hint: str,
) -> dict[str, str]:
    """-H values judged by the runtime's rule (every name declared, each value of its type and range, every
    required one given), with the declared defaults of every hyperparameter not ``tuned``; exit 2 listing every
    bad one. ``kind`` names them in the message ("static" for a tuning job's)."""
    specs = [item.runtime_spec() for name, item in declared.items() if name not in tuned]
    try:
        strings, _typed = resolve(specs, given)
    except HyperparameterError as exc:
        lines = [f"  -H {name}: {problem}" + (f" ({declared[name].where} allows {declared[name].allowed()})"
                                              if name in declared else "")
                 for name, problem in exc.problems.items()]  # fmt: skip
        noun = "hyperparameter is" if len(lines) == 1 else "hyperparameters are"
        raise UsageError(
            f"{len(lines)} {kind + ' ' if kind else ''}{noun} invalid:\n" + "\n".join(lines),
            hint=hint,
            details={"hyperparameters": exc.problems},
        ) from None
    return strings
