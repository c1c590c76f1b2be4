"""SupportedHyperParameters (HyperParameterSpecification) from ``training.hyperparameters``."""

from __future__ import annotations

from typing import Any

from sm_byo.manifest import HyperparameterSpec, TrainingSpec
from sm_byo.specs.request import Origin, RequestPath, at


def _bound(value: float, integer: bool) -> str:
    """SageMaker takes range bounds as strings; Integer bounds must not carry a '.0'."""
    return str(int(value)) if integer else repr(float(value))


def parameter_range(spec: HyperparameterSpec) -> dict[str, Any] | None:
    """The Range member, or None when the manifest gives no range (FreeText, or an open numeric range)."""
    if spec.type == "Categorical" and spec.values:
        return {"CategoricalParameterRangeSpecification": {"Values": list(spec.values)}}
    if spec.type in ("Integer", "Continuous") and spec.min is not None and spec.max is not None:
        integer = spec.type == "Integer"
        key = "IntegerParameterRangeSpecification" if integer else "ContinuousParameterRangeSpecification"
        return {key: {"MinValue": _bound(spec.min, integer), "MaxValue": _bound(spec.max, integer)}}
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
