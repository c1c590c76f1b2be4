"""validate's pure parts: the 6 MB payload, the load body, the serving rows and the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_byo.errors import ChecksFailed
from sm_byo.local.ping_load import PingUnderLoad
from sm_byo.local.validate import (
    FAIL,
    LOADS,
    PASS,
    PING_UNDER_LOAD,
    SIX_MB,
    SKIPPED,
    STARTUP,
    ServingProbe,
    ValidationReport,
    _serving_checks,
    load_body,
    raise_for_failures,
    six_mb_payload,
)
from sm_byo.reporting import RecordingReporter


def test_payload_is_the_largest_whole_record_count_within_the_limit(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("1,2,3\n\n4,5,6")  # blank lines are not records; a missing final newline is added
    payload, records = six_mb_payload(source, limit=20)
    assert payload == b"1,2,3\n4,5,6\n1,2,3\n"
    assert records == 3
    payload, records = six_mb_payload(source)
    assert 6 * 1024 * 1024 - 6 < len(payload) <= 6 * 1024 * 1024
    assert records == len(payload.splitlines())


def test_report_fails_when_any_row_fails() -> None:
    report = ValidationReport(image="i")
    reporter = RecordingReporter()
    report.add("training job", PASS, "ok", reporter)
    assert report.passed
    report.add("metric m", FAIL, "never matched", reporter)
    assert not report.passed
    assert [c.name for c in report.failed()] == ["metric m"]
    assert "FAIL    metric m" in report.table()
    assert report.to_dict()["checks"][1] == {"check": "metric m", "status": "fail", "detail": "never matched"}


def failing_report() -> ValidationReport:
    report = ValidationReport(image="i")
    reporter = RecordingReporter()
    report.add("training job", PASS, "Completed", reporter)
    report.add("metric m", FAIL, "never matched", reporter)
    return report


def test_a_failed_check_raises_with_the_text_table_for_json_and_the_rows_for_a_terminal() -> None:
    report = failing_report()
    with pytest.raises(ChecksFailed) as raised:
        raise_for_failures(report)
    error = raised.value
    assert error.message.startswith("1 of 2 validation checks failed (metric m):\n")
    assert "FAIL    metric m" in error.message  # the --json document's message is what it was
    assert error.details == report.to_dict()
    assert "human_view" not in error.to_dict()
    assert error.human_view == {
        "checks": [
            {"check": "training job", "status": "pass", "detail": "Completed"},
            {"check": "metric m", "status": "fail", "detail": "never matched"},
        ]
    }


def test_a_report_without_failures_raises_nothing() -> None:
    report = ValidationReport(image="i")
    report.add("training job", PASS, "Completed", RecordingReporter())
    raise_for_failures(report)


def test_the_load_body_is_each_record_once_within_the_limit(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("1,2,3\n\n4,5,6")
    assert load_body(source, "Line") == b"1,2,3\n4,5,6\n"
    assert load_body(source, "Line", limit=8) == b"1,2,3\n"
    assert load_body(source, "None") == source.read_bytes()
    assert load_body(source, "None", limit=3) == b""


def _rows(probe: ServingProbe, records: int = 10) -> dict[str, tuple[str, str]]:
    report = ValidationReport(image="i")
    _serving_checks(probe, records, 6_000_000, report, RecordingReporter())
    return {check.name: (check.status, check.detail) for check in report.checks}


def test_a_healthy_container_under_load_passes_every_serving_row() -> None:
    load = PingUnderLoad(seconds=5.0, concurrency=4, body_bytes=2000, ping_seconds=[0.004, 0.005, 0.3])
    load.invocations_ok = 4000
    probe = ServingProbe(480, loaded=True, healthy_after=0.8, big_status=200, big_lines=10, ping_load=load)
    rows = _rows(probe)
    assert [status for status, _ in rows.values()] == [PASS, PASS, PASS, PASS]
    assert list(rows) == [LOADS, STARTUP, SIX_MB, PING_UNDER_LOAD]
    assert "0.80 s after the container started" in rows[STARTUP][1] and "480 s" in rows[STARTUP][1]
    assert "p50 5.0 ms, p99 300.0 ms, max 300.0 ms" in rows[PING_UNDER_LOAD][1]
    assert "while 4 clients kept /invocations busy" in rows[PING_UNDER_LOAD][1]


def test_a_ping_over_2_s_under_load_fails_its_row() -> None:
    load = PingUnderLoad(seconds=5.0, concurrency=4, body_bytes=2000, ping_seconds=[0.01, 2.5])
    probe = ServingProbe(480, loaded=True, healthy_after=0.8, big_status=200, big_lines=10, ping_load=load)
    status, detail = _rows(probe)[PING_UNDER_LOAD]
    assert status == FAIL
    assert "max 2500.0 ms" in detail and "1 over 2 s" in detail and "slower than 2 s" in detail


def test_start_up_timeout_and_load_failure_are_told_apart() -> None:
    late = ServingProbe(60, timed_out=True, load_error="the serving container did not become healthy: late\nlog")
    assert _rows(late)[LOADS][0] == SKIPPED
    assert _rows(late)[STARTUP] == (FAIL, "the serving container did not become healthy: late "
                                    "(ContainerStartupHealthCheckTimeoutInSeconds 60 s)")  # fmt: skip
    broken = ServingProbe(480, load_error="model could not be loaded")
    assert _rows(broken)[LOADS] == (FAIL, "model could not be loaded")
    assert _rows(broken)[STARTUP][0] == SKIPPED
    assert SIX_MB not in _rows(broken)
