"""The rich UI: stdout holds only the result with --json; status changes are shown once, live on a terminal."""

from __future__ import annotations

import io
import json
import os

import pytest
from rich.console import Console

from sm_byo.errors import ChecksFailed, JobFailed
from sm_byo.ui import LOG_WIDTH, ConsoleUI, log_width, printable


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


# --- results for a person: lists of mappings as tables, marks per status ---------------------------

CHECKS = {
    "passed": False,
    "image": "algo:latest",
    "checks": [
        {"check": "training job", "status": "pass", "detail": "Completed in 2.1 s"},
        {"check": "metric validation:accuracy", "status": "fail", "detail": "regex never matched"},
        {"check": "batch transform", "status": "skipped", "detail": "no model"},
    ],
}


def plain_ui(*, encoding: str = "utf-8") -> tuple[ConsoleUI, io.StringIO, io.StringIO]:
    """A UI whose stdout and stderr are files (a CI log): no terminal, no colour."""
    ui = ConsoleUI()
    out, err = io.TextIOWrapper(io.BytesIO(), encoding=encoding), io.StringIO()
    ui.out = Console(file=out, width=120, highlight=False, emoji=False)
    ui.err = Console(file=err, width=120, highlight=False, emoji=False)
    return ui, out, err  # type: ignore[return-value]


def text_of(stream: io.StringIO | io.TextIOWrapper) -> str:
    if isinstance(stream, io.TextIOWrapper):
        stream.flush()
        return stream.buffer.getvalue().decode(stream.encoding)  # type: ignore[attr-defined]
    return stream.getvalue()


def line_with(text: str, needle: str) -> str:
    matches = [line for line in text.splitlines() if needle in line]
    assert len(matches) == 1, f"{needle!r} on {len(matches)} lines of:\n{text}"
    return matches[0]


def test_a_list_of_check_mappings_is_a_table_with_a_mark_per_row() -> None:
    ui, out, _ = plain_ui()
    ui.result(CHECKS, title="Validation")
    text = text_of(out)
    assert "check=" not in text and "status=" not in text  # no longer one paragraph of pairs
    assert line_with(text, "training job").lstrip().startswith("✓")
    assert line_with(text, "metric validation:accuracy").lstrip().startswith("✗")
    assert line_with(text, "batch transform").lstrip().startswith("-")
    assert "regex never matched" in line_with(text, "metric validation:accuracy")  # the detail on its row
    assert line_with(text, "image").split() == ["image", "algo:latest"]
    assert "\x1b[" not in text  # plain text where no terminal reads it


def test_the_table_has_a_column_per_key_even_when_only_some_rows_have_it() -> None:
    rows = [{"check": "image scan", "status": "Completed"}, {"check": "validation", "status": "Failed", "reason": "x"}]
    ui, out, _ = plain_ui()
    ui.result({"checks": rows}, title="Algorithm")
    text = text_of(out)
    assert line_with(text, "reason").split() == ["check", "reason"]  # the header; the mark column has none
    assert line_with(text, "validation").split() == ["✗", "validation", "x"]
    assert line_with(text, "image scan").split() == ["✓", "image", "scan"]


def test_a_status_still_in_progress_is_shown_as_its_word() -> None:
    ui, out, _ = plain_ui()
    ui.result({"checks": [{"name": "v", "status": "InProgress"}, {"name": "w", "status": "Completed"}]})
    text = text_of(out)
    assert line_with(text, " v").split() == ["InProgress", "v"]
    assert line_with(text, " w").split() == ["✓", "w"]


def test_rows_without_a_status_are_a_plain_table_and_flags_read_yes_or_no() -> None:
    layers = [
        {"step": 1, "instruction": "FROM base", "cached": False},
        {"step": 2, "instruction": "RUN x", "cached": True},
    ]
    ui, out, _ = plain_ui()
    ui.result({"tag": "t:latest", "layers": layers}, title="Image built")
    text = text_of(out)
    assert line_with(text, "FROM base").split() == ["1", "FROM", "base", "no"]
    assert line_with(text, "RUN x").split() == ["2", "RUN", "x", "yes"]
    assert "✓" not in text and "✗" not in text


def test_a_list_of_values_is_one_per_line_and_a_long_one_is_cut_short() -> None:
    ui, out, _ = plain_ui()
    ui.result({"outputs": [f"out/{n}.csv.out" for n in range(25)]})
    text = text_of(out)
    assert line_with(text, "out/0.csv.out").split() == ["outputs", "out/0.csv.out"]
    assert line_with(text, "out/19.csv.out").strip() == "out/19.csv.out"
    assert "out/20.csv.out" not in text
    assert "… and 5 more (--json lists them all)" in text


def test_an_ascii_only_log_gets_words_instead_of_marks() -> None:
    ui, out, _ = plain_ui(encoding="ascii")
    ui.result(CHECKS)
    text = text_of(out)
    assert line_with(text, "training job").split()[0] == "ok"
    assert line_with(text, "metric validation").split()[0] == "FAIL"


def test_marks_are_coloured_on_a_terminal() -> None:
    ui = ConsoleUI()
    stream = io.StringIO()
    ui.out = Console(file=stream, force_terminal=True, width=120, color_system="standard")
    ui.result(CHECKS)
    assert "\x1b[1;32m✓" in stream.getvalue()
    assert "\x1b[1;31m✗" in stream.getvalue()


def test_markup_and_emoji_codes_in_values_are_printed_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    instruction = "RUN echo 'smbyo:x:900:' >> /etc/group [bold]"  # rich would make :x: an emoji
    ConsoleUI().result({"layers": [{"step": 3, "instruction": instruction}]})
    assert instruction in capsys.readouterr().out


def test_json_mode_prints_the_result_byte_for_byte_and_ignores_the_view(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleUI(json_mode=True).result(CHECKS, title="Validation", view={"something": "else"})
    assert capsys.readouterr().out == json.dumps(CHECKS, indent=2) + "\n"


def test_a_view_replaces_the_json_shape_for_a_person() -> None:
    ui, out, _ = plain_ui()
    ui.result({"docker": "ok: Engine 27"}, view={"checks": [{"state": "ok", "check": "docker", "found": "Engine 27"}]})
    text = text_of(out)
    assert line_with(text, "docker").split() == ["✓", "docker", "Engine", "27"]
    assert "ok:" not in text


# --- errors with a view ----------------------------------------------------------------------------


def checks_error() -> ChecksFailed:
    return ChecksFailed(
        "1 of 2 checks failed (metric m):\n  PASS  training job  done\n  FAIL  metric m  never matched",
        hint="fix the regex",
        details={"checks": CHECKS["checks"]},
        human_view={"checks": CHECKS["checks"]},
    )


def test_an_error_with_a_view_shows_the_table_then_the_first_line_of_its_message() -> None:
    ui, out, err = plain_ui()
    ui.error(checks_error())
    text = text_of(err)
    assert line_with(text, "metric validation:accuracy").lstrip().startswith("✗")
    assert "Checks failed: 1 of 2 checks failed (metric m)\n" in text
    assert "PASS  training job" not in text  # the message's text table is not printed a second time
    assert text.count("fix the regex") == 1
    assert text_of(out) == ""


def test_an_error_document_is_unchanged_by_its_view(capsys: pytest.CaptureFixture[str]) -> None:
    error = checks_error()
    ConsoleUI(json_mode=True).error(error)
    captured = capsys.readouterr()
    assert captured.out == json.dumps(error.to_dict(), indent=2) + "\n"
    assert set(json.loads(captured.out)) == {"error", "message", "exit_code", "hint", "details"}
    assert "never matched" in json.loads(captured.out)["message"]  # the full text listing stays in the JSON
    assert "✗" in captured.err


def test_an_error_without_a_view_prints_its_whole_message() -> None:
    ui, _, err = plain_ui()
    ui.error(JobFailed("job j failed:\n  reason one", hint="look at the log"))
    assert "Job failed: job j failed:\n  reason one\nWhat to do: look at the log\n" in text_of(err)


# --- status lines and widths -----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "colour"), [("PASS", "32"), ("FAIL", "31"), ("missing", "31"), ("Creating", "33")])
def test_status_lines_are_coloured_by_what_the_status_means(status: str, colour: str) -> None:
    ui, stream = terminal_ui()
    ui.status("check: x", status)
    assert f"\x1b[{colour}m{status}" in stream.getvalue()


def test_output_that_reaches_no_terminal_is_wider_than_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_terminal(_descriptor: int) -> os.terminal_size:
        raise OSError("not a terminal")

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    assert log_width() == LOG_WIDTH
    monkeypatch.setenv("COLUMNS", "90")
    assert log_width() is None  # rich reads COLUMNS itself


def test_in_a_log_a_table_row_with_a_long_path_stays_one_greppable_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in a fresh container: a 150-character socket path folded across lines broke every grep for it."""

    def no_terminal(_descriptor: int) -> os.terminal_size:
        raise OSError("not a terminal")

    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    path = "unix:///tmp/" + "deep/" * 30 + "no-docker.sock"
    ui = ConsoleUI()
    out = io.StringIO()
    ui.out = Console(file=out, width=log_width(), highlight=False, emoji=False)
    ui.result({"checks": [{"check": "docker", "status": "missing", "found": f"no Docker Engine at {path}"}]})
    assert any(path in line for line in out.getvalue().splitlines())


def test_a_terminal_is_measured_by_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda _descriptor: os.terminal_size((100, 40)))
    assert log_width() is None


# --- text from containers and CloudWatch cannot drive the terminal -----------------------------------

HOSTILE = {
    # name: (what a container prints, what reaches the terminal)
    "OSC 52 clipboard write": ("\x1b]52;c;Y3VybCBldmlsfHNo\x07", "\\x1b]52;c;Y3VybCBldmlsfHNo\\x07"),
    "OSC 8 hyperlink with ST": (
        "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\",
        "\\x1b]8;;http://evil\\x1b\\x\\x1b]8;;\\x1b\\",
    ),
    "screen clear": ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    "cursor up and erase line": ("\x1b[1A\x1b[2K", "\\x1b[1A\\x1b[2K"),
    "fake status via carriage return": ("Failed\rCompleted", "Failed\\x0dCompleted"),
    "backspaces over text": ("rm -rf /\x08\x08\x08\x08\x08\x08\x08\x08ls", "rm -rf /" + "\\x08" * 8 + "ls"),
    "bell": ("ding\x07", "ding\\x07"),
    "title set": ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    "8-bit CSI": ("\x9b2J", "\\x9b2J"),
    "C1 next line": ("a\x85b", "a\\x85b"),
    "DEL": ("a\x7fb", "a\\x7fb"),
    "NUL": ("a\x00b", "a\\x00b"),
    "device status query": ("\x1b[6n", "\\x1b[6n"),
    "keypad mode": ("\x1b=", "\\x1b="),
    "bidi override": ("invoice\u202egpj.exe", "invoice\\u202egpj.exe"),
    "colours are dropped": ("\x1b[1;31merror\x1b[0m done", "error done"),
    "colour with colon params": ("\x1b[38:5:196mred\x1b[m", "red"),
    "tabs stay": ("a\tb", "a\tb"),
    "windows line end": ("line\r\n", "line\n"),
    "plain text and unicode stay": ("accuracy: 0.97 ✓ é", "accuracy: 0.97 ✓ é"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_printable_makes_every_control_sequence_inert(name: str) -> None:
    sent, shown = HOSTILE[name]
    assert printable(sent) == shown
    assert "\x1b" not in printable(sent) and "\r" not in printable(sent) and "\x9b" not in printable(sent)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_log_lines_reach_the_terminal_inert(name: str) -> None:
    ui, stream = terminal_ui()
    ui.err = Console(file=stream, force_terminal=True, width=200, highlight=False)  # as ConsoleUI makes it
    sent, shown = HOSTILE[name]
    ui.log("train", f"before {sent} after")
    text = stream.getvalue()
    assert shown.rstrip("\n").split("\t")[0] in text  # (rich expands tabs to spaces)
    for dangerous in ("\x1b]", "\x1b[2", "\x1b[1A", "\x1b[6n", "\x1b=", "\r", "\x07", "\x08", "\x9b", "\x85", "\u202e"):
        assert dangerous not in text, repr(text)


def test_every_output_path_for_people_escapes_container_text(capsys: pytest.CaptureFixture[str]) -> None:
    """Failure reasons and container bodies arrive in errors, warnings, details and results as well as logs."""
    evil = "bad\x1b]52;c;ZXZpbA==\x07\x1b[2J\rfine"
    ui, out, err = plain_ui()
    ui.error(JobFailed(f"training job j failed: {evil}", hint=f"look {evil}"))
    ui.warn(evil)
    ui.detail(evil)
    ui.step(evil)
    ui.status(evil, evil)
    ui.progress(evil, 1, 2)
    ui.result({"failure_reason": evil, "checks": [{"check": evil, "status": "fail", "detail": evil}]}, title=evil)
    for text in (text_of(out), text_of(err)):
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text
        assert "\\x1b]52;c;ZXZpbA==\\x07" in text


def test_json_documents_carry_control_characters_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    evil = "bad\x1b]52;c;ZXZpbA==\x07\x1b[2J\r\x9b\u202e"
    ConsoleUI(json_mode=True).error(JobFailed(f"failed: {evil}", details={"failure_reason": evil}))
    ConsoleUI(json_mode=True).result({"failure_reason": evil})
    captured = capsys.readouterr()
    for raw in ("\x1b", "\r", "\x07", "\x9b", "\u202e"):
        assert raw not in captured.out and raw not in captured.err
    documents = [json.loads(part) for part in captured.out.replace("}\n{", "}\n\x00{").split("\x00")]
    assert documents[0]["details"]["failure_reason"] == evil  # the exact text, for scripts
    assert documents[1]["failure_reason"] == evil


def test_raw_bytes_are_exact_in_a_pipe_and_inert_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    body = b"label\r\n\x1b]52;c;ZXZpbA==\x07ok\n"
    piped = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", piped)
    ConsoleUI().raw(body)
    assert piped.buffer.getvalue() == body  # type: ignore[attr-defined]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    ConsoleUI().raw(body)
    assert terminal.getvalue() == "label\n\\x1b]52;c;ZXZpbA==\\x07ok\n"
