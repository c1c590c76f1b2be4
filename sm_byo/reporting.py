"""How the core tells the user what is happening, without printing.

Core functions take a :class:`Reporter`; the CLI passes the rich implementation from ``ui.py``
(stderr), tests pass a :class:`RecordingReporter` and assert on what was reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


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

    def of_kind(self, kind: str) -> list[tuple[object, ...]]:
        return [args for event, args in self.events if event == kind]
