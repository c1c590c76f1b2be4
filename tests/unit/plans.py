"""Running ``smbyo ... --dry-run`` in this process with neither Docker nor AWS credentials, and judging
the printed plan with botocore's own validator and the service model's constraints."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from sm_byo.aws.service_model import check_request
from sm_byo.cli import main
from tests.conftest import EXAMPLE_DIR

REGION = "us-east-1"


def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere, no reachable AWS endpoint and no Docker Engine."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")


def smbyo(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """``smbyo ARGS --json`` in this process: the exit code and the JSON document on stdout."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main([*args, "--json"])
    out = capsys.readouterr().out
    return int(exited.value.code or 0), json.loads(out)


def example_copy(tmp_path: Path) -> Path:
    """The manifest of a copy of the example project (its data included), free to edit."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE_DIR, project)
    return project / "smbyo.yaml"


def local_dry_run(
    capsys: pytest.CaptureFixture[str], command: str, manifest: Path, *flags: str
) -> tuple[int, dict[str, Any]]:
    """``smbyo COMMAND --local --dry-run`` on ``manifest``'s project: its training data, --out beside it."""
    return smbyo(
        capsys, command, "--local", "--dry-run", "-f", str(manifest),
        "--data", f"training={manifest.parent / 'data' / 'training'}", "--out", str(manifest.parent / "out"), *flags,
    )  # fmt: skip


def botocore_errors(operation: str, kwargs: dict[str, Any], service: str = "sagemaker") -> str:
    """botocore's ParamValidator report for ``kwargs`` (empty when botocore would send the request)."""
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    return ParamValidator().validate(kwargs, shape).generate_report()


def assert_plan_accepted(plan: dict[str, Any], *, local: bool = False) -> list[str]:
    """Every request of a printed plan (SageMaker's, or the service it names) passes botocore's validator and the
    service model's patterns, enums and maximums; a local plan may name data as file:// URIs. Returns the
    operations."""
    operations = []
    for step in plan["plan"]:
        operation, kwargs, service = step["operation"], step["kwargs"], step.get("service", "sagemaker")
        operations.append(operation)
        if operation == "Upload":
            assert not local and kwargs["Destination"].startswith("s3://")
            continue
        assert botocore_errors(operation, kwargs, service) == "", operation
        violations = check_request(operation, kwargs, service)
        if local:
            violations = [v for v in violations if not _value(kwargs, v.path).startswith("file://")]
        assert violations == [], (operation, violations)
    return operations


def _value(kwargs: dict[str, Any], path: tuple[str | int, ...]) -> str:
    value: Any = kwargs
    for part in path:
        value = value[part]
    return str(value)
