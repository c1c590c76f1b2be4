"""``smbyo serve --local``: the serving container in the foreground, like SageMaker hosting on a laptop.

Logs stream until Ctrl-C (or SIGTERM, or SIGHUP: ``sm_byo.signals``); then the container gets SIGTERM
(the 30 s SageMaker allows for a clean shutdown; a second signal kills it at once) and is removed, and the
command ends with exit 0: a stop signal is how a server is meant to end. A container that dies on its
own, or a model that cannot be loaded (its /ping says so), is a failure (exit 1) with the reason.
"""

from __future__ import annotations

import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_byo import signals
from sm_byo.docker import DockerAdapter, connect
from sm_byo.errors import SmByoError, WorkFailed
from sm_byo.local.archive import model_directory
from sm_byo.local.containers import SERVING_STOP_SECONDS, LogPump, container_name, stop_gracefully
from sm_byo.local.health import STARTUP_HEALTH_CHECK_DEFAULT_SECONDS
from sm_byo.local.serving import (
    ISOLATION_OFF_WARNING,
    ServingContainer,
    ServingStart,
    serving_containers,
    wait_until_healthy,
)
from sm_byo.manifest import LoadedManifest
from sm_byo.reporting import Reporter
from sm_byo.specs.names import local_image_tag

STOP_TIMEOUT_SECONDS = SERVING_STOP_SECONDS
KILLED_EXIT_CODE = 137  # 128 + SIGKILL: a second stop signal had the container killed


@dataclass
class ServeResult:
    url: str
    image: str
    container: str
    stopped_by: str
    exit_code: int
    seconds: float
    network_isolation: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "image": self.image,
            "container": self.container,
            "stopped_by": self.stopped_by,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 2),
            "network_isolation": self.network_isolation,
        }


@dataclass
class _Health:
    """What the ping thread found out: a reason when the model can never be served."""

    failure: SmByoError | None = None


def _watch_health(
    container: ServingContainer, pump: LogPump, reporter: Reporter, url: str, health: _Health, startup_timeout: float
) -> None:
    """Announce when /ping answers 200; when the model cannot be loaded, or /ping is not healthy within
    ``startup_timeout``, stop the container (that is final, as on SageMaker: serving a model that is not
    there helps nobody) so the foreground ends with the reason."""
    started = time.monotonic()
    try:
        wait_until_healthy(container, pump, startup_timeout)
    except SmByoError as exc:
        health.failure = exc
        container.handle.stop(timeout=5)
        return
    except Exception:  # the container went away while we polled: the foreground reports it
        return
    reporter.status(f"{url} (POST {url}/invocations; Ctrl-C stops)", "healthy", time.monotonic() - started)


def _stopped_by(exc: BaseException) -> str:
    """``Ctrl-C`` (SIGINT, as the result always said), else the signal's name (``SIGTERM``, ``SIGHUP``)."""
    signum = signals.signum_of(exc)
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def _follow_until_stopped(
    container: ServingContainer, reporter: Reporter, name: str, url: str, health: _Health, startup_timeout: float
) -> tuple[int, str, LogPump]:
    """Stream the log until the container exits or a stop signal, which stops it gracefully (SIGTERM)."""
    handle = container.handle
    pump = LogPump(handle, reporter, "serve")
    threading.Thread(
        target=_watch_health, args=(container, pump, reporter, url, health, startup_timeout), name="ping", daemon=True
    ).start()
    try:
        pump.follow()
        return handle.wait(), "container exited", pump
    except KeyboardInterrupt as exc:
        stopped_by = _stopped_by(exc)
        if not stop_gracefully(handle, STOP_TIMEOUT_SECONDS, reporter, name):
            return KILLED_EXIT_CODE, stopped_by, pump
        return handle.wait(timeout=5), stopped_by, pump


def serve_local(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    image: str | None = None,
    model: str | Path,
    port: int = 8080,
    startup_timeout: float = STARTUP_HEALTH_CHECK_DEFAULT_SECONDS,
    network_isolation: bool = True,
    docker: DockerAdapter | None = None,
) -> ServeResult:
    """Serve ``model`` on 127.0.0.1:``port`` until Ctrl-C, the container exits, or the model fails to load
    (or /ping is not healthy within ``startup_timeout`` seconds: ContainerStartupHealthCheckTimeoutInSeconds).
    ``network_isolation``: run it as buyers' endpoints run it (``sm_byo.local.serving``); off only to debug."""
    adapter = docker or connect()
    image = image or local_image_tag(loaded.manifest, "inference")
    adapter.inspect_image(image)
    url = f"http://127.0.0.1:{port}"
    name = container_name("serve")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smbyo-local-serve-", ignore_cleanup_errors=True) as scratch:
        model_dir = model_directory(Path(model), Path(scratch))
        where = "with network isolation, as buyers run it" if network_isolation else "WITHOUT network isolation"
        reporter.step(f"Serving {model} with {image} on {url} (container {name}, {where})")
        if not network_isolation:
            reporter.warn(ISOLATION_OFF_WARNING)
        health = _Health()
        labels = {"dev.smbyo.kind": "serve", "dev.smbyo.port": str(port)}
        start = ServingStart(image, model_dir, name, labels, port=port)
        with serving_containers(adapter, [start], isolated=network_isolation, reporter=reporter) as containers:
            exit_code, stopped_by, pump = _follow_until_stopped(
                containers[0], reporter, name, url, health, startup_timeout
            )
    by_signal = stopped_by != "container exited"
    if health.failure is not None and not by_signal:
        raise health.failure
    if not by_signal and exit_code != 0:
        raise WorkFailed(
            f"the serving container exited with code {exit_code}:\n{pump.tail_text()}",
            hint="See the log above: the model server could not start (nginx/gunicorn) or load_model crashed.",
        )
    return ServeResult(url, image, name, stopped_by, exit_code, time.monotonic() - started, network_isolation)
