"""The permission table covers every AWS call the adapter can make, and nothing it does not make.

The calls are read from the adapter's source (sm_byo/aws/*.py): each runs inside ``translated("service:Op")``,
either with the label written out or built by a helper (``_sagemaker("Op", ...)``, ``_call(aws, "Op", ...)``)
from its ``operation`` argument; the helper's calls are followed to find every operation it is given.
"""

from __future__ import annotations

import ast
import json

import botocore.session
import pytest

from sm_byo.aws.permissions import (
    CALLER_ACTIONS,
    PASS_ROLE,
    caller_actions,
    caller_policy,
    execution_role_policy,
    execution_role_trust_policy,
)
from tests.conftest import REPO

ADAPTER = REPO / "sm_byo" / "aws"


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments (``SERVICE = "marketplace-catalog"``)."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _template(label: ast.JoinedStr, constants: dict[str, str]) -> tuple[str, str]:
    """``f"sagemaker:{operation}"`` -> ``("sagemaker:", "operation")``; a constant's value is filled in."""
    prefix, parameter = "", ""
    for part in label.values:
        if isinstance(part, ast.Constant):
            prefix += str(part.value)
        elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name):
            name = part.value.id
            if name in constants:
                prefix += constants[name]
            else:
                parameter = name
    return prefix, parameter


def _operations_passed(tree: ast.Module, helper: ast.FunctionDef, parameter: str) -> list[str]:
    """Every string constant given for ``parameter`` in the module's calls of ``helper``."""
    names = [arg.arg for arg in helper.args.args]
    index = names.index(parameter) - (1 if names and names[0] == "self" else 0)
    found = []
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or _called_name(call) != helper.name:
            continue
        given = [kw.value for kw in call.keywords if kw.arg == parameter] or call.args[index : index + 1]
        assert given and isinstance(given[0], ast.Constant), f"{helper.name} called without a literal {parameter}"
        found.append(str(given[0].value))
    return found


def adapter_calls() -> set[str]:
    """Every ``service:Operation`` label in sm_byo/aws/."""
    labels: set[str] = set()
    for path in sorted(ADAPTER.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constants(tree)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef) or function.name == "translated":
                continue
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and _called_name(call) == "translated" and call.args):
                    continue
                label = call.args[0]
                if isinstance(label, ast.Constant):
                    labels.add(str(label.value))
                elif isinstance(label, ast.JoinedStr):
                    prefix, parameter = _template(label, constants)
                    if prefix.endswith(":") and parameter:
                        labels |= {prefix + op for op in _operations_passed(tree, function, parameter)}
    return {label for label in labels if ":" in label and " " not in label}


def test_the_scan_finds_calls_of_each_style() -> None:
    calls = adapter_calls()
    assert "s3:CreateBucket" in calls  # a label written out
    assert "sagemaker:CreateTrainingJob" in calls  # AwsAdapter._sagemaker("CreateTrainingJob", ...)
    assert "sagemaker:CreateAlgorithm" in calls  # marketplace._call(aws, "CreateAlgorithm", ...)
    assert "marketplace-catalog:StartChangeSet" in calls  # catalog._call with f"{SERVICE}:{operation}"


def test_every_call_the_adapter_makes_has_its_permissions_listed() -> None:
    missing = adapter_calls() - set(CALLER_ACTIONS)
    assert not missing, f"add these calls to sm_byo/aws/permissions.py CALLER_ACTIONS: {sorted(missing)}"


def client_methods_called() -> dict[str, set[str]]:
    """``{method name: {service:Operation, ...}}`` for every botocore operation method the adapter's source names,
    as an attribute (``ecr.describe_repositories(...)``) or a string (``get_paginator("list_objects_v2")``,
    ``getattr(client, "start_change_set")``), whether or not its call is labelled."""
    from botocore import xform_name

    session = botocore.session.get_session()
    operations: dict[str, set[str]] = {}
    for service in sorted({label.split(":")[0] for label in CALLER_ACTIONS}):
        for operation in session.get_service_model(service).operation_names:
            operations.setdefault(xform_name(operation), set()).add(f"{service}:{operation}")
    found: dict[str, set[str]] = {}
    for path in sorted(ADAPTER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = node.attr if isinstance(node, ast.Attribute) else None
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                name = node.value
            if name in operations:
                found[name] = operations[name]
    return found


def test_every_client_method_the_adapter_names_has_its_permissions_listed() -> None:
    """A raw client call that skipped the labelled wrapper would still be caught here."""
    methods = client_methods_called()
    assert "describe_repositories" in methods and "list_objects_v2" in methods and "start_change_set" in methods
    unlisted = {name: labels for name, labels in methods.items() if not labels & set(CALLER_ACTIONS)}
    assert not unlisted, f"add these calls to sm_byo/aws/permissions.py CALLER_ACTIONS: {unlisted}"


def test_no_permission_is_listed_for_a_call_the_adapter_does_not_make() -> None:
    unused = set(CALLER_ACTIONS) - adapter_calls()
    assert not unused, f"no AWS call uses these entries of CALLER_ACTIONS: {sorted(unused)}"


@pytest.mark.parametrize("label", sorted(CALLER_ACTIONS))
def test_each_label_is_an_operation_of_its_service(label: str) -> None:
    service, operation = label.split(":")
    model = botocore.session.get_session().get_service_model(service)
    assert operation in model.operation_names


def test_calls_that_hand_sagemaker_the_role_need_pass_role() -> None:
    for label in ("CreateTrainingJob", "CreateModel", "CreateAlgorithm", "CreateModelPackage"):
        assert PASS_ROLE in CALLER_ACTIONS[f"sagemaker:{label}"]
    statements = caller_policy()["Statement"]
    assert PASS_ROLE not in statements[0]["Action"]
    assert statements[1]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_caller_policy_includes_what_a_publish_needs() -> None:
    actions = caller_actions()
    for needed in ("s3:CreateBucket", "sagemaker:CreateTrainingJob", "sagemaker:CreateAlgorithm", "ecr:PutImage"):
        assert needed in actions
    assert "sts:GetCallerIdentity" not in actions  # AWS authorises it for every caller


def test_the_execution_role_policy_is_assumable_by_sagemaker_and_pulls_from_ecr() -> None:
    trust = execution_role_trust_policy()["Statement"][0]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    actions = {action for statement in execution_role_policy()["Statement"] for action in statement["Action"]}
    assert {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "logs:PutLogEvents", "s3:GetObject"} <= actions


def test_the_policies_in_the_docs_are_the_generated_ones() -> None:
    generated = {
        "caller-policy.json": caller_policy(),
        "execution-role-trust-policy.json": execution_role_trust_policy(),
        "execution-role-policy.json": execution_role_policy(),
    }
    for name, policy in generated.items():
        on_disk = json.loads((REPO / "docs" / "policies" / name).read_text(encoding="utf-8"))
        assert on_disk == policy, f"docs/policies/{name} is stale: run `python scripts/docs_gen.py`"
    page = (REPO / "docs" / "aws-setup.md").read_text(encoding="utf-8")
    for name in generated:
        assert f'--8<-- "docs/policies/{name}"' in page
