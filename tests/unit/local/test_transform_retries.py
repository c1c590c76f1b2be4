"""Transform retries as SageMaker's ModelClientConfig.InvocationsMaxRetries: against a real HTTP server that
fails the first attempts of every batch (5xx, a connection reset, an answer cut off half-way, a 4xx)."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sm_byo.local.http import ContainerClient
from sm_byo.local.outputs import OutputDirectory
from sm_byo.local.transform import (
    BatchFailed,
    Sender,
    TransformSettings,
    _batch_failure,
    _Counts,
    _Progress,
    _read_requests,
    _run_batches,
    _Work,
    list_inputs,
)
from sm_byo.reporting import RecordingReporter

FAST = (0.01,)


class Flaky(BaseHTTPRequestHandler):
    """Fails the first ``failures`` attempts of each distinct body the way ``mode`` says, then echoes
    ``out:<line>`` for every line. ``attempts`` counts the requests each body got."""

    mode = "500"
    failures = 2
    attempts: Counter[bytes] = Counter()
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.attempts[body] += 1
            attempt = self.attempts[body]
        answer = b"".join(b"out:" + line + b"\n" for line in body.splitlines())
        if attempt > self.failures:
            self._answer(200, answer)
        elif self.mode == "500":
            self._answer(500, json.dumps({"error": "worker crashed"}).encode())
        elif self.mode == "400":
            self._answer(400, json.dumps({"error": "could not convert 'x' to a number"}).encode())
        elif self.mode == "reset":  # RST without a byte of answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif self.mode == "partial":  # the status, the headers and half of the answer, then the connection drops
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer[: len(answer) // 2])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

    def _answer(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the connection this handler closed on purpose
            super().finish()

    def log_message(self, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    Flaky.attempts = Counter()
    httpd = QuietServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _settings(concurrency: int = 2) -> TransformSettings:
    return TransformSettings("text/csv", "text/csv", "Line", "SingleRecord", 1, concurrency)


def _input(tmp_path: Path, rows: int) -> Path:
    root = tmp_path / "in"
    root.mkdir()
    (root / "a.csv").write_text("".join(f"row-{i}\n" for i in range(rows)))
    return root


def _transform(tmp_path: Path, url: str, rows: int, max_retries: int) -> tuple[Sender, RecordingReporter, _Progress]:
    inputs = list_inputs(_input(tmp_path, rows))
    reporter = RecordingReporter()
    settings = _settings()
    sender = Sender(
        ContainerClient(url), settings, 10, max_retries=max_retries, backoff=FAST, reporter=reporter, inputs=inputs
    )
    progress = _Progress(total_bytes=sum(item.path.stat().st_size for item in inputs))
    work = _Work(tmp_path / "out", "Line", True, None, OutputDirectory(tmp_path / "out", "--output"))
    _run_batches(inputs, settings, sender, reporter, progress, work, _Counts())
    return sender, reporter, progress


@pytest.mark.parametrize("mode", ["500", "reset", "partial"])
def test_no_answer_and_5xx_are_retried_and_only_the_answer_that_succeeded_is_written(
    tmp_path: Path, flaky: str, mode: str
) -> None:
    Flaky.mode, Flaky.failures = mode, 2
    sender, reporter, progress = _transform(tmp_path, flaky, rows=5, max_retries=3)
    assert (tmp_path / "out" / "a.csv.out").read_text() == "".join(f"out:row-{i}\n" for i in range(5))
    assert progress.requests == 5  # batches, each written once
    assert sorted(Flaky.attempts.values()) == [3] * 5  # two failures and the success, per batch
    assert sender.retries == 10
    warnings = [str(args[0]) for args in reporter.of_kind("warn")]
    assert len(warnings) == 10
    assert any(w.startswith("a.csv line 1: ") and "retry 1 of 3 in 0.01 s" in w for w in warnings)
    if mode == "500":
        assert all("HTTP 500 (worker crashed)" in w for w in warnings)
    else:
        assert all("no answer" in w for w in warnings)


def test_when_the_retries_are_used_up_the_job_fails_naming_the_batch(tmp_path: Path, flaky: str) -> None:
    Flaky.mode, Flaky.failures = "500", 10
    with pytest.raises(BatchFailed) as caught:
        _transform(tmp_path, flaky, rows=1, max_retries=3)
    assert (caught.value.status, caught.value.attempts) == (500, 4)
    assert list(Flaky.attempts.values()) == [4]  # the first attempt and InvocationsMaxRetries more

    class Pump:
        def tail_text(self) -> str:
            return "Traceback: worker crashed"

    error = _batch_failure("job-1", caught.value, list_inputs(tmp_path / "in"), Pump())  # type: ignore[arg-type]
    assert error.message.startswith("transform job job-1 failed at a.csv line 1 (HTTP 500 after 4 attempts)")
    assert "worker crashed" in error.message and error.details["attempts"] == 4


def test_a_4xx_is_the_container_refusing_the_input_and_is_not_retried(tmp_path: Path, flaky: str) -> None:
    Flaky.mode, Flaky.failures = "400", 1
    with pytest.raises(BatchFailed) as caught:
        _transform(tmp_path, flaky, rows=1, max_retries=3)
    assert (caught.value.status, caught.value.attempts) == (400, 1)
    assert list(Flaky.attempts.values()) == [1]


def test_invocations_max_retries_0_sends_each_batch_once(tmp_path: Path, flaky: str) -> None:
    Flaky.mode, Flaky.failures = "reset", 1
    with pytest.raises(BatchFailed) as caught:
        _transform(tmp_path, flaky, rows=1, max_retries=0)
    assert (caught.value.status, caught.value.attempts) == (None, 1)


def test_a_normal_transform_sends_one_request_per_batch(tmp_path: Path, flaky: str) -> None:
    Flaky.mode, Flaky.failures = "500", 0
    sender, reporter, progress = _transform(tmp_path, flaky, rows=20, max_retries=3)
    assert sum(Flaky.attempts.values()) == progress.requests == 20
    assert sender.retries == 0 and reporter.of_kind("warn") == []


def test_stop_ends_a_backoff_wait_at_once(flaky: str) -> None:
    """A job being stopped (a failed batch elsewhere, a stop signal) does not wait out other batches' retries."""
    Flaky.mode, Flaky.failures = "500", 10
    sender = Sender(ContainerClient(flaky), _settings(), 10, max_retries=3, backoff=(60.0,))
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            sender.send(_batch(b"row\n"))
        except BatchFailed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    time.sleep(0.3)  # the first attempt failed; the 60 s backoff began
    began = time.monotonic()
    sender.stop()
    thread.join(timeout=10)
    assert time.monotonic() - began < 5 and len(outcome) == 1


def _batch(body: bytes) -> Any:
    from sm_byo.local.transform import Batch

    return Batch(file_index=0, first_line=1, last_line=1, records=1, body=body)


def _requests(tmp_path: Path, model_client_config: dict[str, int] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    source = _input(tmp_path, 1).as_uri()
    transform: dict[str, Any] = {
        "TransformJobName": "j",
        "ModelName": "m",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}}},
        "TransformOutput": {"S3OutputPath": (tmp_path / "out").as_uri()},
    }
    if model_client_config is not None:
        transform["ModelClientConfig"] = model_client_config
    model = {"ModelName": "m", "PrimaryContainer": {"Image": "img", "ModelDataUrl": source}}
    return transform, model


@pytest.mark.parametrize(
    ("config", "retries", "timeout"),
    [
        (None, 3, 600.0),  # SageMaker's defaults
        ({"InvocationsMaxRetries": 0}, 0, 600.0),
        ({"InvocationsMaxRetries": 2, "InvocationsTimeoutInSeconds": 30}, 2, 30.0),
    ],
)
def test_the_executor_reads_retries_and_timeout_from_the_request(
    tmp_path: Path, config: dict[str, int] | None, retries: int, timeout: float
) -> None:
    job = _read_requests(*_requests(tmp_path, config))
    assert (job.max_retries, job.timeout) == (retries, timeout)
