"""The only module that prints: rich progress on stderr, the result on stdout (JSON with --json).

With ``--json`` stdout carries exactly one JSON document (the result, or the error); everything
meant for humans goes to stderr, so CI can pipe stdout straight into ``jq``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from sm_byo.errors import SmByoError


def _jsonable(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    return str(value)


class ConsoleUI:
    """Rich implementation of :class:`sm_byo.reporting.Reporter`, plus result and error output."""

    def __init__(self, *, json_mode: bool = False, verbose: bool = False):
        from rich.console import Console

        self.json_mode = json_mode
        self.verbose = verbose
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.out = Console(highlight=False, soft_wrap=True)
        self._statuses: dict[str, str] = {}
        self._progress_shown: dict[str, float] = {}
        self._live: Any = None
        self._ticker: _StatusTicker | None = None

    # --- Reporter -------------------------------------------------------------------------------
    def step(self, message: str) -> None:
        self.err.print(f"[bold cyan]==>[/] [bold]{_escape(message)}[/]")

    def detail(self, message: str) -> None:
        self.err.print(f"    [dim]{_escape(message.rstrip())}[/]")

    def log(self, source: str, line: str) -> None:
        prefix = f"[magenta]{_escape(source)}[/] | " if source else ""
        self.err.print(f"{prefix}{_escape(line.rstrip())}")

    def status(self, subject: str, status: str, elapsed_seconds: float | None = None) -> None:
        """A line per change (kept in scrollback and CI logs); on a terminal, also a live line whose
        elapsed time keeps ticking between polls."""
        if self.err.is_terminal and elapsed_seconds is not None:
            self._live_status(subject, status, elapsed_seconds)
        if self._statuses.get(subject) == status and not self.verbose:
            return
        self._statuses[subject] = status
        elapsed = f" [dim]({_format_elapsed(elapsed_seconds)})[/]" if elapsed_seconds is not None else ""
        colour = _status_colour(status)
        self.err.print(f"    {_escape(subject)}: [{colour}]{_escape(status)}[/]{elapsed}")

    def _live_status(self, subject: str, status: str, elapsed_seconds: float) -> None:
        if _status_colour(status) != "yellow":  # a terminal state: the history line says it all
            self.close()
            return
        if self._live is None:
            from rich.live import Live

            self._ticker = _StatusTicker()
            self._live = Live(self._ticker, console=self.err, refresh_per_second=4, transient=True)
            self._live.start()
        assert self._ticker is not None
        self._ticker.update(subject, status, elapsed_seconds)

    def close(self) -> None:
        """Stop the live status line (the CLI calls this on the way out, success or not)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def progress(self, task: str, completed: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and completed >= total
        if not finished and now - self._progress_shown.get(task, 0.0) < 1.0:
            return
        self._progress_shown[task] = now
        amount = f"{_format_bytes(completed)}/{_format_bytes(total)}" if total else _format_bytes(completed)
        self.err.print(f"    [dim]{_escape(task)}: {amount}[/]")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {_escape(message)}")

    # --- results and errors ---------------------------------------------------------------------
    def result(self, data: Mapping[str, Any], *, title: str | None = None) -> None:
        """The command's result: one JSON document with --json, a key/value table otherwise."""
        if self.json_mode:
            sys.stdout.write(json.dumps(data, indent=2, default=_jsonable) + "\n")
            sys.stdout.flush()
            return
        from rich.table import Table

        table = Table(title=title, show_header=False, box=None, pad_edge=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for key, value in data.items():
            table.add_row(key, _human(value))
        self.out.print(table)

    def raw(self, body: bytes) -> None:
        """Bytes for stdout exactly as received (e.g. an inference response)."""
        sys.stdout.buffer.write(body)
        sys.stdout.flush()

    def error(self, error: SmByoError) -> None:
        if self.json_mode:
            sys.stdout.write(json.dumps(error.to_dict(), indent=2, default=_jsonable) + "\n")
            sys.stdout.flush()
        self.err.print(f"[bold red]{_escape(error.title)}:[/] {_escape(error.message)}")
        if error.hint:
            self.err.print(f"[bold]What to do:[/] {_escape(error.hint)}")

    def unexpected(self, exc: BaseException) -> None:
        if self.json_mode:
            payload = {"error": type(exc).__name__, "message": str(exc), "exit_code": 1, "unexpected": True}
            sys.stdout.write(json.dumps(payload) + "\n")
        self.err.print(f"[bold red]Unexpected error:[/] {type(exc).__name__}: {_escape(str(exc))}")
        self.err.print("This is a bug in smbyo. Run again with -v for the traceback and please report it.")
        if self.verbose:
            self.err.print_exception(show_locals=False)


class _StatusTicker:
    """The live line: the latest status of what is being polled, with an elapsed time that ticks."""

    def __init__(self) -> None:
        self.subject = ""
        self.status = ""
        self.started = time.monotonic()

    def update(self, subject: str, status: str, elapsed_seconds: float) -> None:
        self.subject, self.status = subject, status
        self.started = time.monotonic() - elapsed_seconds

    def __rich__(self) -> Any:
        from rich.spinner import Spinner

        elapsed = _format_elapsed(time.monotonic() - self.started)
        return Spinner("dots", text=f"{self.subject}: {self.status} ({elapsed})", style="yellow")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _human(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_human(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_human(v) for v in value) if len(value) < 8 else f"{len(value)} items"
    return _escape(str(value))


def _status_colour(status: str) -> str:
    lowered = status.lower()
    if lowered in ("completed", "inservice", "succeeded", "passed", "ok"):
        return "green"
    if lowered in ("failed", "stopped", "error"):
        return "red"
    return "yellow"


def _format_elapsed(seconds: float | None) -> str:
    total = int(seconds or 0)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _format_bytes(count: int | None) -> str:
    value = float(count or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
