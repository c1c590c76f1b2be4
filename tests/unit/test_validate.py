"""validate's pure parts: the 6 MB payload and the report."""

from __future__ import annotations

from pathlib import Path

from sm_byo.reporting import RecordingReporter
from sm_byo.validate import FAIL, PASS, ValidationReport, six_mb_payload


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
