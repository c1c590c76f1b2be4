"""DataProcessing record by record, as SageMaker documents it: the input filter on CSV columns and JSON objects,
the join with the input record (CSV: input columns then output columns; JSON: SageMakerOutput, or
SageMakerInput/SageMakerOutput when the input is not an object), the output filter on the joined record, and
hostile records. Then through a real HTTP server with the executor's batching and ordered writing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sm_byo.errors import JobFailed, UsageError
from sm_byo.local.dataprocessing import RecordError, RecordProcessing, split_answer
from sm_byo.local.http import ContainerClient
from sm_byo.local.outputs import OutputDirectory
from sm_byo.local.transform import Sender, TransformSettings, _Counts, _Progress, _run_batches, _Work, list_inputs
from sm_byo.reporting import RecordingReporter

CSV, JSON = "text/csv", "application/json"


def processing(content_type: str = CSV, accept: str = CSV, **request: str) -> RecordProcessing:
    compiled = RecordProcessing.from_request(request, content_type, accept)
    assert compiled is not None
    return compiled


def test_defaults_leave_every_record_alone() -> None:
    assert RecordProcessing.from_request({}, CSV, CSV) is None
    defaults = {"InputFilter": "$", "JoinSource": "None", "OutputFilter": "$"}
    assert RecordProcessing.from_request(defaults, CSV, CSV) is None


@pytest.mark.parametrize(
    ("path", "sent"),
    [("$[1:]", b"5.1,3.5,1.4,0.2"), ("$[0,2]", b"id-7,3.5"), ("$[1:3]", b"5.1,3.5,1.4"), ("$[-1]", b"0.2")],
)
def test_the_input_filter_selects_csv_columns(path: str, sent: bytes) -> None:
    assert processing(InputFilter=path).to_send(b"id-7,5.1,3.5,1.4,0.2\r\n") == sent


def test_csv_columns_are_read_and_written_as_rfc_4180_fields() -> None:
    step = processing(InputFilter="$[0,2]")
    assert step.to_send(b'"Smith, J",1,"say ""hi"""\n') == b'"Smith, J","say ""hi"""'


def test_the_input_filter_selects_from_json_objects() -> None:
    step = processing(JSON, JSON, InputFilter="$.features")
    assert step.to_send(b'{"id": 7, "features": [5.1, 3.5]}\n') == b"[5.1,3.5]"


def test_csv_join_is_the_input_columns_then_the_output_columns_then_the_output_filter() -> None:
    """The AWS example: record [1,2,3] and label [1] -> [1,2,3,1]; the id kept, features dropped by the filter."""
    assert processing(JoinSource="Input").to_write(b"1,2,3\n", b"1") == b"1,2,3,1"
    step = processing(InputFilter="$[1:]", JoinSource="Input", OutputFilter="$[0,-1]")
    assert step.to_send(b"id-7,5.1,3.5\n") == b"5.1,3.5"
    assert step.to_write(b"id-7,5.1,3.5\n", b"Iris-setosa") == b"id-7,Iris-setosa"
    assert processing(JoinSource="Input").to_write(b"a,b\n", b"x,y") == b"a,b,x,y"  # every output column


def test_json_join_adds_sagemaker_output_to_an_object_and_wraps_anything_else() -> None:
    step = processing(JSON, JSON, JoinSource="Input")
    assert json.loads(step.to_write(b'{"key": 1}', b'{"label": 1}')) == {"key": 1, "SageMakerOutput": {"label": 1}}
    assert json.loads(step.to_write(b"[1, 2]", b"[0]")) == {"SageMakerInput": [1, 2], "SageMakerOutput": [0]}
    assert json.loads(step.to_write(b"3", b'"x"')) == {"SageMakerInput": 3, "SageMakerOutput": "x"}
    filtered = processing(JSON, JSON, InputFilter="$.features", JoinSource="Input",
                          OutputFilter="$['id','SageMakerOutput']")  # fmt: skip
    line = filtered.to_write(b'{"id": 7, "features": [5.1]}', b'{"predictions": ["a"]}')
    assert json.loads(line) == {"id": 7, "SageMakerOutput": {"predictions": ["a"]}}


def test_without_a_join_the_output_filter_reads_the_output_record() -> None:
    assert processing(OutputFilter="$[1]").to_write(b"ignored", b"a,b,c") == b"b"
    assert processing(JSON, JSON, OutputFilter="$.predictions[0]").to_write(b"", b'{"predictions": ["a"]}') == b'"a"'


@pytest.mark.parametrize(
    ("content_type", "request_", "record", "why"),
    [
        (JSON, {"InputFilter": "$.features"}, b"not json", "not JSON"),
        (JSON, {"InputFilter": "$.features"}, b"[1, 2]", "needs an object"),
        (JSON, {"InputFilter": "$.features"}, b'{"id": 1}', "no key 'features'"),
        (JSON, {"InputFilter": "$.features"}, b"[" * 100_000, "nested too deeply|not JSON"),
        (JSON, {"InputFilter": "$.features"}, b"\xff\xfe", "not UTF-8"),
        (CSV, {"InputFilter": "$[7]"}, b"1,2,3", "index 7 is outside the array of 3"),
        (CSV, {"InputFilter": "$[1:9]"}, b"1,2,3", "index 9 is outside"),
        (CSV, {"InputFilter": "$[1]"}, b'1,"unclosed', "not a CSV row"),
    ],
)
def test_hostile_records_are_record_errors(
    content_type: str, request_: dict[str, str], record: bytes, why: str
) -> None:
    with pytest.raises(RecordError, match=why):
        processing(content_type, content_type, **request_).to_send(record)


def test_an_output_that_is_not_json_cannot_be_joined() -> None:
    with pytest.raises(RecordError, match="not JSON"):
        processing(JSON, JSON, JoinSource="Input").to_write(b'{"a": 1}', b"<html>")


def test_an_unsupported_expression_in_a_request_is_a_usage_error_naming_the_field() -> None:
    with pytest.raises(UsageError, match=r"DataProcessing.OutputFilter '\$\.\.x'"):
        RecordProcessing.from_request({"OutputFilter": "$..x"}, JSON, JSON)


def test_an_answer_is_split_into_one_output_record_per_input_record() -> None:
    assert split_answer(b"a\nb\n", 2) == [b"a", b"b"]
    assert split_answer(b"a\nb", 2) == [b"a", b"b"]
    assert split_answer(b"a\nb\n", 3) is None
    assert split_answer(b'{"predictions": ["a", "b"]}', 2) is None


# --- through the executor's batching, a real HTTP server and the ordered writer ------------------------


class _Labeller(BaseHTTPRequestHandler):
    """Answers each CSV line with ``label-<number of columns>-<first column>`` (so a test sees what was sent)."""

    one_line = False  # answer a whole request with one line (as a JSON {"predictions": [...]} answer is)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        rows = [line.split(b",") for line in body.splitlines()]
        payload = b"".join(b"label-%d-%s\n" % (len(row), row[0]) for row in rows)
        if type(self).one_line:
            payload = payload.replace(b"\n", b" ").rstrip() + b"\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def labeller() -> Iterator[str]:
    _Labeller.one_line = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Labeller)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _run(tmp_path: Path, url: str, step: RecordProcessing, strategy: str = "MultiRecord") -> Path:
    root = tmp_path / "in"
    root.mkdir()
    (root / "a.csv").write_text("".join(f"id-{n},{n}.1,{n}.2,{n}.3\n" for n in range(1, 501)))
    (root / "b.csv").write_text("id-x,9.1,9.2,9.3\n\nid-y,8.1,8.2,8.3\n")  # a blank line is not a record
    inputs = list_inputs(root)
    settings = TransformSettings(CSV, CSV, "Line", strategy, 0, 3)
    out = tmp_path / "out"
    work = _Work(out, "Line", True, step, OutputDirectory(out, "--output"))
    sender = Sender(ContainerClient(url), settings, 10)
    _run_batches(inputs, settings, sender, RecordingReporter(), _Progress(0), work, _Counts())
    return out


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_filter_join_and_output_filter_give_each_input_line_its_joined_line_in_order(
    tmp_path: Path, labeller: str, strategy: str
) -> None:
    step = processing(InputFilter="$[1:]", JoinSource="Input", OutputFilter="$[0,-1]")
    out = _run(tmp_path, labeller, step, strategy)
    # three columns sent (the id dropped), the id and the label written
    assert (out / "a.csv.out").read_text().splitlines() == [f"id-{n},label-3-{n}.1" for n in range(1, 501)]
    assert (out / "b.csv.out").read_text() == "id-x,label-3-9.1\nid-y,label-3-8.1\n"


def test_a_record_the_filter_does_not_fit_fails_the_job_naming_its_line(tmp_path: Path, labeller: str) -> None:
    step = processing(InputFilter="$[4]")
    with pytest.raises(JobFailed, match=r"a.csv line 1: InputFilter \$\[4\]: index 4 is outside the array of 4"):
        _run(tmp_path, labeller, step)
    assert not (tmp_path / "out" / "a.csv.out").exists()


def test_a_join_needs_one_output_line_per_record_or_the_job_fails(tmp_path: Path, labeller: str) -> None:
    _Labeller.one_line = True
    with pytest.raises(JobFailed, match=r"answered 1 line\(s\) for 500 record\(s\)"):
        _run(tmp_path, labeller, processing(JoinSource="Input"))
    assert not (tmp_path / "out" / "a.csv.out").exists()


def test_with_split_type_none_a_json_file_is_one_record_whatever_its_lines() -> None:
    step = processing(JSON, JSON, InputFilter="$.features", OutputFilter="$.predictions")
    assert step.to_send(b'{\n  "id": 1,\n  "features": [[1, 2], [3, 4]]\n}\n') == b"[[1,2],[3,4]]"
    assert step.to_write(b"", b'{\n "predictions": ["a", "b"]\n}') == b'["a","b"]'
