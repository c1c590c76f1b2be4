"""Running a local SageMaker container: its name, log streaming, and removal that always happens.

A stop signal (Ctrl-C, SIGTERM, SIGHUP: ``sm_byo.signals``) stops a container as SageMaker stops one:
SIGTERM, then SIGKILL when the grace period is over (``docker stop``). A second signal kills it at once.
Either way the container is removed before the command exits.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sm_byo import signals
from sm_byo.docker import ContainerHandle, DockerAdapter, NetworkHandle
from sm_byo.errors import Interrupted
from sm_byo.reporting import Reporter

CONTAINER_PREFIX = "smbyo-local-"
LOG_TAIL_LINES = 40
# SageMaker stops a serving container with SIGTERM and kills it 30 s later (docs/container-contract.md).
SERVING_STOP_SECONDS = 30
MIN_CPU_SHARE = 0.01  # the smallest CPU limit Docker accepts (`docker run --cpus 0.01`)


def container_name(kind: str) -> str:
    """A unique, recognisable container name (``smbyo-local-train-1a2b3c4d``)."""
    return f"{CONTAINER_PREFIX}{kind}-{secrets.token_hex(4)}"


def stop_gracefully(handle: ContainerHandle, grace: int, reporter: Reporter | None, name: str) -> bool:
    """SIGTERM, and SIGKILL after ``grace`` seconds (``docker stop``); a second stop signal kills it at once.

    True when the container stopped (by itself or at the end of the grace period) and is still there to be
    read; False when a second signal had it killed and removed."""
    return stop_all_gracefully([handle], grace, reporter, name)


def stop_all_gracefully(handles: list[ContainerHandle], grace: int, reporter: Reporter | None, name: str) -> bool:
    """:func:`stop_gracefully` for several containers at once (each gets the whole grace period)."""
    if reporter is not None:
        reporter.step(f"Stopping {name} (SIGTERM, up to {grace} s; a second Ctrl-C or SIGTERM kills it now)")
    done = threading.Event()
    remaining = [len(handles)]
    lock = threading.Lock()

    def stop(handle: ContainerHandle) -> None:
        try:
            handle.stop(timeout=grace)
        except Exception:  # removed meanwhile (a second signal), or Docker went away: removal reports that
            pass
        finally:
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

    for handle in handles:
        threading.Thread(target=stop, args=(handle,), name=f"stop-{name}", daemon=True).start()
    if not handles or signals.wait_unless_hurried(done):
        return True
    if reporter is not None:
        reporter.step(f"Killing {name} (a second stop signal)")
    for handle in handles:
        handle.remove()
    return False


def cpu_share(adapter: DockerAdapter, instances: int) -> float | None:
    """Each instance's share of the Docker Engine's CPUs when a job's ``instances`` containers share one
    machine (so N of them do not oversubscribe it); None for one instance, which may use them all."""
    if instances == 1:
        return None
    return max(MIN_CPU_SHARE, round(adapter.cpu_count() / instances, 2))


@dataclass(frozen=True)
class Start:
    """One container to start: its image, command and :meth:`DockerAdapter.run` options."""

    image: str
    command: list[str]
    options: Mapping[str, Any] = field(default_factory=dict)


@contextmanager
def running(
    adapter: DockerAdapter,
    image: str,
    command: list[str],
    *,
    stop_grace: int = SERVING_STOP_SECONDS,
    reporter: Reporter | None = None,
    **options: Any,
) -> Iterator[ContainerHandle]:
    """Start a container and remove it on the way out, whatever happens (see :func:`running_all`)."""
    with running_all(adapter, [Start(image, command, options)], stop_grace=stop_grace, reporter=reporter) as handles:
        yield handles[0]


@contextmanager
def running_all(
    adapter: DockerAdapter,
    starts: list[Start],
    *,
    stop_grace: int = SERVING_STOP_SECONDS,
    reporter: Reporter | None = None,
) -> Iterator[list[ContainerHandle]]:
    """Start containers and remove them all on the way out, whatever happens.

    Ctrl-C or another stop signal -> every container is stopped gracefully (SIGTERM, ``stop_grace``
    seconds, all at once), removed, and :class:`Interrupted` (exit 128 + the signal's number) is raised.
    No container is started once a stop signal has arrived."""
    stopping = signals.received()
    if stopping is not None:
        raise Interrupted(f"interrupted by {signals.describe(stopping)}; no container started", signum=stopping)
    name = ", ".join(str(start.options.get("name") or start.image) for start in starts)
    handles: list[ContainerHandle] = []
    try:
        for start in starts:
            with signals.held():  # a signal now is raised once the container is known, so that it is removed
                handles.append(adapter.run(start.image, start.command, **start.options))
        yield handles
    except KeyboardInterrupt as exc:
        if handles:
            stop_all_gracefully(handles, stop_grace, reporter, name)
        signum = signals.signum_of(exc)
        raise Interrupted(
            f"interrupted by {signals.describe(signum)}; the local container"
            f"{'s were' if len(starts) > 1 else ' was'} stopped and removed",
            signum=signum,
            hint="Run the command again to start over.",
        ) from None
    finally:
        with signals.held():
            for handle in handles:
                handle.remove()


@contextmanager
def own_network(adapter: DockerAdapter, name: str, labels: dict[str, str]) -> Iterator[NetworkHandle]:
    """A network with no route out (:meth:`DockerAdapter.create_network`) made for a job's containers, and
    removed on the way out, whatever happens: enter it before starting them, so it goes after they do."""
    with signals.held():
        network = adapter.create_network(name, labels=labels)
    try:
        yield network
    finally:
        with signals.held():
            network.remove()


class LogPump:
    """Follows a container's log: every line to the reporter (unless ``quiet`` says it is noise) and to
    ``on_line``, the last lines kept for error messages."""

    def __init__(
        self,
        handle: ContainerHandle,
        reporter: Reporter,
        source: str,
        on_line: Callable[[str], None] | None = None,
        quiet: Callable[[str], bool] | None = None,
    ):
        self.handle = handle
        self.reporter = reporter
        self.source = source
        self.on_line = on_line
        self.quiet = quiet
        self.tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._thread = threading.Thread(target=self._pump, name=f"logs-{source}", daemon=True)

    def start(self) -> LogPump:
        self._thread.start()
        return self

    def follow(self) -> None:
        """Follow in the calling thread (so Ctrl-C reaches it) until the container exits."""
        for line in self.handle.log_lines():
            self.handle_line(line)

    def _pump(self) -> None:
        try:
            for line in self.handle.log_lines():
                self.handle_line(line)
        except Exception as exc:  # the container vanished under us: the caller reports the real cause
            self.tail.append(f"(log stream ended: {exc})")

    def handle_line(self, line: str) -> None:
        self.tail.append(line)
        if not (self.quiet and self.quiet(line)):
            self.reporter.log(self.source, line)
        if self.on_line:
            self.on_line(line)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def tail_text(self) -> str:
        return "\n".join(self.tail)
