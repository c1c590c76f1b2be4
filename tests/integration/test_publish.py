"""publish algorithm / model-package end to end: the CLI in a subprocess against moto's server.

moto is extended (tests/aws/moto_algorithms.py) with AWS's validation life cycle, one step per
Describe: Pending -> InProgress -> Completed, or Failed with a FailureReason for an image whose URI
contains "broken".
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from sm_byo.aws import connect
from sm_byo.cloud.publish import ALGORITHM, follow
from sm_byo.reporting import RecordingReporter
from tests.aws.fixtures import aws_env, moto, moto_session  # noqa: F401
from tests.aws.harness import ACCOUNT_ID, REGION, MotoHarness
from tests.conftest import REPO, run_cli

REPOSITORY = "decision-trees-sample"
ECR = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}"
BROKEN = f"{ECR}:broken"
MODEL = "s3://my-bucket/models/model.tar.gz"


def publish(project: Path, env: dict[str, str], *args: str) -> tuple[int, dict, str]:
    result = run_cli("--json", "publish", *args, cwd=project, env=env)
    return result.returncode, json.loads(result.stdout), result.stderr


def test_algorithm_completes_with_the_pushed_image_and_uploaded_data(
    project: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    moto.client("ecr").create_repository(repositoryName=REPOSITORY)
    code, result, stderr = publish(project, aws_env, "algorithm")
    assert code == 0, stderr
    assert result["status"] == "Completed"
    assert result["arn"].startswith(f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:algorithm/decision-trees-sample-")
    assert {"check": "validation", "name": "validation", "status": "Completed"} in result["checks"]
    assert "InProgress" in stderr and "Completed" in stderr
    sagemaker = moto.client("sagemaker")
    described = sagemaker.describe_algorithm(AlgorithmName=result["name"])
    assert described["TrainingSpecification"]["TrainingImage"] == f"{ECR}:latest"
    # image.inference: the example's serve-only image is the one the algorithm's buyers' endpoints pull
    assert [c["Image"] for c in described["InferenceSpecification"]["Containers"]] == [f"{ECR}:latest-inference"]
    profile = described["ValidationSpecification"]["ValidationProfiles"][0]
    uri = profile["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    keys = [item["Key"] for item in moto.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert keys == [f"{prefix}iris.csv"]
    names = [item["AlgorithmName"] for item in sagemaker.list_algorithms()["AlgorithmSummaryList"]]
    assert names == [result["name"]]


def test_algorithm_failed_validation_exits_1_with_the_failure_reason(
    project: Path,
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    code, error, stderr = publish(project, aws_env, "algorithm", "--image", BROKEN)
    assert code == 1, stderr
    assert error["error"] == "JobFailed"
    assert "ended Failed" in error["message"]
    assert "metric validation:accuracy was never emitted" in error["message"]
    assert error["details"]["failure_reasons"]


def test_model_package_completes_and_fails(
    project: Path,
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    code, result, stderr = publish(project, aws_env, "model-package", "--model-data", MODEL, "--image", f"{ECR}:v1")
    assert code == 0, stderr
    assert result["kind"] == "model-package" and result["status"] == "Completed"
    code, error, stderr = publish(project, aws_env, "model-package", "--model-data", MODEL, "--image", BROKEN)
    assert code == 1, stderr
    assert "FailureReason" not in error["message"] and "never emitted" in error["message"]


def test_no_wait_then_smbyo_wait_resumes(
    project: Path,
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    code, result, stderr = publish(project, aws_env, "algorithm", "--image", f"{ECR}:v1", "--no-wait")
    assert code == 0, stderr
    assert result["status"] == "Submitted"
    waited = run_cli("--json", "wait", "algorithm", result["name"], cwd=project, env=aws_env)
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["status"] == "Completed"


def test_each_validation_item_is_reported_as_it_changes(
    project: Path,
    moto: MotoHarness,  # noqa: F811
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    """In process, with a sleep that does not wait: every item's transitions are reported once, in order."""
    code, result, _ = publish(project, aws_env, "algorithm", "--image", f"{ECR}:v1", "--no-wait")
    assert code == 0
    reporter = RecordingReporter()
    outcome = follow(ALGORITHM, result["name"], connect(), reporter, timeout=None, sleep=lambda _s: None)
    assert outcome.status == "Completed"
    validation = [s[1] for s in reporter.of_kind("status") if str(s[0]).endswith("validation validation")]
    assert validation == ["NotStarted", "InProgress", "Completed"]
    scans = [s[1] for s in reporter.of_kind("status") if "image scan" in str(s[0])]
    assert scans == ["NotStarted", "Completed"]


TIMESTAMP = re.compile(r"\d{4}(-\d{2}){5}-\d{3}")


def _normalized(text: str) -> str:
    """One line, single spaces, every name's timestamp alike: what a terminal's width and the clock change."""
    return " ".join(TIMESTAMP.sub("<timestamp>", text).split())


def _documented_failure() -> tuple[str, list[str]]:
    """The command and the captured output segments (between `...` lines) of troubleshooting.md's entry."""
    page = (REPO / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    entry = page[page.index("## A publish ended `Failed`") :]
    block = entry[entry.index("```text\n") + len("```text\n") : entry.index("\n```\n")]
    command, *lines = block.splitlines()
    segments, current = [], []
    for line in lines:
        if line == "...":
            segments.append("\n".join(current))
            current = []
        else:
            current.append(line)
    segments.append("\n".join(current))
    return command.removeprefix("$ "), [segment for segment in segments if segment]


def test_the_troubleshooting_entry_for_a_failed_publish_is_what_smbyo_prints(
    project: Path,
    aws_env: dict[str, str],  # noqa: F811
) -> None:
    """The documented messages stay true: the same command (with the stand-in's failing image) prints them."""
    command, segments = _documented_failure()
    assert command == "smbyo publish algorithm"
    args = [*shlex.split(command)[1:], "--image", BROKEN]
    result = run_cli(*args, cwd=project, env={**aws_env, "COLUMNS": "110"})
    assert result.returncode == 1, result.stderr
    printed = _normalized(result.stderr)
    for segment in segments:
        assert _normalized(segment) in printed, (
            f"docs/troubleshooting.md shows:\n{segment}\nsmbyo printed:\n{result.stderr}"
        )
