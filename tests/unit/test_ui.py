"""The rich UI: stdout holds only the result with --json; status changes are shown once, live on a terminal."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from sm_byo.errors import JobFailed
from sm_byo.ui import ConsoleUI


def terminal_ui() -> tuple[ConsoleUI, io.StringIO]:
    ui = ConsoleUI()
    stream = io.StringIO()
    ui.err = Console(file=stream, force_terminal=True, width=100)
    return ui, stream


def test_each_status_change_is_one_history_line_and_the_live_line_ends_with_the_job() -> None:
    ui, stream = terminal_ui()
    for status in ("InProgress", "InProgress", "Completed"):
        ui.status("training job x", status, 3.0)
    assert stream.getvalue().count("training job x: \x1b[33mInProgress") == 1
    assert "Completed" in stream.getvalue()
    assert ui._live is None  # a terminal state stops the live line


def test_no_live_line_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    ui = ConsoleUI()
    ui.status("endpoint e", "Creating", 1.0)
    assert ui._live is None
    assert "endpoint e: Creating (0m01s)" in capsys.readouterr().err


def test_json_mode_writes_only_the_result_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    ui = ConsoleUI(json_mode=True)
    ui.step("Building")
    ui.result({"image": "x:latest"})
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"image": "x:latest"}
    assert "Building" in captured.err


def test_json_mode_errors_are_one_document_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleUI(json_mode=True).error(JobFailed("job j failed", hint="look at the log"))
    captured = capsys.readouterr()
    assert json.loads(captured.out)["exit_code"] == 1
    assert "What to do: look at the log" in captured.err
