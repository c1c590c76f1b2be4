"""Casting and checking hyperparameters against the manifest's specs: the one rule for a value.

SageMaker passes every hyperparameter as a string. This module is the only judge of such a string:
the container casts with it, and on the host the manifest's defaults (``sm_byo.manifest``), ``-H``
values (``sm_byo.hyperparameters``) and pre-flight of CreateAlgorithm's defaults and validation
profile (``sm_byo.preflight``) all ask :func:`value_problem`, so one value gets one verdict everywhere.

Numbers are read as AWS reads them, not as Python's ``int``/``float`` do: an Integer is digits with an
optional sign (``"2.0"``, ``"1_000"`` and ``" 2"`` are not integers to SageMaker's Java services, which
parse with ``Integer.parseInt``), a Continuous value a plain decimal with an optional exponent (no
``nan``, ``inf`` or underscores). IntegerParameterRange and ContinuousParameterRange in the API
reference: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_IntegerParameterRange.html
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

TRUE_WORDS = {"true", "1", "yes"}
INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


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
        if not INTEGER.fullmatch(raw):
            raise ValueError(f"{raw!r} is not an integer; allowed: integers in {_bounds(spec)}")
        value: Any = int(raw)
        _check_range(spec, value)
        return value
    if kind == "Continuous":
        if not DECIMAL.fullmatch(raw):
            raise ValueError(f"{raw!r} is not a number; allowed: numbers in {_bounds(spec)}")
        value = float(raw)
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


def value_problem(spec: Mapping[str, Any], raw: str) -> str | None:
    """Why ``raw`` is not a valid value for ``spec`` (None when it is): the verdict every layer uses."""
    try:
        cast_value(spec, raw)
    except ValueError as exc:
        return str(exc)
    return None


def _check_range(spec: Mapping[str, Any], value: float) -> None:
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{value} is outside the range {_bounds(spec)}")


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
