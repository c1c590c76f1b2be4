"""The only module that prints: rich progress on stderr, the result on stdout (JSON with --json).

With ``--json`` stdout carries exactly one JSON document (the result, or the error); everything
meant for humans goes to stderr, so CI can pipe stdout straight into ``jq``.

Without ``--json`` a result is rendered for reading: its plain values as a key/value table, and every
list of mappings in it (checks, layers, trials, hosts...) as a table of its own, one row per item, with
a coloured ✓/✗ mark for the item's ``status`` or ``state``; a list of plain values (output files) shows
one per line. That one rule serves every command, so a command with a list in its result reads well
without code of its own. A result or an error may offer a ``human_view`` (a mapping rendered by the
same rule) when its JSON shape, kept stable for scripts, is not what a person should read.

Text that reaches a terminal passes :func:`printable` first, here and nowhere else: container and
CloudWatch log lines, failure reasons and response bodies come from code smbyo does not control, and a
terminal obeys the control sequences in them (screen clears, cursor moves, a ``\\r`` that overwrites a
status line, OSC 52 clipboard writes). Colour codes (SGR) are dropped, every other control character is
shown escaped (``\\x1b``), so the sequence is visible but inert. JSON output needs nothing more:
``json.dumps`` escapes every control character and, with ``ensure_ascii``, every non-ASCII one.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sm_byo.errors import SmByoError
from sm_byo.reporting import row_name

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

STATUS_KEYS = ("status", "state")
OK_STATES = frozenset({"completed", "inservice", "succeeded", "passed", "pass", "ok"})
FAILED_STATES = frozenset({"failed", "fail", "stopped", "error", "missing"})
SKIPPED_STATES = frozenset({"skipped", "notstarted"})
MAX_LIST_LINES = 20
# Output that reaches no terminal (a CI log) has no width: a table row stays one line, so a path or
# message in it can be grepped and copied whole instead of being folded into a narrow column.
LOG_WIDTH = 10_000

# A mark per kind of status; words where the output cannot encode the symbols (an ASCII-only log).
UNICODE_MARKS: Mapping[str, str] = {"green": "✓", "red": "✗", "dim": "-"}
ASCII_MARKS: Mapping[str, str] = {"green": "ok", "red": "FAIL", "dim": "-"}
_MARK_STYLES: Mapping[str, str] = {"green": "bold green", "red": "bold red", "dim": "dim"}


# Select Graphic Rendition (colours, bold...): a terminal only restyles text with it, so it is dropped.
SGR_SEQUENCE = re.compile(r"\x1b\[[0-9;:]*m")
# What a terminal acts on instead of printing: C0 controls but tab and newline, DEL, C1 controls (U+0080-
# U+009F; U+009B alone starts a sequence on some terminals), and the Unicode bidirectional controls that
# reorder what is shown.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: SGR colour codes dropped, every other control character
    (ESC, CR, BEL, backspace, C1, bidi overrides) written out as ``\\xNN``/``\\uNNNN``; tabs and
    newlines kept (a CR before a newline is a Windows line end and goes quietly)."""
    text = SGR_SEQUENCE.sub("", text.replace("\r\n", "\n"))
    return CONTROL_CHARACTER.sub(_escaped_character, text)


def _escaped_character(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


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
        width = log_width()
        # emoji off: a log line or a Dockerfile's `smbyo:x:900:` must not turn into ❌
        self.err = Console(stderr=True, highlight=False, soft_wrap=True, width=width, emoji=False)
        self.out = Console(highlight=False, soft_wrap=True, width=width, emoji=False)
        self._statuses: dict[str, str] = {}
        self._progress_shown: dict[str, float] = {}
        self._live: Any = None
        self._view = _LiveView()
        self._table_lines: dict[tuple[str, str], str] = {}  # the rows a log was shown, as shown
        self._highlighted: dict[str, str] = {}

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
        colour = status_kind(status)
        self.err.print(f"    {_escape(subject)}: [{colour}]{_escape(status)}[/]{elapsed}")

    def _live_status(self, subject: str, status: str, elapsed_seconds: float) -> None:
        if status_kind(status) != "yellow":  # a terminal state: the history line says it all
            self.close()
            return
        if self._live is None:
            from rich.live import Live

            self._view.ticker = _StatusTicker()
            self._live = Live(self._view, console=self.err, refresh_per_second=4, transient=True)
            self._live.start()
        self._view.ticker.update(subject, status, elapsed_seconds)

    def close(self) -> None:
        """Stop the live status line (the CLI calls this on the way out, success or not)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._view.table = None

    def table(self, title: str, rows: Sequence[Mapping[str, Any]], highlight: str | None = None) -> None:
        """A table that changes while something runs (a tuning job's trials).

        On a terminal it is redrawn in place above the live status line, ``highlight`` (the best so far) in
        bold green; it goes with the status line, since the result shows the final table. In a log, each
        row is a line when it first appears and whenever it changes, and a line says when the best changes,
        so the log reads as the history of the run."""
        if self.err.is_terminal:
            if self._live is not None and rows:
                self._view.table = rows_table(rows, title=title, marks=console_marks(self.err), highlight=highlight)
            return
        for row in rows:
            name = row_name(row)
            line = _row_line(row)
            if self._table_lines.get((title, name)) != line:
                self._table_lines[(title, name)] = line
                self.err.print(f"    {_escape(title)} {_escape(name)}: {line}")
        if highlight and self._highlighted.get(title) != highlight:
            self._highlighted[title] = highlight
            self.err.print(f"    {_escape(title)}: best so far [bold green]{_escape(highlight)}[/]")

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
    def result(
        self, data: Mapping[str, Any], *, title: str | None = None, view: Mapping[str, Any] | None = None
    ) -> None:
        """The command's result: ``data`` as one JSON document with --json; otherwise ``view`` (default:
        ``data``) rendered as tables (see the module docstring)."""
        if self.json_mode:
            sys.stdout.write(json.dumps(data, indent=2, default=_jsonable) + "\n")
            sys.stdout.flush()
            return
        self.out.print(render(view if view is not None else data, title=title, marks=console_marks(self.out)))

    def raw(self, body: bytes) -> None:
        """Bytes for stdout exactly as received (e.g. an inference response); on a terminal, as
        :func:`printable` text, since the bytes come from a container."""
        if sys.stdout.isatty():
            sys.stdout.write(printable(body.decode("utf-8", errors="replace")))
        else:
            sys.stdout.buffer.write(body)
        sys.stdout.flush()

    def error(self, error: SmByoError) -> None:
        """The JSON document on stdout with --json; for a person, always on stderr.

        An error with a ``human_view`` shows it as tables, then only the message's first line: the rest
        of the message lists the same items as text, for --json readers, and would say it all twice.
        """
        if self.json_mode:
            sys.stdout.write(json.dumps(error.to_dict(), indent=2, default=_jsonable) + "\n")
            sys.stdout.flush()
        message = error.message
        if error.human_view:
            self.err.print(render(error.human_view, marks=console_marks(self.err)))
            message = headline(message)
        self.err.print(f"[bold red]{_escape(error.title)}:[/] {_escape(message)}")
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


class _LiveView:
    """What the live area shows: a table, if one is being followed, over the ticking status line."""

    def __init__(self) -> None:
        self.ticker = _StatusTicker()
        self.table: RenderableType | None = None

    def __rich__(self) -> Any:
        from rich.console import Group

        return self.ticker.__rich__() if self.table is None else Group(self.table, self.ticker.__rich__())


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
        return Spinner("dots", text=_escape(f"{self.subject}: {self.status} ({elapsed})"), style="yellow")


def log_width() -> int | None:
    """Where no standard stream is a terminal (a CI log), rich wraps tables at 80 columns, squeezing
    the details of each check into a narrow column and splitting paths. A log has no width, so it gets
    LOG_WIDTH; a terminal is measured as usual (None) and COLUMNS, when set, still wins."""
    if os.environ.get("COLUMNS"):
        return None
    for descriptor in (0, 1, 2):
        try:
            os.get_terminal_size(descriptor)
        except (OSError, ValueError):
            continue
        return None
    return LOG_WIDTH


def _escape(text: str) -> str:
    """Every piece of text this module prints passes here: control sequences made inert, then rich
    markup (``[bold]``) escaped."""
    from rich.markup import escape

    return escape(printable(text))


# --- rendering results ----------------------------------------------------------------------------


def render(
    data: Mapping[str, Any], *, title: str | None = None, marks: Mapping[str, str] = UNICODE_MARKS
) -> RenderableType:
    """``data`` for a terminal or a log: plain values as key/value rows, each list of mappings as a table.

    A list's key titles its table, unless the list is all there is: then the command's title (or the
    error line printed under it) already says what it lists.
    """
    from rich.console import Group
    from rich.text import Text

    plain = {key: value for key, value in data.items() if not is_rows(value)}
    lists = {key: value for key, value in data.items() if is_rows(value)}
    parts: list[RenderableType] = []
    if title:
        parts.append(Text(printable(title), style="bold"))
    if plain:
        parts.append(_pairs_table(plain, marks))
    for key, rows in lists.items():
        caption = None if not plain and len(lists) == 1 else key
        if caption and parts:
            parts.append(Text(""))  # a blank line: the table is a section of its own, not one more pair
        parts.append(rows_table(rows, title=caption, marks=marks))
    return Group(*parts)


def rows_table(
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
    marks: Mapping[str, str] = UNICODE_MARKS,
    highlight: str | None = None,
) -> Table:
    """One row per item, one column per key (in first-seen order); a status column comes first, as a mark.

    The first other column names the item (a check, a step, a command) and stays on one line, so it
    can be read down the table and copied; the columns after it wrap. The row named ``highlight`` is bold green.
    """
    from rich.table import Table

    columns = _columns(rows)
    status_key = next((key for key in columns if key in STATUS_KEYS), None)
    others = [key for key in columns if key != status_key]
    table = Table(title=title, box=None, pad_edge=False, title_justify="left", title_style="bold", header_style="dim")
    if status_key is not None:
        table.add_column("", no_wrap=True)
    for position, key in enumerate(others):
        table.add_column(_escape(key), no_wrap=position == 0)
    for row in rows:
        mark = [status_mark(str(row.get(status_key, "")), marks)] if status_key is not None else []
        style = "bold green" if highlight is not None and row_name(row) == highlight else None
        table.add_row(*mark, *(_cell(row.get(key)) for key in others), style=style)
    return table


def _row_line(row: Mapping[str, Any]) -> str:
    """A table row as one line of a log: its status, then ``key=value`` for each cell but its name."""
    cells = [(key, value) for key, value in row.items() if key != "status"][1:]
    shown = ", ".join(f"{_escape(str(key))}={_human(value)}" for key, value in cells if value is not None)
    status = str(row.get("status", ""))
    colour = status_kind(status)
    return f"[{colour}]{_escape(status)}[/]" + (f" {shown}" if shown else "")


def status_mark(status: str, marks: Mapping[str, str] = UNICODE_MARKS) -> str:
    """✓ for a status that went well, ✗ for one that failed, - for skipped; anything else (still going)
    is shown as the word itself, in yellow, since a mark would hide what it is waiting for."""
    kind = status_kind(status)
    if kind == "yellow":
        return f"[yellow]{_escape(status)}[/]"
    return f"[{_MARK_STYLES[kind]}]{marks[kind]}[/]"


def status_kind(status: str) -> str:
    """green (went well), red (failed), dim (skipped) or yellow (still going, or unknown)."""
    lowered = status.lower()
    if lowered in OK_STATES:
        return "green"
    if lowered in FAILED_STATES:
        return "red"
    if lowered in SKIPPED_STATES:
        return "dim"
    return "yellow"


def console_marks(console: Console) -> Mapping[str, str]:
    """✓/✗ where the output can encode them; words on an ASCII-only terminal or log."""
    return UNICODE_MARKS if console.encoding.lower().startswith("utf") else ASCII_MARKS


def is_rows(value: Any) -> bool:
    """A non-empty list whose items are all mappings: what renders as a table of its own."""
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(item, Mapping) for item in value)


def headline(message: str) -> str:
    """A message's first line, without the colon that introduced the listing under it."""
    lines = message.splitlines()
    return lines[0].rstrip().rstrip(":") if lines else message


def _pairs_table(data: Mapping[str, Any], marks: Mapping[str, str]) -> Table:
    """Key/value rows; a top-level status that has ended gets its mark too (``status  ✓ Completed``)."""
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in data.items():
        text = _human(value)
        if key in STATUS_KEYS and isinstance(value, str) and status_kind(value) != "yellow":
            text = f"{status_mark(value, marks)} {text}"
        table.add_row(_escape(str(key)), text)
    return table


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(str(key) for key in row))
    return list(columns)


def _cell(value: Any) -> str:
    """A table cell: an absent value is blank (a row without a ``reason`` has nothing to say)."""
    return "" if value is None else _human(value)


def _human(value: Any, *, nested: bool = False) -> str:
    """A value as markup-safe text: a flag as yes/no (True/False reads like code), mappings as k=v pairs,
    a list one item per line (comma-separated inside a mapping), a long list cut short."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{_escape(str(k))}={_human(v, nested=True)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        nested = nested or any(isinstance(item, Mapping | list | tuple) for item in value)
        items = [_human(item, nested=True) for item in value[:MAX_LIST_LINES]]
        if len(value) > MAX_LIST_LINES:
            items.append(f"[dim]… and {len(value) - MAX_LIST_LINES} more (--json lists them all)[/]")
        return (", " if nested else "\n").join(items)
    return _escape(str(value))


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
