"""Starting a serving container locally and waiting until it is healthy, as SageMaker hosting does.

Shared by batch transform, ``smbyo serve --local`` and ``validate --local``: the model directory is mounted
read-only at /opt/ml/model, port 8080 is published on the loopback interface only, and readiness is
``GET /ping`` answering 200 within 2 s, before the start-up health check timeout runs out (SageMaker's
rules and their sources: :mod:`sm_byo.local.health`). While the server starts, nginx answers 503; once the
runtime answers that the model could not be loaded, that is final, so it fails at once instead of waiting
out the timeout.
"""

from __future__ import annotations

import time
from pathlib import Path

from sm_byo.docker import ContainerHandle
from sm_byo.errors import JobFailed
from sm_byo.local.containers import LogPump
from sm_byo.local.health import PING_TIMEOUT_SECONDS
from sm_byo.local.http import ContainerClient, NoAnswer

CONTAINER_PORT = "8080/tcp"
MODEL_MOUNT = "/opt/ml/model"
# The runtime's /ping error when load_model failed (sm_byo/runtime/serving.py, ModelState.load).
LOAD_FAILED_PREFIX = "model could not be loaded"
POLL_SECONDS = 0.1


def model_volume(model_dir: Path) -> dict[str, dict[str, str]]:
    return {str(model_dir): {"bind": MODEL_MOUNT, "mode": "ro"}}


def loopback_port(port: int | None) -> dict[str, int | tuple[str, int | None] | None]:
    """Publish 8080 on 127.0.0.1 only (``None``: a free port the kernel picks)."""
    return {CONTAINER_PORT: ("127.0.0.1", port)}


class StartupTimedOut(JobFailed):
    """/ping did not answer 200 (within 2 s) before the start-up health check timeout ran out."""


def _not_ready(handle: ContainerHandle, pump: LogPump, why: str, kind: type[JobFailed] = JobFailed) -> JobFailed:
    tail = pump.tail_text()
    return kind(
        f"the serving container did not become healthy: {why}"
        + (f"\n--- last lines of its log ---\n{tail}" if tail else ""),
        hint="Check that predictor.py's load_model(model_dir) works with this model (see the log above)."
        if kind is JobFailed
        else "Load less at start-up and keep /ping cheap; a model that needs longer to load needs a longer "
        "ContainerStartupHealthCheckTimeoutInSeconds on SageMaker (locally: "
        "--container-startup-health-check-timeout, up to 3600 s).",
        details={"container": handle.id[:12]},
    )


def wait_until_healthy(handle: ContainerHandle, pump: LogPump, startup_timeout: float) -> str:
    """Poll /ping until it answers 200 within 2 s; returns the base URL (``http://127.0.0.1:PORT``).

    ``startup_timeout`` is SageMaker's ContainerStartupHealthCheckTimeoutInSeconds: past it the container
    counts as failed (:class:`StartupTimedOut`), as an endpoint's instance launch fails.
    """
    deadline = time.monotonic() + startup_timeout
    client: ContainerClient | None = None
    while time.monotonic() < deadline:
        if not handle.running():
            raise _not_ready(handle, pump, "it exited")
        if client is None:
            port = handle.host_port(CONTAINER_PORT)
            client = ContainerClient(f"http://127.0.0.1:{port}") if port else None
        if client is not None:
            try:
                answer = client.ping(PING_TIMEOUT_SECONDS)
            except NoAnswer:
                answer = None
            if answer is not None and answer.status == 200:
                client.close()
                return client.url
            if answer is not None and answer.error().startswith(LOAD_FAILED_PREFIX):
                raise _not_ready(handle, pump, f"/ping answered {answer.status}: {answer.error()}")
        time.sleep(POLL_SECONDS)
    raise _not_ready(
        handle,
        pump,
        f"/ping did not answer 200 (within {PING_TIMEOUT_SECONDS:.0f} s) before the start-up health check "
        f"timeout of {startup_timeout:.0f} s",
        StartupTimedOut,
    )
