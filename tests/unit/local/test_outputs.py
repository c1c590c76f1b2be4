"""Results in a directory the user names: temporary names until complete, and nothing of the user's replaced."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sm_byo.errors import UsageError
from sm_byo.local.http import ContainerClient
from sm_byo.local.outputs import RECORD_NAME, OutputDirectory
from sm_byo.local.transform import (
    Batch,
    BatchFailed,
    OrderedWriter,
    Sender,
    TransformSettings,
    _Counts,
    _Progress,
    _run_batches,
    _Work,
    list_inputs,
    refuse_foreign_outputs,
)
from sm_byo.reporting import RecordingReporter
from tests.conftest import EXAMPLE_DIR, run_cli

SETTINGS = TransformSettings("text/csv", "text/csv", "Line", "SingleRecord", 1, 1)


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status, payload = (400, b'{"error": "bad row"}') if b"bad" in body else (200, b"out:" + body)
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _inputs(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "in"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _transform(root: Path, out: Path, url: str) -> list[Path]:
    inputs = list_inputs(root)
    refuse_foreign_outputs(inputs, out)
    sender = Sender(ContainerClient(url), SETTINGS, 10)
    work = _Work(out, "Line", True, None, OutputDirectory(out, "--output"))
    return _run_batches(inputs, SETTINGS, sender, RecordingReporter(), _Progress(0), work, _Counts())


def _listing(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def test_a_failed_transform_leaves_no_partial_out_under_a_final_name(tmp_path: Path, server: str) -> None:
    root = _inputs(tmp_path, {"a.csv": "1\n2\n", "b/c.csv": "3\nbad\n4\n", "d.csv": "5\n"})
    out = tmp_path / "out"
    with pytest.raises(BatchFailed):
        _transform(root, out, server)
    # a.csv was done before the failure (kept, complete, as SageMaker keeps finished outputs); b/c.csv's
    # partial answers were in a temporary file, now removed; d.csv was never started
    assert _listing(out) == [RECORD_NAME, "a.csv.out"]
    assert (out / "a.csv.out").read_text() == "out:1\nout:2\n"


def test_a_rerun_replaces_the_outputs_of_an_earlier_run(tmp_path: Path, server: str) -> None:
    root = _inputs(tmp_path, {"a.csv": "1\n", "b/c.csv": "2\n"})
    out = tmp_path / "out"
    _transform(root, out, server)
    (root / "a.csv").write_text("9\n")
    assert _transform(root, out, server) == [out / "a.csv.out", out / "b/c.csv.out"]
    assert (out / "a.csv.out").read_text() == "out:9\n"
    assert _listing(out) == [RECORD_NAME, "a.csv.out", "b/c.csv.out"]  # no temporary file left


def test_outputs_smbyo_did_not_write_are_refused_before_anything_runs(tmp_path: Path) -> None:
    root = _inputs(tmp_path, {"a.csv": "1\n", "b/c.csv": "2\n", "d.csv": "3\n"})
    out = tmp_path / "out"
    (out / "b").mkdir(parents=True)
    (out / "b" / "c.csv.out").write_text("my own predictions")
    (out / "d.csv.out").mkdir()  # a directory where an output goes cannot be replaced either
    with pytest.raises(UsageError) as caught:
        refuse_foreign_outputs(list_inputs(root), out)
    assert caught.value.exit_code == 2
    assert "2 file(s) smbyo did not write: b/c.csv.out, d.csv.out" in caught.value.message
    assert "--output" in caught.value.message and "another --output" in str(caught.value.hint)
    assert (out / "b" / "c.csv.out").read_text() == "my own predictions"


def test_a_recorded_name_now_holding_a_link_is_refused(tmp_path: Path) -> None:
    """The record says smbyo wrote a.csv.out, but a link is there now: replacing it is not smbyo's call."""
    out = tmp_path / "out"
    results = OutputDirectory(out, "--output")
    results.claim("a.csv.out")
    (tmp_path / "elsewhere").write_text("x")
    (out / "a.csv.out").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match=r"a\.csv\.out"):
        OutputDirectory(out, "--output").refuse_foreign(["a.csv.out"])


def test_the_record_survives_junk_and_lists_each_name_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / RECORD_NAME).write_text('not json\n42\n"a.csv.out"\n')
    results = OutputDirectory(out, "--output")
    assert results.recorded() == {"a.csv.out"}
    results.claim("a.csv.out")
    results.claim("b.csv.out")
    lines = (out / RECORD_NAME).read_text().splitlines()
    assert [json.loads(line) for line in lines[2:]] == ["a.csv.out", "b.csv.out"]


def test_the_writer_keeps_the_final_name_empty_until_the_file_is_done(tmp_path: Path) -> None:
    root = _inputs(tmp_path, {"a.csv": "1\n", "b.csv": "2\n"})
    out = tmp_path / "out"
    writer = OrderedWriter(list_inputs(root), out)
    writer.write(Batch(0, 1, 1, 1, b"1\n"), b"p1")
    assert not (out / "a.csv.out").exists()
    assert [p.name for p in out.iterdir() if p.name.endswith(".partial")] != []  # written under a temporary name
    writer.write(Batch(1, 1, 1, 1, b"2\n"), b"p2")  # the next file's first answer completes a.csv.out
    assert (out / "a.csv.out").read_text() == "p1\n"
    writer.close()  # the job failed: b.csv.out's partial answers go
    assert _listing(out) == [RECORD_NAME, "a.csv.out"]


def test_transform_refuses_foreign_outputs_before_docker_is_contacted(tmp_path: Path) -> None:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"not read: the job never starts")
    out = tmp_path / "predictions"
    out.mkdir()
    (out / "iris.csv.out").write_text("my own")
    result = run_cli(
        "transform", "--local", "--model", str(model), "--input", "data/transform", "--output", str(out),
        cwd=EXAMPLE_DIR, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "iris.csv.out" in result.stderr
    assert (out / "iris.csv.out").read_text() == "my own"


@pytest.mark.parametrize("name", ["model.tar.gz", "output.tar.gz", "model.tar.gz.previous"])
def test_train_refuses_results_it_did_not_write_before_docker_is_contacted(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"my own model")
    result = run_cli(
        "train", "--local", "--data", "training=data/training", "--out", str(tmp_path),
        cwd=EXAMPLE_DIR, env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert name in result.stderr and "--out" in result.stderr
    assert (tmp_path / name).read_bytes() == b"my own model"
