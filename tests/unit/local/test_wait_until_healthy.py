"""wait_until_healthy against a real local HTTP server standing in for the container: the start-up window."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sm_byo.errors import JobFailed
from sm_byo.local.serving import CONTAINER_PORT, ServingContainer, StartupTimedOut, wait_until_healthy
from tests.conftest import run_cli

STATE: dict[str, Any] = {"healthy_at": 0.0, "body": b'{"error": "starting", "status": 503}'}


class _Container(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        healthy = time.monotonic() >= STATE["healthy_at"]
        body = b"" if healthy else STATE["body"]
        self.send_response(200 if healthy else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Handle:
    """The parts of ContainerHandle that wait_until_healthy uses."""

    def __init__(self, port: int):
        self.port, self.id = port, "0123456789abcdef"

    def running(self) -> bool:
        return True

    def host_port(self, container_port: str) -> int:
        assert container_port == CONTAINER_PORT
        return self.port


class _Pump:
    def tail_text(self) -> str:
        return ""


@pytest.fixture
def handle() -> Iterator[_Handle]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Container)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield _Handle(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def test_healthy_within_the_window_returns_the_url(handle: _Handle) -> None:
    STATE.update(healthy_at=time.monotonic() + 0.5, body=b'{"error": "starting", "status": 503}')
    assert wait_until_healthy(ServingContainer(handle, handle), _Pump(), 5.0) == f"http://127.0.0.1:{handle.port}"  # type: ignore[arg-type]


def test_not_healthy_within_the_window_is_a_start_up_timeout(handle: _Handle) -> None:
    STATE.update(healthy_at=time.monotonic() + 60, body=b'{"error": "starting", "status": 503}')
    began = time.monotonic()
    with pytest.raises(StartupTimedOut) as raised:
        wait_until_healthy(ServingContainer(handle, handle), _Pump(), 0.6)  # type: ignore[arg-type]
    assert 0.6 <= time.monotonic() - began < 3
    assert "start-up health check timeout of 1 s" in raised.value.message
    assert "--container-startup-health-check-timeout" in (raised.value.hint or "")


def test_a_model_that_failed_to_load_fails_at_once_not_as_a_timeout(handle: _Handle) -> None:
    STATE.update(healthy_at=time.monotonic() + 60, body=b'{"error": "model could not be loaded from x", "status": 503}')
    with pytest.raises(JobFailed) as raised:
        wait_until_healthy(ServingContainer(handle, handle), _Pump(), 30.0)  # type: ignore[arg-type]
    assert not isinstance(raised.value, StartupTimedOut)
    assert "model could not be loaded from x" in raised.value.message


@pytest.mark.parametrize("command", ["serve", "validate"])
@pytest.mark.parametrize("seconds", ["59", "3601"])
def test_the_flag_takes_sagemakers_range(command: str, seconds: str) -> None:
    extra = ["--model", "m.tar.gz"] if command == "serve" else []
    result = run_cli(command, "--local", *extra, "--container-startup-health-check-timeout", seconds)
    assert result.returncode == 2
    assert "60<=x<=3600" in result.stderr
