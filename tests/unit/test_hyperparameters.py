"""Host-side hyperparameter validation: the same rules as the container, refused with exit 2."""

from __future__ import annotations

import pytest

from sm_byo.errors import UsageError
from sm_byo.hyperparameters import validate_hyperparameters
from sm_byo.manifest import HyperparameterSpec, Manifest, TrainingSpec


def _manifest(*specs: HyperparameterSpec) -> Manifest:
    return Manifest(name="algo", training=TrainingSpec(hyperparameters=list(specs)))


LEAVES = HyperparameterSpec(name="max_leaf_nodes", type="Integer", min=2, max=100000, default="100")
RATE = HyperparameterSpec(name="rate", type="Continuous", min=0.0, max=1.0, required=True)
KIND = HyperparameterSpec(name="kind", type="Categorical", values=["gini", "entropy"], default="gini")


def test_defaults_are_filled_and_every_value_is_a_string() -> None:
    assert validate_hyperparameters(_manifest(LEAVES, KIND), {}) == {"max_leaf_nodes": "100", "kind": "gini"}
    assert validate_hyperparameters(_manifest(LEAVES), {"max_leaf_nodes": 7}) == {"max_leaf_nodes": "7"}


def test_out_of_range_names_the_hyperparameter_and_the_allowed_range() -> None:
    with pytest.raises(UsageError) as caught:
        validate_hyperparameters(_manifest(LEAVES), {"max_leaf_nodes": "1"})
    assert caught.value.exit_code == 2
    assert "max_leaf_nodes" in caught.value.message
    assert "[2, 100000]" in caught.value.message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(UsageError) as caught:
        validate_hyperparameters(_manifest(LEAVES, RATE, KIND), {"max_leaf_nodes": "2.5", "kind": "chaos", "oops": "1"})
    message = caught.value.message
    for expected in ("max_leaf_nodes", "rate: required", "kind", "'gini', 'entropy'", "oops: unknown hyperparameter"):
        assert expected in message
    assert caught.value.details["hyperparameters"].keys() == {"max_leaf_nodes", "rate", "kind", "oops"}


def test_sagemaker_reserved_names_pass_through() -> None:
    values = validate_hyperparameters(_manifest(LEAVES), {"sagemaker_program": "x"})
    assert values["sagemaker_program"] == "x"


def test_integer_ranges_are_shown_as_integers() -> None:
    from sm_byo.runtime.hyperparameters import HyperparameterError, resolve

    spec = {"name": "max_leaf_nodes", "type": "Integer", "min": 2.0, "max": 100000.0}
    with pytest.raises(HyperparameterError) as caught:
        resolve([spec], {"max_leaf_nodes": "1"})
    assert caught.value.problems["max_leaf_nodes"] == "1 is outside the range [2, 100000]"
