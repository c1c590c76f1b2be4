"""Running a local SageMaker container: its name, log streaming, and removal that always happens."""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sm_byo.docker import ContainerHandle, DockerAdapter
from sm_byo.errors import Interrupted
from sm_byo.reporting import Reporter

CONTAINER_PREFIX = "smbyo-local-"
LOG_TAIL_LINES = 40


def container_name(kind: str) -> str:
    """A unique, recognisable container name (``smbyo-local-train-1a2b3c4d``)."""
    return f"{CONTAINER_PREFIX}{kind}-{secrets.token_hex(4)}"


@contextmanager
def running(adapter: DockerAdapter, image: str, command: list[str], **options: Any) -> Iterator[ContainerHandle]:
    """Start a container and remove it on the way out, whatever happens (Ctrl-C -> Interrupted, exit 130)."""
    handle = adapter.run(image, command, **options)
    try:
        yield handle
    except KeyboardInterrupt:
        handle.remove()
        raise Interrupted(
            "interrupted; the local container was stopped and removed",
            hint="Run the command again to start over.",
        ) from None
    finally:
        handle.remove()


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
