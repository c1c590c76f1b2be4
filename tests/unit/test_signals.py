"""Stop signals, handled in one place (``sm_byo.signals``): the handler's mechanics, ``running()``'s clean-up
and the CLI boundary's exit codes, all without Docker (real signals, sent to this process)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sm_byo import signals
from sm_byo.cli import main
from sm_byo.errors import Interrupted
from sm_byo.local.containers import running
from sm_byo.local.hosting import _stopped_by
from sm_byo.reporting import RecordingReporter


@pytest.fixture(autouse=True)
def _restore_handlers() -> Iterator[None]:
    """Whatever a test does to the dispositions, the next test starts with pytest's own.

    Each test starts from the defaults a terminal gives: under ``nohup`` SIGHUP arrives ignored, which smbyo
    rightly keeps (``RESPECT_IGNORED``, tested on its own below), and that would fail the tests of SIGHUP's
    handling for a reason that is the environment's, not smbyo's."""
    saved = {signum: signal.getsignal(signum) for signum in signals.STOP_SIGNALS}
    for signum in signals.RESPECT_IGNORED:
        if saved[signum] is signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _send(signum: int) -> None:
    """Send ``signum`` to this process and give the main thread the moment it needs to run the handler."""
    os.kill(os.getpid(), signum)
    time.sleep(0.5)


# --- the handler ------------------------------------------------------------------------------------


def test_handlers_are_installed_for_the_block_and_the_previous_ones_restored() -> None:
    before = {signum: signal.getsignal(signum) for signum in signals.STOP_SIGNALS}
    with signals.stop_on_signals():
        for signum in signals.STOP_SIGNALS:
            assert signal.getsignal(signum) is not before[signum]
    assert {signum: signal.getsignal(signum) for signum in signals.STOP_SIGNALS} == before


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_the_first_signal_raises_stopped_with_128_plus_its_number(signum: int, code: int) -> None:
    with pytest.raises(signals.Stopped) as stopped, signals.stop_on_signals():
        _send(signum)
    assert stopped.value.signum == signum
    assert isinstance(stopped.value, KeyboardInterrupt)  # every `except KeyboardInterrupt` on the way out runs
    assert signals.exit_code(signals.signum_of(stopped.value)) == code


def test_sigint_ignored_at_start_is_handled_and_ignored_again_afterwards() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell without job control gives a background command
    with pytest.raises(signals.Stopped) as stopped, signals.stop_on_signals():
        _send(signal.SIGINT)
    assert stopped.value.signum == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_sighup_ignored_at_start_stays_ignored_as_nohup_asked() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with signals.stop_on_signals():
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        _send(signal.SIGHUP)  # nothing happens
        assert signals.received() is None


def test_nothing_is_installed_outside_the_main_thread() -> None:
    before = {signum: signal.getsignal(signum) for signum in signals.STOP_SIGNALS}
    seen: list[object] = []

    def elsewhere() -> None:
        with signals.stop_on_signals():  # signal.signal() would raise ValueError here
            seen.append({signum: signal.getsignal(signum) for signum in signals.STOP_SIGNALS})
            with signals.held():
                seen.append("held")

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen == [before, "held"]


def test_a_second_signal_never_raises_it_ends_the_wait_for_a_graceful_stop() -> None:
    with signals.stop_on_signals():
        with pytest.raises(signals.Stopped):
            _send(signal.SIGTERM)
        threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGINT)).start()
        began = time.monotonic()
        assert signals.wait_unless_hurried(threading.Event()) is False  # no exception: clean-up goes on
        assert time.monotonic() - began < 5
        assert signals.received() == signal.SIGTERM  # the first one decides the exit code


def test_a_graceful_stop_that_ends_by_itself_is_not_hurried() -> None:
    done = threading.Event()
    threading.Timer(0.2, done.set).start()
    with signals.stop_on_signals():
        assert signals.wait_unless_hurried(done) is True


def test_held_keeps_the_signal_back_until_the_block_is_done() -> None:
    finished = []
    with pytest.raises(signals.Stopped), signals.stop_on_signals(), signals.held():
        _send(signal.SIGTERM)
        finished.append("the block ran to its end")
    assert finished == ["the block ran to its end"]


def test_held_lets_the_blocks_own_error_through() -> None:
    with pytest.raises(RuntimeError, match="docker said no"), signals.stop_on_signals(), signals.held():
        _send(signal.SIGTERM)
        raise RuntimeError("docker said no")


def test_after_settle_signals_are_only_recorded() -> None:
    with signals.stop_on_signals():
        signals.settle()
        _send(signal.SIGTERM)
        assert signals.received() == signal.SIGTERM


# --- running(): the container is stopped gracefully, then removed -----------------------------------


class FakeHandle:
    """Records what was done to the container; ``stop`` takes ``stop_seconds`` (the container's shutdown)."""

    def __init__(self, stop_seconds: float = 0.0, on_stop: Any = None):
        self.calls: list[str] = []
        self.stop_seconds = stop_seconds
        self.on_stop = on_stop
        self.removed = threading.Event()

    def stop(self, timeout: int = 30) -> None:
        self.calls.append(f"stop {timeout}")
        if self.on_stop:
            self.on_stop()
        self.removed.wait(self.stop_seconds)

    def remove(self) -> None:
        self.calls.append("remove")
        self.removed.set()


class FakeAdapter:
    def __init__(self, handle: FakeHandle, during_run: Any = None):
        self.handle, self.during_run, self.started = handle, during_run, 0

    def run(self, image: str, command: list[str], **options: Any) -> FakeHandle:
        self.started += 1
        if self.during_run:
            self.during_run()
        return self.handle


def test_sigterm_stops_the_container_gracefully_removes_it_and_exits_143() -> None:
    handle, reporter = FakeHandle(), RecordingReporter()
    adapter: Any = FakeAdapter(handle)
    with (
        pytest.raises(Interrupted) as stopped,
        signals.stop_on_signals(),
        running(adapter, "img", ["train"], name="c1", stop_grace=10, reporter=reporter),
    ):
        _send(signal.SIGTERM)
    assert stopped.value.exit_code == 143 and "SIGTERM" in stopped.value.message
    assert handle.calls == ["stop 10", "remove"]
    assert any("Stopping c1 (SIGTERM, up to 10 s" in str(step) for step in reporter.of_kind("step"))


def test_a_second_signal_during_the_graceful_stop_kills_and_removes_at_once() -> None:
    # The container would take 60 s to stop; the second signal arrives while smbyo waits for it.
    handle = FakeHandle(stop_seconds=60, on_stop=lambda: threading.Timer(0.3, os.kill, (os.getpid(), 15)).start())
    began = time.monotonic()
    adapter: Any = FakeAdapter(handle)
    with (
        pytest.raises(Interrupted) as stopped,
        signals.stop_on_signals(),
        running(adapter, "img", ["serve"], name="c2"),
    ):
        _send(signal.SIGINT)
    assert time.monotonic() - began < 10
    assert stopped.value.exit_code == 130  # the first signal's code
    assert handle.calls[0] == "stop 30" and "remove" in handle.calls


def test_a_signal_while_the_container_is_created_still_removes_it() -> None:
    handle = FakeHandle()
    adapter: Any = FakeAdapter(handle, during_run=lambda: _send(signal.SIGTERM))
    body = []
    with pytest.raises(Interrupted) as stopped, signals.stop_on_signals(), running(adapter, "img", ["train"]):
        body.append("ran")
    assert body == [] and stopped.value.exit_code == 143
    assert handle.calls == ["stop 30", "remove"]


def test_no_container_is_started_once_a_stop_signal_arrived() -> None:
    adapter: Any = FakeAdapter(FakeHandle())
    with signals.stop_on_signals():
        with pytest.raises(signals.Stopped):
            _send(signal.SIGTERM)
        with pytest.raises(Interrupted) as refused, running(adapter, "img", ["serve"]):
            pass
    assert adapter.started == 0 and refused.value.exit_code == 143


def test_the_container_is_removed_after_a_normal_end_without_a_stop() -> None:
    handle = FakeHandle()
    adapter: Any = FakeAdapter(handle)
    with signals.stop_on_signals(), running(adapter, "img", ["train"]):
        pass
    assert handle.calls == ["remove"]


def test_serve_names_what_stopped_it() -> None:
    assert _stopped_by(KeyboardInterrupt()) == "Ctrl-C"
    assert _stopped_by(signals.Stopped(signal.SIGINT)) == "Ctrl-C"
    assert _stopped_by(signals.Stopped(signal.SIGTERM)) == "SIGTERM"


# --- the CLI boundary -----------------------------------------------------------------------------


def _schema_that_gets(signum: int) -> Any:
    def json_schema() -> dict[str, Any]:
        _send(signum)
        return {}

    return json_schema


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_the_boundary_exits_128_plus_the_signal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], signum: int, code: int
) -> None:
    monkeypatch.setattr("sm_byo.manifest.json_schema", _schema_that_gets(signum))
    before = {s: signal.getsignal(s) for s in signals.STOP_SIGNALS}
    with pytest.raises(SystemExit) as exited:
        main(["--json", "schema"])
    assert exited.value.code == code
    document = json.loads(capsys.readouterr().out)
    assert document["error"] == "Interrupted" and document["exit_code"] == code
    assert signal.Signals(signum).name in document["message"]
    assert {s: signal.getsignal(s) for s in signals.STOP_SIGNALS} == before  # restored
