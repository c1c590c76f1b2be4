"""invoke --local against a real HTTP server: the answer, the container's error, nobody listening."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sm_byo.errors import EnvironmentProblem, WorkFailed
from sm_byo.local.invoke import invoke_url


class _Model(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/invocations" or not body.strip():
            status, payload, kind = 400, json.dumps({"error": "request body is empty"}).encode(), "application/json"
        else:
            echo = {
                "accept": self.headers.get("Accept"),
                "custom": self.headers.get("X-Amzn-SageMaker-Custom-Attributes"),
            }
            status, payload, kind = 200, json.dumps(echo).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_answer_and_headers_go_through(url: str) -> None:
    response = invoke_url(
        url, b"1,2,3,4\n", content_type="text/csv", accept="application/json", custom_attributes="k=v"
    )
    assert response.status == 200
    assert json.loads(response.body) == {"accept": "application/json", "custom": "k=v"}
    assert response.to_dict()["content_type"] == "application/json"


def test_an_error_answer_raises_with_the_container_message(url: str) -> None:
    with pytest.raises(WorkFailed) as caught:
        invoke_url(url, b"  ", content_type="text/csv")
    assert caught.value.exit_code == 1
    assert "HTTP 400: request body is empty" in caught.value.message


def test_nobody_listening_is_an_environment_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EnvironmentProblem) as caught:
        invoke_url(f"http://127.0.0.1:{port}", b"1\n", content_type="text/csv")
    assert caught.value.exit_code == 3
    assert "not running" in caught.value.message
