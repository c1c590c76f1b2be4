"""Casting and checking hyperparameters against the manifest's specs.

SageMaker passes every hyperparameter as a string. The same rules run on the host before a job
starts (sm_byo.hyperparameters imports this module) and in the container, so a value is judged
identically in both places.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

TRUE_WORDS = {"true", "1", "yes"}


class HyperparameterError(ValueError):
    """One or more hyperparameters are invalid; ``problems`` maps name -> message."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems.items()))


def _bounds(spec: Mapping[str, Any]) -> str:
    low, high = spec.get("min"), spec.get("max")
    return f"[{'' if low is None else format(low, 'g')}, {'' if high is None else format(high, 'g')}]"


def cast_value(spec: Mapping[str, Any], raw: str) -> Any:
    """One value, as the type the spec declares; ValueError says what is allowed."""
    kind = spec["type"]
    if kind == "Integer":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not an integer; allowed: integers in {_bounds(spec)}") from None
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError(f"{raw!r} is not an integer; allowed: integers in {_bounds(spec)}")
        value: Any = int(number)
        _check_range(spec, value)
        return value
    if kind == "Continuous":
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number; allowed: numbers in {_bounds(spec)}") from None
        if not math.isfinite(value):
            raise ValueError(f"{raw!r} is not a finite number")
        _check_range(spec, value)
        return value
    if kind == "Categorical":
        allowed = spec.get("values") or []
        if raw not in allowed:
            raise ValueError(f"{raw!r} is not one of {allowed}")
        return raw
    return raw


def _check_range(spec: Mapping[str, Any], value: float) -> None:
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{value} is outside the allowed range {_bounds(spec)}")


def resolve(specs: Sequence[Mapping[str, Any]], given: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Validate ``given`` (strings or scalars) against ``specs``, fill defaults.

    Returns the string form SageMaker sends (for hyperparameters.json / CreateTrainingJob) and the
    typed form user code receives. Unknown names are refused, as SageMaker does for an Algorithm,
    except SageMaker's own ``sagemaker_``/``_`` prefixed ones, which pass through as strings.
    """
    by_name = {spec["name"]: spec for spec in specs}
    problems: dict[str, str] = {}
    strings: dict[str, str] = {}
    typed: dict[str, Any] = {}
    for name, value in given.items():
        text = _as_string(value)
        spec = by_name.get(name)
        if spec is None:
            if name.startswith(("sagemaker_", "_")):
                strings[name] = typed[name] = text
            else:
                known = ", ".join(sorted(by_name)) or "none"
                problems[name] = f"unknown hyperparameter (defined: {known})"
            continue
        try:
            typed[name] = cast_value(spec, text)
            strings[name] = text
        except ValueError as exc:
            problems[name] = str(exc)
    for name, spec in by_name.items():
        if name in strings or name in problems:
            continue
        if spec.get("default") is not None:
            strings[name] = spec["default"]
            typed[name] = cast_value(spec, spec["default"])
        elif spec.get("required"):
            problems[name] = "required, and no value was given"
    if problems:
        raise HyperparameterError(problems)
    return strings, typed


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
