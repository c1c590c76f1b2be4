"""publish's pure parts: the result shapes and the status-detail reporting."""

from __future__ import annotations

from sm_byo.cloud.publish import ALGORITHM, MODEL_PACKAGE, DetailReporter, PublishResult, publish_failed, status_items
from sm_byo.reporting import RecordingReporter


def description(validation: str, reason: str | None = None) -> dict:
    item = {"Name": "validation", "Status": validation}
    if reason:
        item["FailureReason"] = reason
    return {
        "AlgorithmStatus": "InProgress",
        "AlgorithmStatusDetails": {
            "ValidationStatuses": [item],
            "ImageScanStatuses": [{"Name": "img", "Status": "Completed"}],
        },
    }


def test_result_lists_failure_reasons() -> None:
    rows = status_items(ALGORITHM, description("Failed", "ClientError: boom"))
    result = PublishResult("algorithm", "a", {}, status="Failed", details=rows)
    assert result.to_dict()["failure_reasons"] == ["validation validation: ClientError: boom"]
    assert rows[1] == {"check": "image scan", "name": "img", "status": "Completed"}


def test_each_item_is_reported_once_per_change() -> None:
    reporter = RecordingReporter()
    follow = DetailReporter(ALGORITHM, "a", reporter)
    for status in ("NotStarted", "InProgress", "InProgress", "Failed"):
        follow(description(status, "bad" if status == "Failed" else None))
    shown = [args[1] for args in reporter.of_kind("status") if "validation validation" in str(args[0])]
    assert shown == ["NotStarted", "InProgress", "Failed: bad"]
    scans = [args for args in reporter.of_kind("status") if "image scan" in str(args[0])]
    assert len(scans) == 1


def test_model_package_details_key() -> None:
    rows = status_items(MODEL_PACKAGE, {"ModelPackageStatusDetails": {"ValidationStatuses": [{"Name": "v"}]}})
    assert rows == [{"check": "validation", "name": "v", "status": ""}]


def test_a_name_fixed_in_the_manifest_is_used_as_is(project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from tests.conftest import run_cli

    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace("  certify: true", "  certify: true\n  algorithm_name: trees-v2"))
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees-sample:latest"
    empty = tmp_path / "empty"
    empty.write_text("")
    no_credentials = {"AWS_SHARED_CREDENTIALS_FILE": str(empty), "AWS_CONFIG_FILE": str(empty)}
    result = run_cli(
        "--json", "publish", "algorithm", "--dry-run", "-f", str(manifest), "--image", image,
        env={"AWS_DEFAULT_REGION": "us-east-1", **no_credentials},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)["plan"]
    (request,) = [step["kwargs"] for step in plan if step["operation"] == "CreateAlgorithm"]
    assert request["AlgorithmName"] == "trees-v2"


def test_a_fixed_name_must_follow_the_sagemaker_pattern(project) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import run_cli

    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace("  certify: true", "  certify: true\n  algorithm_name: trees_v2"))
    result = run_cli("publish", "algorithm", "--dry-run", "-f", str(manifest))
    assert result.returncode == 2
    assert "marketplace.algorithm_name: 'trees_v2' is not a valid SageMaker name" in result.stderr


def test_a_failed_publish_shows_its_status_rows_and_keeps_its_json_message() -> None:
    rows = status_items(ALGORITHM, description("Failed", "ClientError: boom"))
    error = publish_failed(PublishResult("algorithm", "a-1", {}, status="Failed", details=rows))
    assert error.message == "algorithm a-1 ended Failed:\n  - validation validation: ClientError: boom"
    assert error.details["checks"] == rows
    assert error.human_view == {"checks": rows}
    assert "human_view" not in error.to_dict()


def test_a_failure_without_rows_prints_its_message_whole() -> None:
    error = publish_failed(PublishResult("model package", "m-1", {}, status="Failed"))
    assert error.message == "model package m-1 ended Failed:\n  - AWS gave no FailureReason"
    assert error.human_view is None
