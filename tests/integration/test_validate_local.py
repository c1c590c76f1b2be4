"""validate --local with the real image: passes on the example, fails with the right row when broken."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from sm_byo.build import build_image
from sm_byo.local.validate import FAIL, PASS, SKIPPED, validate_local
from sm_byo.manifest import load_manifest
from sm_byo.reporting import RecordingReporter
from tests.conftest import ca_bundle, run_cli
from tests.integration.local_helpers import local_containers, smbyo_temp_dirs, stop_with_signal

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
        "works with no network access (network isolation)": PASS,
        "batch transform": PASS,
        "one output line per input record": PASS,
    }
    assert report.to_dict()["network_isolation"] is True  # buyers' conditions, by default
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


def test_sigterm_stops_the_whole_profile_and_leaves_nothing_behind(
    example_image: str, project: Path, tmp_path: Path
) -> None:
    """A stop signal during the training job ends validate (it does not go on to serve and transform as if
    the job had failed), with the container and the temporary trees removed."""
    rows = (project / "data" / "training" / "iris.csv").read_text()
    (project / "data" / "training" / "iris.csv").write_text(rows * 8000)  # a job long enough to be stopped
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    ended = stop_with_signal(
        ["validate", "--local", "--image", example_image],
        cwd=project, tmpdir=tmpdir, ready=r"Training (\S+) locally", signals=[signal.SIGTERM],
        when=lambda match: bool(local_containers(**{"dev.smbyo.job": match.group(1)})),
    )  # fmt: skip
    assert ended.returncode == 143, ended.stderr
    assert "interrupted by SIGTERM" in ended.stderr
    assert "Serving the trained model" not in ended.stderr  # the profile ended there
    assert local_containers(**{"dev.smbyo.job": ended.match.group(1)}) == []
    assert smbyo_temp_dirs(tmpdir) == []
