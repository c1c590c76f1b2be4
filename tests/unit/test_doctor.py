"""`smbyo doctor` as a newcomer meets it: through the CLI, against a dead socket, no credentials, moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.aws.fixtures import aws_env, moto, moto_session  # noqa: F401
from tests.conftest import run_cli

AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL")


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No Docker at DOCKER_HOST, no AWS credentials or region anywhere (empty ~/.aws files, no IMDS)."""
    empty = tmp_path / "empty"
    empty.write_text("", encoding="utf-8")
    for name in (*AWS_VARIABLES, "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    return {
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_CONFIG_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(tmp_path),
    }


def test_dead_docker_and_no_credentials_exit_3_with_the_fixes(bare_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("doctor", cwd=tmp_path, env=bare_env)

    assert result.returncode == 3, result.stderr
    assert "no-docker.sock" in result.stderr
    assert "Start Docker" in result.stderr
    assert "no usable AWS credentials" in result.stderr
    assert "aws configure" in result.stderr
    assert "--region" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_output_lists_every_check_with_its_fix(bare_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("doctor", "--json", cwd=tmp_path, env=bare_env)

    assert result.returncode == 3
    error = json.loads(result.stdout)
    checks = {check["name"]: check for check in error["details"]["checks"]}
    assert checks["docker"]["state"] == "missing"
    assert "DOCKER_HOST" in checks["docker"]["fix"]
    assert checks["aws credentials"]["state"] == "missing"
    assert checks["ecr access"]["state"] == "skipped"
    assert checks["manifest"]["state"] == "skipped"


def test_all_checks_pass_against_moto_and_a_running_docker(
    aws_env: dict[str, str],  # noqa: F811
    docker_adapter: object,
    project: Path,
) -> None:
    result = run_cli("doctor", "--json", cwd=project, env=aws_env)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["docker"].startswith("ok: Docker Engine")
    assert report["aws credentials"] == "ok: account 123456789012"
    assert report["aws region"] == "ok: us-east-1"
    assert "does not exist yet" in report["ecr access"]
    assert report["manifest"].startswith("ok:")


def test_an_invalid_manifest_alone_exits_2_naming_the_field_and_line(
    aws_env: dict[str, str],  # noqa: F811
    docker_adapter: object,
    project: Path,
) -> None:
    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("name: ", "nmae: ", 1), encoding="utf-8")

    result = run_cli("doctor", "-f", str(manifest), cwd=project, env=aws_env)

    assert result.returncode == 2, result.stderr
    assert "smbyo.yaml:2" in result.stderr
    assert "nmae" in result.stderr
