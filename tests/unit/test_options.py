"""The options' own rules: which model a transform or an endpoint serves (exactly one source, or exit 2)."""

from __future__ import annotations

import pytest

from sm_byo.errors import UsageError
from sm_byo.options import DeployCommand, TransformCommand

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/trees"
MODEL = "s3://my-bucket/model.tar.gz"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({}, "no model to serve: give --model or --model-package"),
        ({"algorithm": "trees"}, "--algorithm trees needs the model it trained: give --model"),
        ({"model_package": PACKAGE, "model": MODEL}, f"--model-package {PACKAGE} and --model"),
        ({"model_package": PACKAGE, "algorithm": "trees"}, f"--model-package {PACKAGE} and --algorithm"),
    ],
)
def test_a_transform_serves_exactly_one_model(given: dict[str, str], says: str) -> None:
    with pytest.raises(UsageError) as refused:
        TransformCommand(input="s3://b/in", output="s3://b/out", **given)
    assert refused.value.exit_code == 2 and says in refused.value.message


def test_an_endpoint_serves_a_package_or_an_algorithm_s_model() -> None:
    assert DeployCommand(model_package=PACKAGE).model_package == PACKAGE
    assert DeployCommand(algorithm="trees", model_data=MODEL).algorithm == "trees"
    with pytest.raises(UsageError, match="a model package brings its own model"):
        DeployCommand(model_package=PACKAGE, model_data=MODEL)
