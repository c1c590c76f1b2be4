"""`smbyo doctor` as a newcomer meets it: through the CLI, against a dead socket, no credentials, moto."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from sm_byo import doctor
from sm_byo.doctor import Check
from sm_byo.errors import SmByoError
from sm_byo.reporting import RecordingReporter
from sm_byo.ui import ConsoleUI
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


# --- the checklist: one line per check, each fix once ----------------------------------------------

DOCKER_FIX = "Start Docker (systemctl start docker) or point DOCKER_HOST at a running Engine."
REGION_FIX = "Pass --region, or set AWS_REGION."


def failing_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Docker down, no region, the rest fine: the checks themselves are tested above, through the CLI."""
    monkeypatch.setattr(doctor, "check_docker", lambda: Check("docker", "missing", "no Engine at /x.sock", DOCKER_FIX))
    monkeypatch.setattr(
        doctor,
        "check_aws",
        lambda *_args: (
            Check("aws region", "missing", "no AWS region is configured", REGION_FIX),
            Check("aws credentials", "ok", "account 123456789012"),
            Check("ecr access", "skipped", "needs an AWS region"),
        ),
    )
    monkeypatch.setattr(doctor, "check_manifest", lambda _path: (Check("manifest", "ok", "smbyo.yaml is valid"), None))


def doctor_error(monkeypatch: pytest.MonkeyPatch) -> tuple[SmByoError, RecordingReporter]:
    failing_checks(monkeypatch)
    reporter = RecordingReporter()
    with pytest.raises(SmByoError) as raised:
        doctor.run_doctor(reporter)
    return raised.value, reporter


def test_checks_are_not_also_reported_as_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    _error, reporter = doctor_error(monkeypatch)
    assert [kind for kind, _args in reporter.events] == ["step"]  # the checklist is shown once, by the error


def test_the_terminal_shows_a_checklist_and_each_fix_once(monkeypatch: pytest.MonkeyPatch) -> None:
    error, _reporter = doctor_error(monkeypatch)
    ui = ConsoleUI()
    stream = io.StringIO()
    ui.err = Console(file=stream, width=120)
    ui.error(error)
    text = stream.getvalue()

    lines = {line.split()[1] if line.split()[0] in "✓✗-" else "": line for line in text.splitlines()}
    assert lines["docker"].split()[0] == "✗" and "no Engine at /x.sock" in lines["docker"]
    assert [line.split()[0] for line in text.splitlines()[1:6]] == ["✗", "✓", "✗", "-", "✓"]
    for once in (DOCKER_FIX, REGION_FIX, "no Engine at /x.sock", "no AWS region is configured"):
        assert text.count(once) == 1, text
    assert "smbyo doctor found problems: 2 of 5 checks failed\n" in text


def test_the_json_error_keeps_its_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    error, _reporter = doctor_error(monkeypatch)
    document = error.to_dict()
    assert set(document) == {"error", "message", "exit_code", "hint", "details"}
    assert document["exit_code"] == 3
    assert document["message"].splitlines()[1:] == [
        "  docker: no Engine at /x.sock",
        "  aws region: no AWS region is configured",
    ]
    assert document["hint"] == f"\n  docker: {DOCKER_FIX}\n  aws region: {REGION_FIX}"
    assert [set(check) for check in document["details"]["checks"]] == [{"name", "state", "found", "fix", "kind"}] * 5


def test_success_is_a_checklist_for_a_person_and_the_same_json_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "check_docker", lambda: Check("docker", "ok", "Docker Engine 27.0 (API 1.46)"))
    monkeypatch.setattr(
        doctor,
        "check_aws",
        lambda *_args: (
            Check("aws region", "ok", "us-east-1"),
            Check("aws credentials", "ok", "account 123456789012"),
            Check("ecr access", "ok", "registry r"),
        ),
    )
    monkeypatch.setattr(doctor, "check_manifest", lambda _path: (Check("manifest", "skipped", "no smbyo.yaml"), None))
    report = doctor.run_doctor(RecordingReporter())
    assert report.to_dict() == {
        "docker": "ok: Docker Engine 27.0 (API 1.46)",
        "aws credentials": "ok: account 123456789012",
        "aws region": "ok: us-east-1",
        "ecr access": "ok: registry r",
        "manifest": "skipped: no smbyo.yaml",
    }
    ui = ConsoleUI()
    stream = io.StringIO()
    ui.out = Console(file=stream, width=120)
    ui.result(report.to_dict(), title="smbyo doctor", view=report.human_view())
    rows = [line.split(maxsplit=1) for line in stream.getvalue().splitlines()[2:]]
    assert [mark for mark, _rest in rows] == ["✓", "✓", "✓", "✓", "-"]
    assert rows[0][1].split() == ["docker", "Docker", "Engine", "27.0", "(API", "1.46)"]


def test_the_cli_prints_each_fix_once(bare_env: dict[str, str], tmp_path: Path) -> None:
    wide = {"PYTHONIOENCODING": "utf-8", "COLUMNS": "400"}  # no wrapping inside the long socket path
    result = run_cli("doctor", cwd=tmp_path, env={**bare_env, **wide})

    assert result.returncode == 3, result.stderr
    assert result.stderr.count("Start Docker") == 1, result.stderr
    assert result.stderr.count("aws configure") == 1, result.stderr
    assert result.stderr.count("no-docker.sock") == 1, result.stderr
    docker_line = next(line for line in result.stderr.splitlines() if "no-docker.sock" in line)
    assert docker_line.split()[:2] == ["✗", "docker"]
