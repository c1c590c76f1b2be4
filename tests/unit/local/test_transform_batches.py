"""Batch transform mechanics against a real HTTP server: splitting, packing, ordering, failures."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sm_byo.errors import JobFailed, UsageError
from sm_byo.local.http import ContainerClient
from sm_byo.local.outputs import OutputDirectory
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
    batches,
    list_inputs,
    merge_settings,
)
from sm_byo.reporting import RecordingReporter


def _settings(**overrides: object) -> TransformSettings:
    values: dict[str, object] = dict(
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        strategy="MultiRecord",
        max_payload_mb=1,
        concurrency=4,
    )
    values.update(overrides)
    return TransformSettings(**values)  # type: ignore[arg-type]


class _Echo(BaseHTTPRequestHandler):
    """Answers each line with ``out:<line>`` after a random delay (so answers finish out of order)."""

    seen: list[int] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(len(body))
        time.sleep(random.uniform(0, 0.01))
        if b"bad" in body:
            payload = json.dumps({"error": "could not convert 'bad' to a number"}).encode()
            self.send_response(400)
        else:
            payload = b"".join(b"out:" + line + b"\n" for line in body.splitlines())
            self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Echo.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _inputs(tmp_path: Path, rows: dict[str, int]) -> Path:
    root = tmp_path / "input"
    for name, count in rows.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{name}-{i},{'x' * 40}\n" for i in range(count)))
    return root


def _run(tmp_path: Path, url: str, root: Path, settings: TransformSettings) -> tuple[list[Path], _Progress]:
    inputs = list_inputs(root)
    progress = _Progress(total_bytes=sum(i.path.stat().st_size for i in inputs))
    sender = Sender(ContainerClient(url), settings, 10)
    work = _Work(tmp_path / "out", "Line", True, None, OutputDirectory(tmp_path / "out", "--output"))
    outputs = _run_batches(inputs, settings, sender, RecordingReporter(), progress, work, _Counts())
    return outputs, progress


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_outputs_are_complete_and_in_input_order(tmp_path: Path, server: str, strategy: str) -> None:
    sizes = {"a.csv": 40_000, "b/c.csv": 3, "d.csv": 0} if strategy == "MultiRecord" else {"a.csv": 120, "b/c.csv": 3}
    root = _inputs(tmp_path, sizes)
    outputs, progress = _run(tmp_path, server, root, _settings(strategy=strategy))
    assert [p.relative_to(tmp_path / "out").as_posix() for p in outputs] == [f"{name}.out" for name in sorted(sizes)]
    for name in sizes:
        expected = [f"out:{line}" for line in (root / name).read_text().splitlines()]
        assert (tmp_path / "out" / f"{name}.out").read_text().splitlines() == expected
    assert progress.records == sum(sizes.values())
    if strategy == "MultiRecord":
        assert progress.requests > 1 and max(_Echo.seen) <= 1024 * 1024  # packed up to MaxPayloadInMB
    else:
        assert progress.requests == progress.records


def test_a_refused_batch_fails_with_its_record_range_and_the_container_message(tmp_path: Path, server: str) -> None:
    root = _inputs(tmp_path, {"a.csv": 10})
    lines = (root / "a.csv").read_text().splitlines()
    lines[6] = "bad,row"
    (root / "a.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(BatchFailed) as caught:
        _run(tmp_path, server, root, _settings(strategy="SingleRecord"))
    assert (caught.value.batch.first_line, caught.value.batch.last_line, caught.value.status) == (7, 7, 400)
    assert caught.value.message == "could not convert 'bad' to a number"


def test_blank_lines_are_not_records_and_none_split_sends_whole_files(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "f.csv").write_bytes(b"1\n\n2\n  \n3")
    inputs = list_inputs(root)
    multi = list(batches(inputs, _settings()))
    assert [(b.first_line, b.last_line, b.records, b.body) for b in multi] == [(1, 5, 3, b"1\n2\n3\n")]
    whole = list(batches(inputs, _settings(split_type="None")))
    assert [(b.records, b.body) for b in whole] == [(1, b"1\n\n2\n  \n3")]


def test_a_record_larger_than_the_payload_limit_fails_naming_the_line(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "f.csv").write_bytes(b"small\n" + b"x" * (1024 * 1024 + 1) + b"\n")
    with pytest.raises(Exception, match=r"f.csv line 2: a record is larger than MaxPayloadInMB \(1 MB\)"):
        list(batches(list_inputs(root), _settings()))


def test_flags_win_over_the_container_and_the_container_over_defaults() -> None:
    container = {"BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 2, "MaxConcurrentTransforms": 3}
    common = dict(content_type="text/csv", accept="text/csv", split_type="Line")
    from_container = merge_settings(container, strategy=None, max_payload_mb=None, concurrency=None, **common)
    assert (from_container.strategy, from_container.max_payload_mb, from_container.concurrency) == (
        "SingleRecord",
        2,
        3,
    )
    flags = merge_settings(container, strategy="MultiRecord", max_payload_mb=0, concurrency=8, **common)
    assert (flags.strategy, flags.max_payload_mb, flags.max_payload_bytes, flags.concurrency) == (
        "MultiRecord",
        0,
        None,
        8,
    )
    defaults = merge_settings({}, strategy=None, max_payload_mb=None, concurrency=None, **common)
    assert (defaults.strategy, defaults.max_payload_mb, defaults.concurrency) == ("MultiRecord", 6, 1)


@pytest.mark.parametrize(
    "answer",
    [
        {"MaxPayloadInMB": -1},
        {"MaxPayloadInMB": 101},
        {"MaxPayloadInMB": "6"},
        {"MaxPayloadInMB": 6.5},
        {"MaxPayloadInMB": True},
        {"MaxConcurrentTransforms": 0},
        {"MaxConcurrentTransforms": None},
        {"BatchStrategy": "ALL_AT_ONCE"},
    ],
)
def test_a_container_answer_outside_sagemakers_bounds_fails_the_job_naming_it(answer: dict[str, object]) -> None:
    common = dict(content_type="text/csv", accept="text/csv", split_type="Line")
    with pytest.raises(JobFailed) as failed:
        merge_settings(answer, strategy=None, max_payload_mb=None, concurrency=None, **common)
    (key,) = answer
    assert f"{key}={answer[key]!r}" in failed.value.message


def test_a_request_value_makes_the_containers_answer_irrelevant() -> None:
    common = dict(content_type="text/csv", accept="text/csv", split_type="Line")
    settings = merge_settings(
        {"MaxPayloadInMB": -1, "MaxConcurrentTransforms": 0, "BatchStrategy": "?"},
        strategy="SingleRecord", max_payload_mb=4, concurrency=2, **common,
    )  # fmt: skip
    assert (settings.strategy, settings.max_payload_mb, settings.concurrency) == ("SingleRecord", 4, 2)


def test_missing_or_empty_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        list_inputs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no files"):
        list_inputs(tmp_path / "empty")


def test_only_routine_access_lines_are_kept_out_of_the_live_log() -> None:
    from sm_byo.local.transform import is_routine_access_line

    ok = '172.17.0.1 - - [24/Nov/2026:01:24:09 +0000] "POST /invocations HTTP/1.1" 200 10 "-" "python-requests/2.34.2"'
    assert is_routine_access_line(ok)
    assert not is_routine_access_line(ok.replace('" 200 ', '" 400 '))
    assert not is_routine_access_line("model could not be loaded from /opt/ml/model: ValueError")


def test_s3_locations_are_refused_with_what_to_do(tmp_path: Path) -> None:
    from sm_byo.local.transform import transform_local
    from sm_byo.manifest import LoadedManifest, Manifest

    loaded = LoadedManifest(manifest=Manifest(name="algo"), path=tmp_path / "smbyo.yaml")
    with pytest.raises(UsageError, match=r"--model s3://b/model\.tar\.gz: a local transform"):
        transform_local(
            loaded, RecordingReporter(), model="s3://b/model.tar.gz", input=str(tmp_path), output=str(tmp_path)
        )


def test_hidden_files_are_inputs_like_objects_under_an_s3_prefix(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / ".cache").mkdir(parents=True)
    for name in ("a.csv", ".hidden.csv", ".cache/b.csv"):
        (root / name).write_text("1\n")
    assert [item.relative for item in list_inputs(root)] == [".cache/b.csv", ".hidden.csv", "a.csv"]


def test_assemble_with_line_ends_every_answer_with_a_newline_and_none_writes_them_as_received(tmp_path: Path) -> None:
    source = tmp_path / "in" / "a.json"
    source.parent.mkdir()
    source.write_text("{}\n{}\n")
    inputs = list_inputs(source.parent)
    for assemble, expected in (("Line", b'{"p":1}\n{"p":2}\n'), ("None", b'{"p":1}{"p":2}')):
        writer = OrderedWriter(inputs, tmp_path / assemble, assemble)
        for number, answer in ((1, b'{"p":1}'), (2, b'{"p":2}')):
            writer.write(Batch(0, number, number, 1, b"{}\n"), answer)
        assert writer.finish() == [tmp_path / assemble / "a.json.out"]
        assert (tmp_path / assemble / "a.json.out").read_bytes() == expected
