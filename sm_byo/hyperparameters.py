"""Host-side hyperparameter validation: refuse a bad value before any container or job starts.

SageMaker checks an Algorithm's hyperparameters against its specs at CreateTrainingJob; smbyo does
the same locally, with the very rules the container uses (``sm_byo.runtime.hyperparameters``), so a
value is judged identically on the host, in the container and by AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import HyperparameterSpec, Manifest
from sm_byo.runtime.hyperparameters import HyperparameterError, resolve


def spec_dicts(manifest: Manifest) -> list[dict[str, Any]]:
    """The manifest's hyperparameter specs in the form the runtime's ``resolve`` reads."""
    training = manifest.training
    return [spec.model_dump() for spec in (training.hyperparameters if training else [])]


def _allowed(spec: HyperparameterSpec | None) -> str:
    if spec is None:
        return ""
    if spec.type == "Categorical":
        return f"one of {spec.values}"
    if spec.type in ("Integer", "Continuous"):
        kind = "an integer" if spec.type == "Integer" else "a number"
        low = "-inf" if spec.min is None else _number(spec.min)
        high = "inf" if spec.max is None else _number(spec.max)
        return f"{kind} in [{low}, {high}]"
    return "any string"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def validate_hyperparameters(manifest: Manifest, given: Mapping[str, Any]) -> dict[str, str]:
    """Validate ``given`` against the manifest and fill defaults; returns the strings SageMaker sends.

    Raises :class:`UsageError` (exit 2) naming every bad hyperparameter and what it allows.
    """
    try:
        strings, _typed = resolve(spec_dicts(manifest), given)
    except HyperparameterError as exc:
        specs = {spec.name: spec for spec in (manifest.training.hyperparameters if manifest.training else [])}
        lines = []
        for name, problem in exc.problems.items():
            allowed = _allowed(specs.get(name))
            lines.append(f"  -H {name}: {problem}" + (f" (allowed: {allowed})" if allowed else ""))
        noun = "hyperparameter is" if len(lines) == 1 else "hyperparameters are"
        raise UsageError(
            f"{len(lines)} {noun} invalid:\n" + "\n".join(lines),
            hint="Fix the -H NAME=VALUE values (or training.hyperparameters in smbyo.yaml); "
            "SageMaker would refuse this training job too.",
            details={"hyperparameters": exc.problems},
        ) from None
    return strings
