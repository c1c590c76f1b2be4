"""Pre-flight of the cloud commands on a new project: the scaffold's placeholders never pass (a --dry-run
without credentials included), and with credentials the role must be the caller's account's (moto server)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sm_byo.rules import PLACEHOLDER_OUTPUT, PLACEHOLDER_ROLE
from tests.aws.fixtures import aws_env, moto, moto_session  # noqa: F401
from tests.aws.harness import ACCOUNT_ID, MotoHarness
from tests.conftest import run_cli
from tests.unit.cloud.test_training_checks import OFFLINE

OTHER_ACCOUNT = "444455556666"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    result = run_cli("init", "algo", cwd=tmp_path, env=OFFLINE)
    assert result.returncode == 0, result.stderr
    return tmp_path / "algo"


def line_of(project: Path, value: str) -> int:
    lines = (project / "smbyo.yaml").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.strip().endswith(value))


def set_validation(project: Path, *, role: str, output: str) -> None:
    """What the tutorial tells the user to do: replace the two placeholder lines."""
    text = (project / "smbyo.yaml").read_text()
    (project / "smbyo.yaml").write_text(text.replace(PLACEHOLDER_ROLE, role).replace(PLACEHOLDER_OUTPUT, output))


def assert_names_both_placeholders(project: Path, stderr: str) -> None:
    role, output = line_of(project, PLACEHOLDER_ROLE), line_of(project, PLACEHOLDER_OUTPUT)
    assert re.search(rf"smbyo\.yaml:{role} validation\.role: still the placeholder `smbyo init` wrote", stderr)
    assert re.search(rf"smbyo\.yaml:{output} validation\.output: bucket 'replace-with-your-bucket' is the", stderr)


def test_publish_dry_run_without_credentials_refuses_both_placeholders(project: Path) -> None:
    for kind in (["algorithm"], ["model-package", "--model-data", "s3://models-of-mine/model.tar.gz"]):
        result = run_cli("publish", *kind, "--dry-run", cwd=project, env=OFFLINE)
        assert result.returncode == 2, result.stderr
        assert_names_both_placeholders(project, result.stderr)


def test_local_commands_ignore_the_placeholders(project: Path) -> None:
    result = run_cli("--json", "train", "--local", "--dry-run", "--data", "training=data/training",
                     cwd=project, env=OFFLINE)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["target"] == "local"


def test_cloud_commands_that_take_the_role_from_the_manifest_refuse_it(project: Path) -> None:
    line = line_of(project, PLACEHOLDER_ROLE)
    for command in (
        ["train", "--data", "training=data/training"],
        ["deploy", "--model", "s3://models-of-mine/model.tar.gz"],
        ["transform", "--model", "s3://models-of-mine/model.tar.gz", "--input", "s3://in-of-mine/", "--output",
         "s3://out-of-mine/"],
    ):  # fmt: skip
        result = run_cli(*command, "--dry-run", cwd=project, env=OFFLINE)
        assert result.returncode == 2, (command, result.stderr)
        assert f"validation.role (smbyo.yaml:{line}): still the placeholder" in result.stderr, command


def test_with_credentials_the_placeholders_are_refused_too(
    project: Path,
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    result = run_cli("publish", "algorithm", "--dry-run", cwd=project, env=aws_env)
    assert result.returncode == 2, result.stderr
    assert_names_both_placeholders(project, result.stderr)


def test_with_credentials_a_role_of_another_account_is_refused(
    project: Path,
    aws_env: dict[str, str],  # noqa: F811
    moto: MotoHarness,  # noqa: F811
) -> None:
    moto.client("s3").create_bucket(Bucket="bucket-of-mine")
    set_validation(project, role=f"arn:aws:iam::{OTHER_ACCOUNT}:role/Theirs", output="s3://bucket-of-mine/v")
    line = line_of(project, f"{OTHER_ACCOUNT}:role/Theirs")
    result = run_cli("publish", "algorithm", "--dry-run", cwd=project, env=aws_env)
    assert result.returncode == 2, result.stderr
    assert (
        f"smbyo.yaml:{line} validation.role: the role is in account {OTHER_ACCOUNT}; these credentials are "
        f"account {ACCOUNT_ID}"
    ) in result.stderr
    assert "validation.output" not in result.stderr

    own = f"arn:aws:iam::{ACCOUNT_ID}:role/Mine"
    result = run_cli("train", "--data", "training=data/training", "--dry-run", "--role",
                     f"arn:aws:iam::{OTHER_ACCOUNT}:role/Theirs", cwd=project, env=aws_env)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"--role: the role is in account {OTHER_ACCOUNT}" in result.stderr

    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace(f"arn:aws:iam::{OTHER_ACCOUNT}:role/Theirs", own))
    result = run_cli("--json", "publish", "algorithm", "--dry-run", cwd=project, env=aws_env)
    assert result.returncode == 0, result.stderr
    request = json.loads(result.stdout)["plan"][-1]["kwargs"]
    assert request["ValidationSpecification"]["ValidationRole"] == own
