"""sm_byo.rules: the placeholder values `smbyo init` writes never pass, whose account a resource is in, and the
name patterns hold for the whole value."""

from __future__ import annotations

import pytest

from sm_byo.rules import (
    PLACEHOLDER_OUTPUT,
    PLACEHOLDER_ROLE,
    PLACEHOLDER_ROLE_NAME,
    account_mismatch,
    channel_name_problem,
    debian_package_problem,
    instance_type_problem,
    name_problem,
    role_problem,
    s3_uri_problem,
)
from sm_byo.specs.training import LOCAL_ROLE


def test_the_scaffold_role_is_refused_with_the_fix() -> None:
    problem = role_problem(PLACEHOLDER_ROLE)
    assert problem is not None
    assert "placeholder `smbyo init` wrote" in problem
    assert "arn:aws:iam::<your account id>:role/<role name>" in problem


def test_a_real_account_with_the_placeholder_role_name_is_still_refused() -> None:
    assert role_problem(f"arn:aws:iam::444455556666:role/{PLACEHOLDER_ROLE_NAME}") is not None


def test_real_roles_pass_the_example_account_included() -> None:
    # 123456789012 is the tests' AWS stand-in's account (and AWS's examples'): a role there is not a placeholder
    assert role_problem("arn:aws:iam::123456789012:role/SageMakerRole") is None
    assert role_problem("arn:aws:iam::444455556666:role/service-role/AmazonSageMaker-ExecutionRole") is None
    assert role_problem(LOCAL_ROLE) is None  # the stand-in role of local plans shares the placeholder's account


def test_the_scaffold_output_bucket_is_refused_under_any_prefix() -> None:
    for uri in (PLACEHOLDER_OUTPUT, f"{PLACEHOLDER_OUTPUT}/algo/input/training/", "s3://replace-with-your-bucket"):
        problem = s3_uri_problem(uri)
        assert problem is not None and "placeholder `smbyo init` wrote in validation.output" in problem, uri
    assert s3_uri_problem("s3://my-bucket/smbyo-validation") is None
    assert s3_uri_problem("s3://replace-with-your-bucket-2/x") is None


def test_account_mismatch_names_both_accounts() -> None:
    assert account_mismatch("123456789012", "123456789012") is None
    assert account_mismatch("444455556666", "123456789012") == (
        "in account 444455556666; these credentials are account 123456789012"
    )


@pytest.mark.parametrize(
    ("problem", "value"),
    [(name_problem, "iris-trees"), (channel_name_problem, "training"), (instance_type_problem, "ml.m5.large"),
     (debian_package_problem, "libgomp1")],
)  # fmt: skip
def test_a_trailing_newline_or_space_is_refused(problem: object, value: str) -> None:
    """A pattern ending in ``$`` also matches before a final newline under ``re.match``; the value must match whole
    (a YAML block scalar or a pasted flag brings the newline in)."""
    assert callable(problem)
    assert problem(value) is None
    for hostile in (value + "\n", value + " ", "\n" + value, ""):
        assert problem(hostile) is not None, repr(hostile)
