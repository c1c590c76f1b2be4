"""sm_byo.reporting: reporters that wrap another."""

from __future__ import annotations

from sm_byo.reporting import RecordingReporter, WarnOnce


def test_warn_once_says_each_distinct_warning_once_and_forwards_everything_else() -> None:
    recorded = RecordingReporter()
    reporter = WarnOnce(recorded)
    reporter.warn("network isolation is off")
    reporter.step("Batch transform")
    reporter.warn("network isolation is off")  # the next job of the same run says it again
    reporter.warn("input: 1 hidden file")
    reporter.log("algo-1", "line")
    reporter.status("job", "Completed", 1.5)
    reporter.progress("upload", 1, 2)
    reporter.detail("step 1/9")
    assert recorded.of_kind("warn") == [("network isolation is off",), ("input: 1 hidden file",)]
    assert [kind for kind, _ in recorded.events] == ["warn", "step", "warn", "log", "status", "progress", "detail"]
