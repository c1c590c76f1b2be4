"""validate --local with the real image: passes on the example, fails with the right row when broken."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sm_byo.build import build_image
from sm_byo.local.validate import FAIL, PASS, SKIPPED, validate_local
from sm_byo.manifest import load_manifest
from sm_byo.reporting import RecordingReporter
from tests.conftest import ca_bundle, run_cli

pytestmark = pytest.mark.docker

BROKEN_TAG = "smbyo-pub-broken-predictor:latest"


def rows(report: dict) -> dict[str, str]:
    return {row["check"]: row["status"] for row in report["checks"]}


def test_example_passes_every_check(example_image: str, docker_adapter, project: Path) -> None:  # type: ignore[no-untyped-def]
    reporter = RecordingReporter()
    report = validate_local(
        load_manifest(project / "smbyo.yaml"), reporter, image=example_image, startup_timeout=60, docker=docker_adapter
    )
    statuses = rows(report.to_dict())
    assert statuses == {
        "training job": PASS,
        "metric validation:accuracy": PASS,
        "inference image loads the trained model": PASS,
        "/ping healthy within the start-up health check timeout": PASS,
        "6 MB payload accepted": PASS,
        "/ping answers within 2 s under load": PASS,
        "batch transform": PASS,
        "one output line per input record": PASS,
    }
    assert report.metrics["validation:accuracy"] > 0.5
    assert ("check: 6 MB payload accepted", "PASS", None) in reporter.of_kind("status")
    details = {check.name: check.detail for check in report.checks}
    startup = details["/ping healthy within the start-up health check timeout"]
    assert "ContainerStartupHealthCheckTimeoutInSeconds 60 s" in startup
    under_load = details["/ping answers within 2 s under load"]
    assert "clients kept /invocations busy" in under_load and "p50" in under_load and "p99" in under_load
    assert "0 over 2 s, 0 failed" in under_load


def test_metric_regex_that_never_matches_fails_its_row_exit_1(example_image: str, project: Path) -> None:
    """The regexes come from the manifest, so this needs no rebuild."""
    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace("validation-accuracy: ", "val-acc= "))
    result = run_cli("--json", "validate", "--local", "--image", example_image, cwd=project)
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)
    assert error["error"] == "ChecksFailed"
    statuses = rows(error["details"])
    assert statuses["metric validation:accuracy"] == FAIL
    assert statuses["training job"] == PASS
    assert statuses["batch transform"] == PASS
    assert "never matched the training log" in result.stderr


@pytest.fixture
def broken_predictor_image(docker_adapter, base_image: str, project: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The example with a predictor that looks for a file training never writes (one extra build)."""
    predictor = project / "predictor.py"
    predictor.write_text(predictor.read_text().replace('"model.npz"', '"weights.npz"'))
    build_image(
        load_manifest(project / "smbyo.yaml"),
        RecordingReporter(),
        tag=BROKEN_TAG,
        base_image=base_image,
        network="host",
        ca_bundle=ca_bundle(),
        docker=docker_adapter,
    )
    yield BROKEN_TAG
    docker_adapter.client.images.remove(BROKEN_TAG, force=True)


def test_predictor_that_cannot_read_the_model_fails_the_load_row(
    broken_predictor_image: str,
    project: Path,
) -> None:
    result = run_cli("--json", "validate", "--local", "--image", broken_predictor_image, cwd=project)
    assert result.returncode == 1, result.stderr
    statuses = rows(json.loads(result.stdout)["details"])
    assert statuses["training job"] == PASS
    assert statuses["inference image loads the trained model"] == FAIL
    assert statuses["batch transform"] == SKIPPED
    assert "weights.npz" in result.stderr
