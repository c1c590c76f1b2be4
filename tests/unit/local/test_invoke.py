"""invoke --local against a real HTTP server: the answer, the container's error, nobody listening, and a
body over SageMaker's 6 MB real-time limit refused before anything is sent (local and cloud alike)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sm_byo.cloud.hosting import invoke_endpoint
from sm_byo.errors import EnvironmentProblem, UsageError, WorkFailed
from sm_byo.local.invoke import invoke_url
from sm_byo.runtime.payload import REALTIME_MAX_PAYLOAD_BYTES
from tests.conftest import run_cli

SEEN: list[tuple[str, str, int]] = []  # (method, path, Content-Length) of every request the server got


class _Model(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        SEEN.append(("POST", self.path, int(self.headers["Content-Length"])))
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
    SEEN.clear()
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


def test_a_body_over_6_mb_is_refused_before_sending(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        invoke_url(url, b"1" * (REALTIME_MAX_PAYLOAD_BYTES + 1), content_type="text/csv")
    assert caught.value.exit_code == 2
    assert "6,291,457 bytes" in caught.value.message and "6,291,456 bytes (6 MB)" in caught.value.message
    assert "smbyo transform" in (caught.value.hint or "")
    assert SEEN == []


def test_a_body_of_exactly_6_mb_is_sent(url: str) -> None:
    invoke_url(url, b"1" * REALTIME_MAX_PAYLOAD_BYTES, content_type="text/csv")
    assert SEEN == [("POST", "/invocations", REALTIME_MAX_PAYLOAD_BYTES)]


def test_the_cli_exits_2_and_no_request_reaches_the_server(url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = tmp_path / "big.csv"
    body.write_bytes(b"5.1,3.5,1.4,0.2\n" * (7 * 1024 * 1024 // 16))
    result = run_cli("invoke", "--local", url, "--body", str(body))
    assert result.returncode == 2, result.stderr
    assert f"{7 * 1024 * 1024:,} bytes" in result.stderr and "6,291,456" in result.stderr
    assert "smbyo transform" in result.stderr
    assert SEEN == []


class _RecordingAws:
    """Stands in for the AWS adapter: any InvokeEndpoint call is recorded (none may happen here)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def invoke_endpoint(self, request: dict[str, object]) -> dict[str, object]:
        self.calls.append(request)
        return {"Body": b"setosa\n", "ContentType": "text/csv"}


def test_invoke_endpoint_refuses_a_body_over_6_mb_before_calling_aws() -> None:
    aws = _RecordingAws()
    with pytest.raises(UsageError) as caught:
        invoke_endpoint("my-endpoint", b"1" * (REALTIME_MAX_PAYLOAD_BYTES + 1), content_type="text/csv", aws=aws)  # type: ignore[arg-type]
    assert "endpoint my-endpoint" in caught.value.message
    assert aws.calls == []
    invoke_endpoint("my-endpoint", b"1" * REALTIME_MAX_PAYLOAD_BYTES, content_type="text/csv", aws=aws)  # type: ignore[arg-type]
    assert len(aws.calls) == 1


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_local_container_is_reached_directly_whatever_the_proxy_settings(
    url: str, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """Payloads for a container on this machine never go through a proxy (they could be data)."""
    monkeypatch.setenv(variable, "http://127.0.0.1:9")  # nothing listens there: a proxied request would fail
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    response = invoke_url(url, b"1,2,3,4\n", content_type="text/csv")
    assert response.status == 200 and SEEN == [("POST", "/invocations", 8)]
