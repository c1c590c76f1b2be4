"""Starting a serving container locally and waiting until it is healthy, as SageMaker hosting does.

Shared by batch transform and ``smbyo serve --local``: the model directory is mounted read-only at
/opt/ml/model, port 8080 is published on the loopback interface only, and readiness is ``GET /ping``
answering 200. While the server starts, nginx answers 503; once the runtime answers that the model
could not be loaded, that is final, so it fails at once instead of waiting out the timeout.
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

from sm_byo.docker import ContainerHandle
from sm_byo.errors import JobFailed
from sm_byo.local.containers import LogPump

CONTAINER_PORT = "8080/tcp"
MODEL_MOUNT = "/opt/ml/model"
READY_TIMEOUT_SECONDS = 120.0
# The runtime's /ping error when load_model failed (sm_byo/runtime/serving.py, ModelState.load).
LOAD_FAILED_PREFIX = "model could not be loaded"
POLL_SECONDS = 0.1


def model_volume(model_dir: Path) -> dict[str, dict[str, str]]:
    return {str(model_dir): {"bind": MODEL_MOUNT, "mode": "ro"}}


def loopback_port(port: int | None) -> dict[str, int | tuple[str, int | None] | None]:
    """Publish 8080 on 127.0.0.1 only (``None``: a free port the kernel picks)."""
    return {CONTAINER_PORT: ("127.0.0.1", port)}


def _not_ready(handle: ContainerHandle, pump: LogPump, why: str) -> JobFailed:
    tail = pump.tail_text()
    return JobFailed(
        f"the serving container did not become healthy: {why}"
        + (f"\n--- last lines of its log ---\n{tail}" if tail else ""),
        hint="Check that predictor.py's load_model(model_dir) works with this model (see the log above).",
        details={"container": handle.id[:12]},
    )


def _json_error(response: requests.Response) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return str(payload.get("error")) if isinstance(payload, dict) and payload.get("error") else None


def wait_until_healthy(handle: ContainerHandle, pump: LogPump, timeout: float = READY_TIMEOUT_SECONDS) -> str:
    """Poll /ping until 200; returns the base URL (``http://127.0.0.1:PORT``)."""
    deadline = time.monotonic() + timeout
    url: str | None = None
    with requests.Session() as session:
        while time.monotonic() < deadline:
            if not handle.running():
                raise _not_ready(handle, pump, "it exited")
            if url is None:
                port = handle.host_port(CONTAINER_PORT)
                url = f"http://127.0.0.1:{port}" if port else None
            if url:
                try:
                    response = session.get(f"{url}/ping", timeout=2)
                except requests.RequestException:
                    response = None
                if response is not None and response.status_code == 200:
                    return url
                error = _json_error(response) if response is not None else None
                if error and error.startswith(LOAD_FAILED_PREFIX):
                    raise _not_ready(handle, pump, f"/ping answered {response.status_code}: {error}")  # type: ignore[union-attr]
            time.sleep(POLL_SECONDS)
    raise _not_ready(handle, pump, f"/ping did not answer 200 within {timeout:.0f} s")


def container_error(response: requests.Response, limit: int = 1000) -> str:
    """The message of a 4xx/5xx from the serving container: its JSON ``error``, else the start of the body."""
    try:
        payload = response.json()
        if isinstance(payload, dict) and payload.get("error"):
            return str(payload["error"])
    except ValueError:
        pass
    return response.text.strip()[:limit] or response.reason
