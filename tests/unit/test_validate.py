"""validate's pure parts: the 6 MB payload and the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_byo.errors import ChecksFailed
from sm_byo.reporting import RecordingReporter
from sm_byo.validate import FAIL, PASS, ValidationReport, raise_for_failures, six_mb_payload


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
