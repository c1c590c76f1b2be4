"""/ping timed under /invocations load, against a real local HTTP server (no Docker)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sm_byo.local.ping_load import PingUnderLoad, measure_ping_under_load, percentile

STATE = {"ping_delay": 0.0, "ping_status": 200, "invocations": 0}
LOCK = threading.Lock()


class _Server(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        time.sleep(STATE["ping_delay"])
        self._answer(int(STATE["ping_status"]), b"")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.002)
        with LOCK:
            STATE["invocations"] += 1
        self._answer(200 if self.headers["Content-Type"] == "text/csv" else 415, b"label\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    STATE.update(ping_delay=0.0, ping_status=200, invocations=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (50.0, 99.0, 100.0)
    assert percentile([3.0], 0.99) == 3.0
    assert math.isnan(percentile([], 0.5))


def test_pings_are_timed_while_the_invocations_keep_coming(url: str) -> None:
    result = measure_ping_under_load(url, b"1,2\n", content_type="text/csv", seconds=0.6, concurrency=3, interval=0.02)
    assert result.concurrency == 3 and result.body_bytes == 4
    assert len(result.ping_seconds) >= 5 and not result.ping_failures
    assert result.invocations_ok == STATE["invocations"] > 20 and not result.invocation_errors
    assert result.passed() and 0 < result.p50 <= result.p99 <= result.max < 2
    summary = result.summary()
    assert "while 3 clients kept /invocations busy" in summary and "p99" in summary and "0 over 2 s" in summary


def test_a_slow_ping_fails_and_is_measured_not_just_counted(url: str) -> None:
    STATE["ping_delay"] = 0.12
    result = measure_ping_under_load(url, b"1,2\n", content_type="text/csv", seconds=0.4, concurrency=2)
    assert result.ping_seconds and min(result.ping_seconds) >= 0.12
    assert result.passed(limit=2.0) and not result.passed(limit=0.1)
    assert result.slow(0.1) == len(result.ping_seconds)


def test_a_ping_that_is_not_200_fails(url: str) -> None:
    STATE["ping_status"] = 503
    result = measure_ping_under_load(url, b"1,2\n", content_type="text/csv", seconds=0.3, concurrency=1)
    assert not result.passed() and result.ping_failures[0].startswith("HTTP 503 after")


def test_invocation_errors_are_reported(url: str) -> None:
    result = measure_ping_under_load(url, b"1,2\n", content_type="application/x-nope", seconds=0.3, concurrency=2)
    assert result.invocations_ok == 0 and result.invocation_errors.get("HTTP 415", 0) > 0
    assert "/invocations errors:" in result.summary()


def test_no_ping_measured_is_no_pass() -> None:
    assert not PingUnderLoad(seconds=1.0, concurrency=1, body_bytes=1).passed()
