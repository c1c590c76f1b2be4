"""How the core tells the user what is happening, without printing.

Core functions take a :class:`Reporter`; the CLI passes the rich implementation from ``ui.py``
(stderr), tests pass a :class:`RecordingReporter` and assert on what was reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class Reporter(Protocol):
    def step(self, message: str) -> None:
        """A stage begins ("Building image x:latest")."""

    def detail(self, message: str) -> None:
        """A line of tool output (build step output); shown live, dimmed."""

    def log(self, source: str, line: str) -> None:
        """A line of a container's or job's log."""

    def status(self, subject: str, status: str, elapsed_seconds: float | None = None) -> None:
        """A subject's status changed (a job went InProgress, an endpoint InService)."""

    def progress(self, task: str, completed: int, total: int | None) -> None:
        """Byte/item progress of a task (a pushed layer, an uploaded file)."""

    def warn(self, message: str) -> None:
        """Something the user should know that does not stop the work."""


@runtime_checkable
class TableReporter(Protocol):
    """A reporter that can also keep a live table on screen (the trials of a tuning job).

    Apart from :class:`Reporter` so that a reporter which only forwards the six calls above still is one;
    :func:`show_table` falls back to a status line per row for it."""

    def table(self, title: str, rows: Sequence[Mapping[str, Any]], highlight: str | None = None) -> None:
        """The table as it is now: one mapping per row, ``status`` first by convention and the next key
        naming the row; ``highlight`` names the row to set apart (the best so far)."""


def row_name(row: Mapping[str, Any]) -> str:
    """What names a table row: its first value that is not its status."""
    return next((str(value) for key, value in row.items() if key != "status"), "")


def show_table(reporter: Reporter, title: str, rows: Sequence[Mapping[str, Any]], highlight: str | None = None) -> None:
    """The live table where the reporter draws one; otherwise each row as a status line (shown when it changes)."""
    if isinstance(reporter, TableReporter):
        reporter.table(title, rows, highlight)
        return
    for row in rows:
        name = row_name(row)
        cells = [(key, value) for key, value in row.items() if key != "status"][1:]
        shown = ", ".join(f"{key}={value}" for key, value in cells if value is not None)
        best = " (best so far)" if name == highlight else ""
        reporter.status(f"{title} {name}", f"{row.get('status', '')} {shown}{best}".strip())


@dataclass
class RecordingReporter:
    """Keeps every report in memory (tests, and callers that want a transcript)."""

    events: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)

    def step(self, message: str) -> None:
        self.events.append(("step", (message,)))

    def detail(self, message: str) -> None:
        self.events.append(("detail", (message,)))

    def log(self, source: str, line: str) -> None:
        self.events.append(("log", (source, line)))

    def status(self, subject: str, status: str, elapsed_seconds: float | None = None) -> None:
        self.events.append(("status", (subject, status, elapsed_seconds)))

    def progress(self, task: str, completed: int, total: int | None) -> None:
        self.events.append(("progress", (task, completed, total)))

    def warn(self, message: str) -> None:
        self.events.append(("warn", (message,)))

    def table(self, title: str, rows: Sequence[Mapping[str, Any]], highlight: str | None = None) -> None:
        self.events.append(("table", (title, [dict(row) for row in rows], highlight)))

    def of_kind(self, kind: str) -> list[tuple[object, ...]]:
        return [args for event, args in self.events if event == kind]


class Forwarding:
    """A reporter that passes every report to another; a wrapper subclasses it and overrides only the calls
    it changes (one place that lists the six calls, so a wrapper cannot drop one)."""

    def __init__(self, reporter: Reporter):
        self.reporter = reporter

    def step(self, message: str) -> None:
        self.reporter.step(message)

    def detail(self, message: str) -> None:
        self.reporter.detail(message)

    def log(self, source: str, line: str) -> None:
        self.reporter.log(source, line)

    def status(self, subject: str, status: str, elapsed_seconds: float | None = None) -> None:
        self.reporter.status(subject, status, elapsed_seconds)

    def progress(self, task: str, completed: int, total: int | None) -> None:
        self.reporter.progress(task, completed, total)

    def warn(self, message: str) -> None:
        self.reporter.warn(message)


class WarnOnce(Forwarding):
    """Forwards every report, but each distinct warning only the first time.

    For a command made of several jobs that share their settings (``validate --local`` runs a training job, a
    serving probe and a batch transform): each job warns about what it was given (isolation off, for one), and
    the user needs to read that once, not once per job."""

    def __init__(self, reporter: Reporter):
        super().__init__(reporter)
        self.warned: set[str] = set()

    def warn(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            self.reporter.warn(message)
