"""The model server app: in-process with Flask's test client, and one real gunicorn over real HTTP.

The predictor here is a tiny stand-in written to a temp dir (a threshold on the feature sum), so the
tests need neither scikit-learn nor Docker; the container tests cover the example model end to end.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.exceptions import BadRequest
from werkzeug.test import TestResponse

from sm_byo.runtime.serving import create_app

REPO = Path(__file__).resolve().parents[3]
GUNICORN_CONF = REPO / "sm_byo" / "templates" / "container" / "smbyo" / "gunicorn_conf.py"
PREDICTOR = """
import json
import os

import numpy as np


def load_model(model_dir):
    with open(os.path.join(model_dir, "model.json")) as handle:
        return json.load(handle)


def predict(model, rows, context):
    if rows.shape[1] != model["features"]:
        raise ValueError(f"expected {model['features']} features per row, got {rows.shape[1]}")
    if context.custom_attributes == "explode":
        raise RuntimeError("boom /secret/path/model.bin")
    if context.custom_attributes == "werkzeug":
        from werkzeug.exceptions import BadRequest

        raise BadRequest("boom /secret/path/model.bin")
    if context.custom_attributes == "silent-refusal":
        raise ValueError()
    if context.custom_attributes == "nan":
        return rows.sum(axis=1) * np.nan
    if context.custom_attributes == "unencodable":
        return [object() for _ in rows]
    labels = np.where(rows.sum(axis=1) > model["threshold"], "big", "small")
    if context.custom_attributes:
        return np.array([f"{label}|{context.custom_attributes}" for label in labels])
    return labels
"""
SPEC = {
    "name": "unit",
    "code": {"train": "train.py", "predict": "predictor.py"},
    "serving": {
        "workers": 1,
        "timeout_seconds": 30,
        "content_types": ["text/csv", "application/json"],
        "accept": ["text/csv", "application/json"],
    },
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec, the stand-in predictor and a model, wired in through the runtime's SMBYO_* variables."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "predictor.py").write_text(PREDICTOR)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.json").write_text(json.dumps({"features": 2, "threshold": 10}))
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    monkeypatch.setenv("SMBYO_SPEC", str(tmp_path / "spec.json"))
    monkeypatch.setenv("SMBYO_CODE_DIR", str(tmp_path / "code"))
    monkeypatch.setenv("SMBYO_ML_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def client(home: Path) -> FlaskClient:
    return create_app().test_client()


def _post(client: FlaskClient, body: bytes, content_type: str = "text/csv", **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/invocations", data=body, headers={"Content-Type": content_type, **headers})


def test_ping_is_200_with_the_model_loaded(client: FlaskClient) -> None:
    assert client.get("/ping").status_code == 200


def test_ping_is_503_with_the_reason_when_the_model_cannot_load(home: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (home / "model" / "model.json").unlink()
    client = create_app().test_client()
    reply = client.get("/ping")
    assert reply.status_code == 503
    assert "model.json" in reply.get_json()["error"]
    assert "model could not be loaded" in capfd.readouterr().err
    assert _post(client, b"1,2\n").status_code == 503


def test_csv_in_csv_out(client: FlaskClient) -> None:
    reply = _post(client, b"1,2\n9,9\n")
    assert reply.status_code == 200
    assert reply.content_type.startswith("text/csv")
    assert reply.data == b"small\nbig\n"


def test_json_in_json_out(client: FlaskClient) -> None:
    reply = _post(client, b'{"instances": [[1, 2]]}', "application/json", Accept="application/json")
    assert reply.get_json() == {"predictions": ["small"]}


def test_custom_attributes_reach_predict(client: FlaskClient) -> None:
    reply = _post(client, b"1,2\n", **{"X-Amzn-SageMaker-Custom-Attributes": "a=1"})
    assert reply.data == b"small|a=1\n"


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status"),
    [
        (b"1,2\n", "application/x-parquet", {}, 415),
        (b"1,2\n", "text/csv", {"Accept": "image/png"}, 406),
        (b"1,2,3\n", "text/csv", {}, 400),
        (b"", "text/csv", {}, 400),
        (b"1,\xff\n", "text/csv", {}, 400),
        (b"1,x\n", "text/csv", {}, 400),
        (b"1,2\n" * (6 * 1024 * 1024 // 4 + 1), "text/csv", {}, 413),
    ],
    ids=["415", "406", "features", "empty", "utf8", "number", "413"],
)
def test_bad_requests_are_4xx_json(
    client: FlaskClient, body: bytes, content_type: str, headers: dict[str, str], status: int
) -> None:
    reply = _post(client, body, content_type, **headers)
    assert reply.status_code == status
    assert reply.get_json()["status"] == status and reply.get_json()["error"]


# What an answer must never show: a traceback, an exception's class name, an HTML error page.
LEAK = re.compile(r"Traceback|File \"|\b[A-Z][A-Za-z]*(Error|Exception|Warning)\b|(?i:<html)")


def _assert_clean_error(reply: TestResponse, status: int | None = None) -> dict[str, object]:
    assert reply.content_type == "application/json"
    answer = reply.get_json()
    assert answer["status"] == reply.status_code and answer["error"]
    assert 400 <= reply.status_code < 500 if status is None else reply.status_code == status
    assert not LEAK.search(reply.get_data(as_text=True)), reply.get_data(as_text=True)
    return answer  # type: ignore[no-any-return]


def test_a_bug_in_predict_is_a_500_without_its_details_and_the_app_goes_on(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    reply = _post(client, b"1,2\n", **{"X-Amzn-SageMaker-Custom-Attributes": "explode"})
    answer = _assert_clean_error(reply, 500)
    assert "boom" not in str(answer) and "/secret" not in str(answer)
    assert answer["error"] == (
        f"prediction failed: an internal error; the container log has the details (error id {answer['error_id']})"
    )
    log = caplog.text  # the details are in the container's log, under the same id
    assert f"error id {answer['error_id']}" in log and "RuntimeError: boom /secret/path/model.bin" in log
    assert "Traceback" in log
    assert _post(client, b"1,2\n").status_code == 200


def test_a_werkzeug_error_raised_by_predict_is_a_bug_too(client: FlaskClient) -> None:
    """Only the runtime's own RequestErrors and a ValueError are the input's fault; an HTTPException from the
    user's code is a 500 like any other exception, its text kept in the log."""
    answer = _assert_clean_error(_post(client, b"1,2\n", **{"X-Amzn-SageMaker-Custom-Attributes": "werkzeug"}), 500)
    assert "boom" not in str(answer) and answer["error"].startswith("prediction failed: an internal error")


def test_predictions_json_cannot_hold_are_a_500_and_nan_predictions_are_null(client: FlaskClient) -> None:
    reply = _post(client, b"1,2\n", **{"X-Amzn-SageMaker-Custom-Attributes": "unencodable"}, Accept="application/json")
    _assert_clean_error(reply, 500)
    reply = _post(client, b"1,2\n3,4\n", **{"X-Amzn-SageMaker-Custom-Attributes": "nan"}, Accept="application/json")
    assert reply.status_code == 200 and reply.data == b'{"predictions": [null, null]}'


def test_a_value_error_without_a_message_still_says_who_refused(client: FlaskClient) -> None:
    reply = _post(client, b"1,2\n", **{"X-Amzn-SageMaker-Custom-Attributes": "silent-refusal"})
    assert _assert_clean_error(reply, 400)["error"] == "predict refused the input without saying why"


HOSTILE = [
    (b"[" * 100_000, "application/json"),
    (b"[[" + b"1" * 5000 + b", 1]]", "application/json"),
    (b"[[" + b"9" * 400 + b", 1]]", "application/json"),
    (b"[[1e400, 1]]", "application/json"),
    (b"[[NaN, 1]]", "application/json"),
    (b"[[true, false]]", "application/json"),
    (b'[["1", "2"]]', "application/json"),
    (b"[[null, 1]]", "application/json"),
    (b"[[[1, 2]]]", "application/json"),
    (b'{"instances": [[1, 2]], "instances": [[3, 4]]}', "application/json"),
    (b'{"instances": {"a": 1}}', "application/json"),
    (b"[[], []]", "application/json"),
    (b"[]", "application/json"),
    (b"\xef\xbb\xbf\xef\xbb\xbf[[1, 2]]", "application/json"),  # a second BOM is data
    (b"1,2\n", "application/json"),
    (b'"' + b"1" * 200_000 + b'",1\n', "text/csv"),
    (b"1," + b"2" * 200_000 + b"x\n", "text/csv"),
    (b"1e400,1\n", "text/csv"),
    (b"nan,1\n", "text/csv"),
    (b"-inf,1\n", "text/csv"),
    (b"1,2\x00\n", "text/csv"),
    ("\uff11,2\n".encode(), "text/csv"),
    (b"1,2\r\n3\r\n", "text/csv"),
    (b"[[1, 2]]", "text/csv"),
    (b"\xff\xfe1,2", "text/csv"),
    (b"1,2\n", "text/csv; charset=utf-16"),
    (b"1,2\n", "application/xml"),
    (b",".join([b"1"] * 300_000) + b"\n", "text/csv"),  # a huge width: the model's ValueError
    (b"1,2\n" * 10 + b"\n" * 100_000 + b"1,2,3\n", "text/csv"),  # the bad row after long blank lines
]


@pytest.mark.parametrize(("body", "content_type"), HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_bodies_are_4xx_json_and_the_app_goes_on(client: FlaskClient, body: bytes, content_type: str) -> None:
    _assert_clean_error(_post(client, body, content_type, Accept="application/json"))
    assert _post(client, b"1,2\n").data == b"small\n"


def test_a_value_error_in_decode_input_is_a_400_and_another_exception_a_500(home: Path) -> None:
    predictor = home / "code" / "predictor.py"
    predictor.write_text(
        predictor.read_text()
        + "\n\ndef decode_input(body, content_type):\n"
        + "    if body == b'bug':\n        raise KeyError('secret-key-name')\n"
        + "    raise ValueError('rows must be protobuf')\n"
    )
    client = create_app().test_client()
    assert _assert_clean_error(_post(client, b"1,2\n"), 400)["error"] == "rows must be protobuf"
    assert "secret-key-name" not in str(_assert_clean_error(_post(client, b"bug"), 500))


def test_errors_outside_invocations_are_json_too(home: Path) -> None:
    """Werkzeug's HTTP errors (HTML by default) and any exception in another route answer JSON."""
    app = create_app()

    def bad_request() -> None:
        raise BadRequest("the request line is malformed")

    def bug() -> None:
        raise KeyError("secret-key-name")

    app.add_url_rule("/bad", view_func=bad_request)
    app.add_url_rule("/bug", view_func=bug)
    client = app.test_client()
    assert _assert_clean_error(client.get("/bad"), 400)["error"] == "the request line is malformed"
    assert "secret-key-name" not in str(_assert_clean_error(client.get("/bug"), 500))


def test_execution_parameters_follow_the_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "4")
    monkeypatch.setenv("SAGEMAKER_BATCH_STRATEGY", "SINGLE_RECORD")
    monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", "2")
    reply = create_app().test_client().get("/execution-parameters")
    assert reply.get_json() == {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 2}


def test_execution_parameters_advertise_the_enforced_body_limit(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", raising=False)
    assert create_app().test_client().get("/execution-parameters").get_json()["MaxPayloadInMB"] == 6
    monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", "0")
    assert create_app().test_client().get("/execution-parameters").get_json()["MaxPayloadInMB"] == 0


@pytest.mark.parametrize(("variable", "size", "status"), [("8", 7, 200), ("0", 7, 200), ("1", 2, 413), (None, 7, 413)])
def test_the_app_follows_sagemaker_max_payload_in_mb(
    home: Path, monkeypatch: pytest.MonkeyPatch, variable: str | None, size: int, status: int
) -> None:
    if variable is None:
        monkeypatch.delenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", raising=False)
    else:
        monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", variable)
    body = b"1,2\n" * (size * 1024 * 1024 // 4)
    reply = _post(create_app().test_client(), body)
    assert reply.status_code == status
    if status == 413:
        assert f"body is {len(body)} bytes" in reply.get_json()["error"]


def test_an_invalid_limit_stops_the_app_from_starting(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", "lots")
    with pytest.raises(ValueError, match="SAGEMAKER_MAX_PAYLOAD_IN_MB='lots'"):
        create_app()


def test_unknown_paths_and_methods_are_json(client: FlaskClient) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/invocations").get_json()["status"] == 405


# --- a real gunicorn over real HTTP ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def gunicorn(home: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF), "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "sm_byo.runtime.serving:create_app()"],
        cwd=REPO, env=os.environ.copy(), stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _request(port, "GET", "/ping")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_gunicorn_serves_good_and_bad_requests_and_survives(gunicorn: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = gunicorn
    assert _request(port, "POST", "/invocations", b"1,2\n9,9\n") == (200, b"small\nbig\n")
    status, body = _request(port, "POST", "/invocations", b"1,2\n" * (6 * 1024 * 1024 // 4))
    assert status == 200 and body.count(b"\n") == 6 * 1024 * 1024 // 4
    assert _request(port, "POST", "/invocations", b"1,2,3\n" * 100_000)[0] == 400
    assert _request(port, "POST", "/invocations", b"1,2\n")[0] == 200
    assert process.poll() is None


def test_gunicorn_stops_gracefully_on_sigterm(gunicorn: tuple[subprocess.Popen[bytes], int]) -> None:
    process, port = gunicorn
    assert _request(port, "GET", "/ping")[0] == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


CALLING = """

def predict(model, rows, context):  # replaces the stand-in's: it fetches something first
    import urllib.request

    target = context.custom_attributes
    if target and target.startswith("http"):
        urllib.request.urlopen(target, timeout=5)
    raise RuntimeError("boom /secret/path/model.bin")
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_network_call_in_predict_is_a_500_naming_it_and_other_bugs_stay_generic(home: Path) -> None:
    predictor = home / "code" / "predictor.py"
    predictor.write_text(predictor.read_text() + CALLING)
    client = create_app().test_client()
    port = _closed_port()
    attributes = {"X-Amzn-SageMaker-Custom-Attributes": f"http://127.0.0.1:{port}/weights"}
    answer = _assert_clean_error(_post(client, b"1,2\n", **attributes), 500)
    assert answer["cause"] == "network" and answer["endpoint"] == f"127.0.0.1:{port}"
    assert answer["error"].startswith(
        f"prediction failed: the predictor tried to open a network connection to 127.0.0.1:{port}"
    )
    assert "which buyers' containers cannot do (network isolation)" in answer["error"]
    assert "mkt-algo-model-internet-free" in answer["error"]
    other = _assert_clean_error(_post(client, b"1,2\n"), 500)  # the next request's bug is not a network call
    assert "cause" not in other and "boom" not in str(other) and "network" not in other["error"]


def test_a_load_model_that_calls_out_says_so_in_ping(home: Path) -> None:
    port = _closed_port()
    predictor = home / "code" / "predictor.py"
    predictor.write_text(
        predictor.read_text()
        + f"\n\ndef load_model(model_dir):\n    import socket\n    socket.create_connection(('127.0.0.1', {port}))\n"
    )
    reply = create_app().test_client().get("/ping")
    assert reply.status_code == 503
    answer = reply.get_json()
    assert answer["cause"] == "network"
    assert answer["error"].startswith("model could not be loaded from ")
    assert f"load_model tried to open a network connection to 127.0.0.1:{port}" in answer["error"]


def _raw(port: int, request: bytes) -> bytes:
    """Send ``request`` as written and read until the server closes (gunicorn's sync workers close after each)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def _head_and_body(answer: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}, body


def test_invocations_answers_carry_the_headers_flask_would_set(gunicorn: tuple[subprocess.Popen[bytes], int]) -> None:
    """POST /invocations is answered before Flask (serving.InvocationsFront): its status line, Content-Type
    (``; charset=utf-8`` on text types, as Flask's Response adds) and Content-Length are Flask's all the same."""
    _, port = gunicorn
    body = b"1,2\n9,9\n" * 500
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n" % len(body)
    status, headers, answer = _head_and_body(_raw(port, head + body))
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert int(headers["content-length"]) == len(answer) and answer == b"small\nbig\n" * 500
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n"
    status, headers, answer = _head_and_body(_raw(port, head + b"1,2\n"))
    assert status == "HTTP/1.1 415 UNSUPPORTED MEDIA TYPE"
    assert headers["content-type"] == "application/json"
    assert json.loads(answer)["status"] == 415 and int(headers["content-length"]) == len(answer)


def test_invocations_reads_a_chunked_body_and_other_methods_still_get_flasks_answers(
    gunicorn: tuple[subprocess.Popen[bytes], int],
) -> None:
    _, port = gunicorn
    chunked = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunked += b"4\r\n1,2\n\r\n4\r\n9,9\n\r\n0\r\n\r\n"
    status, _, answer = _head_and_body(_raw(port, chunked))
    assert (status, answer) == ("HTTP/1.1 200 OK", b"small\nbig\n")
    status, headers, answer = _head_and_body(_raw(port, b"OPTIONS /invocations HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert status == "HTTP/1.1 200 OK" and "POST" in headers["allow"]
    status, _, answer = _head_and_body(_raw(port, b"PUT /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
    assert status.startswith("HTTP/1.1 405") and json.loads(answer)["status"] == 405
