"""The relay that publishes an isolated serving container's port (sm_byo/runtime/relay.py), run as smbyo runs
it (``python3 -c SOURCE TARGET_HOST TARGET_PORT LISTEN_PORT``) between real sockets on this machine."""

from __future__ import annotations

import hashlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from sm_byo.runtime import relay

MB = 1024 * 1024


class _Digest(BaseHTTPRequestHandler):
    """Answers a POST with the SHA-256 of its body, and the body itself when asked to echo it."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = body if self.path == "/echo" else hashlib.sha256(body).hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_relay(target_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    source = Path(relay.__file__).read_text(encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-c", source, "127.0.0.1", str(target_port), str(port)], stderr=subprocess.PIPE
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.05)
    raise AssertionError("the relay never listened")


@pytest.fixture
def target() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Digest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def relayed(target: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    process, port = _start_relay(target)
    yield process, f"http://127.0.0.1:{port}"
    if process.poll() is None:
        process.kill()
        process.wait()


def test_concurrent_large_bodies_cross_the_relay_unchanged(relayed: tuple[subprocess.Popen[bytes], str]) -> None:
    _, url = relayed
    bodies = [bytes([index]) * (24 * MB + index) for index in range(6)]

    def send(body: bytes) -> str:
        return requests.post(f"{url}/digest", data=body, timeout=120).text

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        digests = list(pool.map(send, bodies))
    assert digests == [hashlib.sha256(body).hexdigest() for body in bodies]
    echoed = requests.post(f"{url}/echo", data=bodies[1], timeout=120).content
    assert echoed == bodies[1]


def test_a_target_that_does_not_listen_looks_like_a_closed_port() -> None:
    process, port = _start_relay(_free_port())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = client.recv(100)
            except ConnectionResetError:  # closed with our request unread: a reset instead of an end
                answer = b""
            assert answer == b""  # no answer: /ping is not healthy yet, as with nothing listening
    finally:
        process.kill()
        process.wait()


def test_sigterm_ends_the_relay_with_exit_0(relayed: tuple[subprocess.Popen[bytes], str]) -> None:
    process, url = relayed
    assert requests.post(f"{url}/digest", data=b"x", timeout=30).status_code == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
