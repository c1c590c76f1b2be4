"""Stop signals, handled in one place: SIGINT, SIGTERM and SIGHUP end every command cleanly.

The CLI's boundary (:func:`sm_byo.cli.main`) runs every command inside :func:`stop_on_signals`. The
first stop signal raises :class:`Stopped` in the main thread. It is a ``KeyboardInterrupt``, so the
code on the way out does for a CI cancel (SIGTERM), a closed terminal (SIGHUP) or a ``kill -INT`` what
it does for Ctrl-C: a local container gets SIGTERM and is removed (``sm_byo.local.containers``), the
temporary trees and Pipe feeders go, a cloud wait ends with the command that resumes it
(``sm_byo.polling``), and smbyo exits with 128 + the signal's number: 130 (SIGINT), 143 (SIGTERM),
129 (SIGHUP). ``serve --local`` is the exception: a stop signal is how it is meant to end (exit 0).

* SIGINT is handled even when smbyo started with it ignored (a shell without job control starts
  background commands so), or ``kill -INT`` would be dropped silently. SIGTERM and SIGHUP are left
  ignored when they were ignored at start: ``nohup smbyo ...`` asked to survive the terminal.
* A later signal never raises: it would cut the clean-up half-way and leave a container or a temporary
  tree behind. It only ends a graceful stop early (:func:`wait_unless_hurried`): the container is
  killed and removed at once instead of being given its grace period.
* :func:`held` keeps a first signal back while something that must not be torn in two runs (a container
  being created, then removed) and raises it right after.

Handlers are installed only from the main thread (Python runs them there), and the previous ones are
restored afterwards; elsewhere :func:`stop_on_signals` does nothing and the defaults apply.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Kept ignored when ignored at start (nohup); SIGINT is handled whatever its inherited disposition.
RESPECT_IGNORED = frozenset({signal.SIGTERM, signal.SIGHUP})
HURRY_POLL_SECONDS = 0.1


class Stopped(KeyboardInterrupt):
    """The first stop signal, raised in the main thread; ``signum`` says which one."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signum_of(exc: BaseException) -> int:
    """The signal behind an interruption: a plain KeyboardInterrupt is Python's own SIGINT."""
    return int(getattr(exc, "signum", signal.SIGINT))


def describe(signum: int) -> str:
    """``Ctrl-C (SIGINT)``, ``SIGTERM``, ``SIGHUP``: how a message names what stopped the command."""
    name = signal.Signals(signum).name
    return f"Ctrl-C ({name})" if signum == signal.SIGINT else name


def exit_code(signum: int) -> int:
    """The shell's convention for a command ended by a signal: 128 + its number."""
    return 128 + int(signum)


@dataclass
class _Watch:
    """What the handler knows: the first signal, whether it was raised, how deep :func:`held` is."""

    received: int | None = None
    raised: bool = False
    holding: int = 0
    settled: bool = False
    again: threading.Event = field(default_factory=threading.Event)

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            self.again.set()  # a second signal: hurry the graceful stop, never tear the clean-up in two
            return
        self.received = signum
        if self.holding == 0 and not self.settled:
            self.raised = True
            raise Stopped(signum)


_watch: _Watch | None = None


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into :class:`Stopped` while the block runs (main thread only),
    and put the previous handlers back afterwards."""
    global _watch
    if not _in_main_thread() or _watch is not None:
        yield
        return
    watch = _Watch()
    previous: dict[signal.Signals, object] = {}
    try:
        for signum in STOP_SIGNALS:
            current = signal.getsignal(signum)
            if signum in RESPECT_IGNORED and current is signal.SIG_IGN:
                continue
            previous[signum] = current
            signal.signal(signum, watch.on_signal)
        _watch = watch
        yield
    finally:
        _watch = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


def received() -> int | None:
    """The stop signal received so far in this command (None when none was, or nothing is watching)."""
    return _watch.received if _watch is not None else None


def settle() -> None:
    """The command is over (its result or error is being reported): signals are only recorded now."""
    if _watch is not None:
        _watch.settled = True


@contextmanager
def held() -> Iterator[None]:
    """Keep a first stop signal back until the block is done, then raise it (unless the block raised).

    Around what must not be torn in two: creating a container (so that it is known, and removed, before
    the signal unwinds) and removing it."""
    watch = _watch
    if watch is None or not _in_main_thread():
        yield
        return
    watch.holding += 1
    try:
        yield
    finally:
        watch.holding -= 1
    if watch.holding == 0 and watch.received is not None and not watch.raised and not watch.settled:
        watch.raised = True
        raise Stopped(watch.received)


def wait_unless_hurried(done: threading.Event) -> bool:
    """Wait for ``done``; False as soon as a second stop signal asks to hurry instead."""
    hurry = _watch.again if _watch is not None else None
    while not done.wait(HURRY_POLL_SECONDS):
        if hurry is not None and hurry.is_set():
            return False
    return True
